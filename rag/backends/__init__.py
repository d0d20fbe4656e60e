"""Generative answer backends (Ollama, embedded llama.cpp) and the rule that picks one."""

from __future__ import annotations

import clausewise.offline  # noqa: F401  (before the backends import xllamacpp and llama_index)
from clausewise.settings import Settings
from rag.backends.base import BackendError, Generator, Messages
from rag.backends.gguf import GgufGenerator
from rag.backends.ollama import OllamaGenerator, ollama_base_url, ollama_reachable

__all__ = [
    "BackendError",
    "Generator",
    "GgufGenerator",
    "Messages",
    "OllamaGenerator",
    "ollama_reachable",
    "select_generator",
]

BACKENDS = ("auto", "ollama", "gguf", "extractive")


def select_generator(settings: Settings, requested: str | None = None) -> tuple[Generator | None, str]:
    """The generator to answer with (None: use the extractive answerer) and a sentence saying why.

    `requested` overrides `settings.backend`. An explicitly requested backend that cannot work raises
    BackendError; "auto" never raises, it falls back from Ollama to the GGUF model to the extractive answerer.
    """
    choice = (requested or settings.backend).strip().lower()
    if choice not in BACKENDS:
        raise BackendError(f"Unknown backend '{choice}': choose one of {', '.join(BACKENDS)}.")
    if choice == "extractive":
        return None, "the extractive answerer was requested"

    host = ollama_base_url(settings.ollama_host)
    if choice == "gguf":
        generator = GgufGenerator(settings)
        return generator, f"{generator.label} was requested"

    reachable, why = ollama_reachable(settings.ollama_host)
    if choice == "ollama":
        if not reachable:
            raise BackendError(
                f"Ollama is not reachable at {host}: {why}. Start it with `ollama serve` or set OLLAMA_HOST."
            )
        generator = OllamaGenerator(settings)
        return generator, f"{generator.label} was requested ({why})"

    if reachable:
        generator = OllamaGenerator(settings)
        return generator, f"auto: {why}: using {generator.label}"
    if settings.gguf is None:
        return None, f"no Ollama server at {host} ({why}) and no GGUF configured: using the extractive answerer"
    try:
        generator = GgufGenerator(settings)
    except BackendError as exc:
        return (
            None,
            f"no Ollama server at {host} ({why}) and the GGUF model is unusable ({exc}): using the extractive answerer",
        )
    return generator, f"auto: no Ollama server at {host} ({why}): using {generator.label}"
