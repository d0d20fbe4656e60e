"""The interface every generative backend implements, and the one error type they raise."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

Messages = Sequence[Mapping[str, str]]
"""Chat messages as `{"role": ..., "content": ...}` dicts (see `rag.prompts.build_messages`)."""


class BackendError(Exception):
    """A generative backend failed; `str(error)` is a complete sentence fit to show the user."""


@runtime_checkable
class Generator(Protocol):
    """A chat model that answers messages in one piece or as a stream of text deltas."""

    name: str  # "ollama" or "gguf"
    label: str  # human-readable: which model, where
    prompt_budget: int  # most tokens a prompt may take: the model's context less the tokens its answer may use
    context_setting: str  # the setting that sets that context ("CLAUSEWISE_GGUF_CTX")

    def generate(self, messages: Messages) -> str:
        """The whole answer. Raises BackendError."""
        ...

    def stream(self, messages: Messages) -> Iterator[str]:
        """The answer as text deltas, in order. Raises BackendError while iterating."""
        ...
