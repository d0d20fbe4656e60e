"""Answers from a local Ollama server, through llama-index's Ollama LLM, plus a quick reachability probe."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import ollama

import clausewise.offline  # noqa: F401  (sets the offline env vars; llama_index is imported lazily below)
from clausewise.settings import Settings
from rag.backends.base import BackendError, Messages

if TYPE_CHECKING:
    from llama_index.core.llms import ChatMessage

DEFAULT_PORT = 11434
REACHABLE_TTL_S = 10.0

_reachable_cache: dict[str, tuple[float, tuple[bool, str]]] = {}
_reachable_lock = threading.Lock()


def ollama_base_url(host: str) -> str:
    """Normalise an OLLAMA_HOST value the way the ollama client does: `127.0.0.1` -> `http://127.0.0.1:11434`."""
    host = host.strip().rstrip("/") or f"127.0.0.1:{DEFAULT_PORT}"
    has_scheme = "://" in host
    parts = urlsplit(host if has_scheme else f"http://{host}")
    scheme = parts.scheme or "http"
    default_port = DEFAULT_PORT if not has_scheme else (443 if scheme == "https" else 80)
    hostname = parts.hostname or "127.0.0.1"
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    return f"{scheme}://{hostname}:{parts.port or default_port}{parts.path.rstrip('/')}"


def _probe(url: str, timeout: float) -> tuple[bool, str]:
    try:
        response = httpx.get(f"{url}/api/tags", timeout=timeout)
    except httpx.TimeoutException:
        return False, f"no answer within {timeout:g} s"
    except httpx.ConnectError as exc:
        return False, f"cannot connect ({exc})"
    except httpx.HTTPError as exc:
        return False, f"request failed ({exc})"
    if response.status_code != 200:
        return False, f"GET /api/tags answered HTTP {response.status_code}"
    try:
        models = response.json()["models"]
    except (ValueError, KeyError, TypeError):
        return False, "the server there does not answer like Ollama"
    return True, f"Ollama is running with {len(models)} model(s) installed"


def ollama_reachable(host: str, timeout: float = 0.5) -> tuple[bool, str]:
    """Whether an Ollama server answers GET /api/tags at `host`, and why (not); cached ~10 s per host."""
    url = ollama_base_url(host)
    with _reachable_lock:
        hit = _reachable_cache.get(url)
        if hit and time.monotonic() - hit[0] < REACHABLE_TTL_S:
            return hit[1]
    result = _probe(url, timeout)
    with _reachable_lock:
        _reachable_cache[url] = (time.monotonic(), result)
    return result


def clear_reachable_cache() -> None:
    """Forget cached reachability results (for tests and after the user starts Ollama)."""
    with _reachable_lock:
        _reachable_cache.clear()


class OllamaGenerator:
    """Chat with `settings.ollama_model` on `settings.ollama_host`, sending num_ctx and num_predict explicitly."""

    name = "ollama"

    def __init__(self, settings: Settings) -> None:
        # llama-index takes ~1.5 s to import: keep it off the path of `ollama_reachable` and the extractive answerer.
        from llama_index.llms.ollama import Ollama

        self.model = settings.ollama_model
        self.host = ollama_base_url(settings.ollama_host)
        self.timeout = settings.ollama_timeout
        self.num_ctx = settings.ollama_num_ctx
        self.label = f"Ollama {self.model} at {self.host}"
        self.prompt_budget = self.num_ctx - settings.max_tokens
        self.context_setting = "CLAUSEWISE_OLLAMA_NUM_CTX"
        self._llm = Ollama(
            model=self.model,
            base_url=self.host,
            request_timeout=self.timeout,
            context_window=self.num_ctx,  # set, so llama-index never calls /api/show to guess it
            temperature=settings.temperature,
            additional_kwargs={"num_ctx": self.num_ctx, "num_predict": settings.max_tokens},
        )

    def generate(self, messages: Messages) -> str:
        chat = self._chat_messages(messages)
        try:
            response = self._llm.chat(chat)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one readable BackendError
            raise self._error(exc) from exc
        return (response.message.content or "").strip()

    def stream(self, messages: Messages) -> Iterator[str]:
        chat = self._chat_messages(messages)
        try:
            for part in self._llm.stream_chat(chat):
                if part.delta:
                    yield part.delta
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from exc

    @staticmethod
    def _chat_messages(messages: Messages) -> list[ChatMessage]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def _error(self, exc: Exception) -> BackendError:
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                return BackendError(
                    f"Ollama at {self.host} does not have the model '{self.model}'. "
                    f"Download it with `ollama pull {self.model}`, or set CLAUSEWISE_OLLAMA_MODEL."
                )
            return BackendError(f"Ollama at {self.host} reported an error: {exc.error}")
        if isinstance(exc, httpx.TimeoutException):
            return BackendError(
                f"Ollama at {self.host} did not answer within {self.timeout:g} s. The model may still be loading: "
                "try again, or raise CLAUSEWISE_OLLAMA_TIMEOUT."
            )
        if isinstance(exc, (httpx.ConnectError, ConnectionError)):
            return BackendError(
                f"Cannot connect to Ollama at {self.host}. Start it with `ollama serve` or set OLLAMA_HOST."
            )
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, json.JSONDecodeError)):
            return BackendError(f"The connection to Ollama at {self.host} dropped before the answer was complete.")
        if isinstance(exc, httpx.HTTPError):
            return BackendError(f"The request to Ollama at {self.host} failed: {exc}")
        return BackendError(f"Ollama at {self.host} failed: {type(exc).__name__}: {exc}")
