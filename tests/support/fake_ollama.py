"""A stand-in HTTP server speaking Ollama's API, for the integration tests.

It stands in for Ollama because no Ollama binary can run on this machine (no GPU, no internet to fetch the
binary or a model). It implements what the ollama-python client (used by llama-index) calls, with the same
JSON shapes and status codes as the real server: GET /, GET /api/version, GET /api/tags, POST /api/show and
POST /api/chat (NDJSON streaming with chunked transfer encoding, or one JSON object). It records every request,
and can be told to answer with a given text in several streamed pieces, to sleep before answering (to trip a
client timeout), or to drop the connection mid-stream. Unknown models get Ollama's 404 "try pulling it first".
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["answer", "slow", "drop"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received; `body` is the decoded JSON body ({} for none)."""

    method: str
    path: str
    body: dict[str, Any] = field(default_factory=dict)


def unused_local_url() -> str:
    """The URL of a 127.0.0.1 port nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def split_pieces(text: str, pieces: int) -> list[str]:
    """`text` cut at word boundaries into at most `pieces` non-empty parts that join back to it exactly."""
    words = re.findall(r"\s*\S+", text)
    if not words:
        return [text]
    words[-1] += text[len("".join(words)) :]
    pieces = max(1, min(pieces, len(words)))
    size, extra = divmod(len(words), pieces)
    out, start = [], 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append("".join(words[start:end]))
        start = end
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeOllama:
    """The stand-in server on 127.0.0.1 with a free port, served from a background thread; use as a context manager."""

    def __init__(
        self,
        reply: str = "Acme shares your email address with advertising partners [1].",
        *,
        pieces: int = 4,
        models: tuple[str, ...] = ("qwen2.5:3b-instruct",),
        version: str = "0.12.6",
    ) -> None:
        self.reply = reply
        self.pieces = pieces
        self.models = models
        self.version = version
        self.mode: Mode = "answer"
        self.delay_s = 0.0
        self.drop_after = 1
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
        )
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # configuration -------------------------------------------------------------------------------------------
    def answer(self, text: str, pieces: int = 4) -> None:
        """Answer every chat with `text`, streamed in `pieces` parts."""
        self.mode, self.reply, self.pieces = "answer", text, pieces

    def sleep_before_answer(self, seconds: float) -> None:
        """Wait `seconds` before sending any response header to a chat request."""
        self.mode, self.delay_s = "slow", seconds

    def drop_mid_stream(self, after_pieces: int = 1) -> None:
        """Send `after_pieces` streamed parts of a chat answer (half the JSON when not streaming), then hang up."""
        self.mode, self.drop_after = "drop", after_pieces

    # inspection ----------------------------------------------------------------------------------------------
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the POST /api/chat requests received so far."""
        with self._lock:
            return [r.body for r in self.requests if r.method == "POST" and r.path == "/api/chat"]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> FakeOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent); handlers still sleeping in "slow" mode return at once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def knows(self, model: str) -> bool:
        return model in self.models or f"{model}:latest" in self.models


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    # plumbing ------------------------------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self.fake._record(RecordedRequest(self.command, self.path, body if isinstance(body, dict) else {}))
        return body if isinstance(body, dict) else {}

    def _send(self, status: int, payload: Any, content_type: str = "application/json; charset=utf-8") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj).encode() + b"\n"
        self.wfile.write(f"{len(line):X}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()

    def _hang_up(self) -> None:
        """Close the socket in the middle of a response, like a crashed or restarted server."""
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _model_missing(self, model: str) -> None:
        self._send(404, {"error": f'model "{model}" not found, try pulling it first'})

    # routes --------------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self.fake._record(RecordedRequest("GET", self.path))
        if self.path == "/":
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/api/version":
            self._send(200, {"version": self.fake.version})
        elif self.path == "/api/tags":
            self._send(200, {"models": [_model_entry(m) for m in self.fake.models]})
        else:
            self._send(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        try:
            if self.path == "/api/chat":
                self._chat(body)
            elif self.path == "/api/show":
                self._show(body)
            else:
                self._send(404, b"404 page not found", "text/plain")
        except OSError:  # the client gave up (timeout) or we dropped the line on purpose
            self.close_connection = True

    def _show(self, body: dict[str, Any]) -> None:
        model = str(body.get("model") or body.get("name") or "")
        if not self.fake.knows(model):
            return self._model_missing(model)
        self._send(
            200,
            {
                "modelfile": f"FROM {model}",
                "parameters": "stop <|im_end|>",
                "template": "{{ .Prompt }}",
                "details": _model_entry(model)["details"],
                "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
                "capabilities": ["completion", "tools"],
                "modified_at": _now(),
            },
        )

    def _chat(self, body: dict[str, Any]) -> None:
        fake, model = self.fake, str(body.get("model", ""))
        if fake.mode == "slow" and fake._stopping.wait(fake.delay_s):
            return
        if not fake.knows(model):
            return self._model_missing(model)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        pieces = split_pieces(fake.reply, fake.pieces)
        final = {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_000_000,
            "load_duration": 1_000,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 1_000,
            "eval_count": len(pieces),
            "eval_duration": 1_000,
        }
        if not body.get("stream", True):
            whole = {**final, "message": {"role": "assistant", "content": fake.reply}}
            if fake.mode != "drop":
                return self._send(200, whole)
            data = json.dumps(whole).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            return self._hang_up()

        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, piece in enumerate(pieces):
            if fake.mode == "drop" and i >= fake.drop_after:
                return self._hang_up()
            message = {"role": "assistant", "content": piece}
            self._chunk({"model": model, "created_at": _now(), "message": message, "done": False})
        self._chunk(final)
        self.wfile.write(b"0\r\n\r\n")


def _model_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-01T00:00:00Z",
        "size": 1_929_912_432,
        "digest": "0" * 64,
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "qwen2",
            "families": ["qwen2"],
            "parameter_size": "3.1B",
            "quantization_level": "Q4_K_M",
        },
    }
