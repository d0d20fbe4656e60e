"""Answers from a GGUF model run in-process by llama.cpp, through the xllamacpp package."""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# isort: off
import clausewise.offline  # noqa: F401  (sets the offline env vars; must precede xllamacpp)
import xllamacpp

# isort: on
from clausewise.settings import Settings
from rag.backends.base import BackendError, Messages

GGUF_MAGIC = b"GGUF"
THREADS = 2

_servers: dict[tuple[str, int], xllamacpp.Server] = {}
_servers_lock = threading.Lock()
_DONE = object()


def check_gguf(path: Path | str | None) -> Path:
    """The path of a readable GGUF file, or a BackendError naming what is wrong with it."""
    if path is None or str(path).strip() == "":
        raise BackendError("No GGUF model is configured: set CLAUSEWISE_GGUF (or --gguf) to a .gguf file.")
    path = Path(path).expanduser()
    if not path.is_file():
        raise BackendError(f"The GGUF model file {path} does not exist.")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise BackendError(f"The GGUF model file {path} cannot be read: {exc.strerror or exc}.") from exc
    if magic != GGUF_MAGIC:
        raise BackendError(f"The file {path} is not a GGUF model (it does not start with 'GGUF').")
    return path


def load_server(path: Path, n_ctx: int, max_tokens: int) -> xllamacpp.Server:
    """The embedded llama.cpp server for `path`, loaded once per (file, context size) and then shared."""
    key = (str(path.resolve()), n_ctx)
    with _servers_lock:
        server = _servers.get(key)
        if server is None:
            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.n_ctx = n_ctx
            params.n_predict = max_tokens
            params.n_parallel = 1
            params.cpuparams.n_threads = THREADS
            params.cpuparams_batch.n_threads = THREADS
            params.use_jinja = True  # use the chat template stored in the GGUF
            params.verbosity = -1
            params.offline = True
            params.ui = False
            params.endpoint_slots = False
            params.endpoint_metrics = False
            # The embedded server also listens on a random 127.0.0.1 port; lock it, we only call it in-process.
            params.api_keys = [secrets.token_urlsafe(32)]
            try:
                server = xllamacpp.Server(params)
            except RuntimeError as exc:
                raise BackendError(f"llama.cpp could not load the GGUF model {path}: {exc}") from exc
            _servers[key] = server
    return server


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        if error.get("type") == "exceed_context_size_error":
            return (
                f"The question and clauses need {error.get('n_prompt_tokens')} tokens but the embedded model's "
                f"context holds {error.get('n_ctx')}: raise CLAUSEWISE_GGUF_CTX or lower CLAUSEWISE_TOP_K."
            )
        error = error.get("message", error)
    return f"The embedded llama.cpp model failed: {error}"


class GgufGenerator:
    """Chat with the GGUF at `settings.gguf` in this process (n_ctx = settings.gguf_ctx, 2 threads)."""

    name = "gguf"

    def __init__(self, settings: Settings) -> None:
        self.path = check_gguf(settings.gguf)
        self.n_ctx = settings.gguf_ctx
        self.max_tokens = settings.max_tokens
        self.temperature = settings.temperature
        self.label = f"embedded llama.cpp: {self.path.name}"
        self.prompt_budget = self.n_ctx - self.max_tokens
        self.context_setting = "CLAUSEWISE_GGUF_CTX"

    def load(self) -> None:
        """Load the model now rather than on the first question."""
        self._server()

    def _server(self) -> xllamacpp.Server:
        return load_server(self.path, self.n_ctx, self.max_tokens)

    def _request(self, messages: Messages, stream: bool) -> dict[str, Any]:
        return {
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }

    def generate(self, messages: Messages) -> str:
        server = self._server()
        try:
            result = server.handle_chat_completions(self._request(messages, stream=False))
        except (RuntimeError, ValueError) as exc:
            raise BackendError(_error_text(str(exc))) from exc
        if "error" in result:
            raise BackendError(_error_text(result["error"]))
        return (result["choices"][0]["message"].get("content") or "").strip()

    def stream(self, messages: Messages) -> Iterator[str]:
        # Real token streaming: llama.cpp calls `on_chunk` from a worker thread while it decodes; the chunks
        # travel through a queue. Closing this iterator early makes the callback return True, which stops decoding.
        server = self._server()
        request = self._request(messages, stream=True)
        chunks: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            chunks.put(chunk)
            return stop.is_set()

        def run() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # noqa: BLE001 - handed to the consuming thread
                chunks.put(exc)
            finally:
                chunks.put(_DONE)

        threading.Thread(target=run, name="gguf-stream", daemon=True).start()
        try:
            while (chunk := chunks.get()) is not _DONE:
                if isinstance(chunk, Exception):
                    raise BackendError(_error_text(str(chunk))) from chunk
                if "error" in chunk:
                    raise BackendError(_error_text(chunk["error"]))
                for choice in chunk.get("choices", ()):
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        yield delta
        finally:
            stop.set()
