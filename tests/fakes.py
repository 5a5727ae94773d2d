"""Deterministic fakes: an embedder and an OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from rag.text import content_terms


class HashEmbedder:
    """Bag of stemmed words hashed into 64 dims: similar words -> similar vectors. Fast."""

    dim = 64
    max_tokens = 256

    def __init__(self, id: str = "fake:hash-64", fail_after: int | None = None, delay: float = 0.0):
        self.id = id
        self.fail_after = fail_after  # raise after embedding this many texts (interrupt test)
        self.delay = delay  # seconds per text: a slow first build the page must show
        self.embedded = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            if self.fail_after is not None and self.embedded >= self.fail_after:
                raise KeyboardInterrupt("simulated interruption")
            for term in content_terms(text):
                h = int(hashlib.md5(term.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
            self.embedded += 1
            if self.delay:
                time.sleep(self.delay)
            if progress:
                progress(1)
        return out


@dataclass
class FakeOpenAI:
    """What the fake server does next: mode ok|500|slow|malformed|empty|truncated (the stream stops
    without finish_reason and [DONE]); chunk_delay makes it trickle."""

    mode: str = "ok"
    reply: str | Callable[[dict[str, Any]], str] = "An answer [1]."
    delay: float = 0.0
    chunk_delay: float = 0.0  # seconds between streamed pieces (to watch streaming)
    requests: list[dict[str, Any]] = field(default_factory=list)
    embed_fail: int = 0  # the next this many embedding requests get a 503 (the client retries)
    embed_delay: float = 0.0  # seconds each embedding request takes
    in_flight: int = 0
    max_in_flight: int = 0  # most embedding requests served at the same time
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for servers the tests start, or a dead one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_embedding(text: str, dim: int = 24) -> list[float]:
    """The fake server's vector for a text: deterministic, from its words."""
    vec = [0.0] * dim
    for word in text.lower().split():
        h = int(hashlib.md5(word.encode()).hexdigest(), 16)
        vec[h % dim] += 1.0 if (h >> 8) % 2 else -1.0
    return vec


def _handler(state: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _embeddings(self, body: dict[str, Any]) -> None:
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                fail = state.embed_fail > 0
                state.embed_fail -= fail
            try:
                time.sleep(state.embed_delay)
                if fail:
                    return self._send(503, b'{"error": {"message": "overloaded", "type": "server_error"}}')
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [{"object": "embedding", "index": i, "embedding": fake_embedding(t)} for i, t in enumerate(texts)]
                self._send(200, json.dumps({"object": "list", "data": data, "model": body.get("model"),
                                            "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode())
            finally:
                with state.lock:
                    state.in_flight -= 1

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            state.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if state.mode == "slow":
                time.sleep(state.delay or 5)
            if state.mode == "500":
                return self._send(500, b'{"error": {"message": "boom", "type": "server_error"}}')
            if state.mode == "malformed":
                return self._send(200, b"<html>this is not json", "text/event-stream" if body.get("stream") else "application/json")
            if self.path.endswith("/embeddings"):
                return self._embeddings(body)
            if not self.path.endswith("/chat/completions"):
                return self._send(404, b'{"error": {"message": "not found"}}')
            text = state.reply(body) if callable(state.reply) else state.reply
            if state.mode == "empty":
                text = ""
            base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body.get("model", "fake")}
            if not body.get("stream"):
                msg = {**base, "object": "chat.completion", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
                return self._send(200, json.dumps(msg).encode())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            pieces = [text[i : i + 7] for i in range(0, len(text), 7)] or [""]
            for i, piece in enumerate(pieces):
                delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
                chunk = {**base, "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                if state.chunk_delay:
                    time.sleep(state.chunk_delay)
            if state.mode == "truncated":
                self.close_connection = True
                return
            end = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


class OpenAIServer:
    """A real HTTP server speaking the chat-completions wire format, on 127.0.0.1."""

    def __init__(self) -> None:
        self.state = FakeOpenAI()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> OpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
