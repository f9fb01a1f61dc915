"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for provider, UI and benchmark tests.

Each request's `model` field picks a Behaviour, so one server can be healthy, slow, rate-limited
and broken at once. Every request is counted per model so tests can assert on retries, and timed
(`server.timings`) so tests can hold the app's TTFT and latency against the server's own clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    """How the server answers one model name."""

    text: str = "Hello from the test server."
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # A raw body replaces the completion entirely (an HTML error page, a JSON error object). "{auth}" in
    # it is replaced by the request's Authorization header, as careless providers echo credentials.
    body: str | None = None
    content_type: str = "text/event-stream"
    words_per_chunk: int = 1
    first_chunk_delay: float = 0.0
    chunk_delay: float = 0.0
    # Close the connection after this many content chunks, without finish_reason or [DONE].
    cut_after: int | None = None
    send_usage: bool = True
    # Seconds between the finish reason and what follows it (the usage chunk, [DONE]).
    tail_delay: float = 0.0
    # Accept the request and never answer (until the client gives up or the server stops).
    hang: bool = False
    # Extra raw SSE lines sent before the first chunk (comments, garbage).
    preamble: list[str] = field(default_factory=list)
    # "length": the model ran out of tokens (max_tokens) before it finished.
    finish_reason: str = "stop"
    # Extra fields of the final usage object (prompt_tokens_details, cache_read_input_tokens...).
    usage_extra: dict = field(default_factory=dict)
    # Replaces the usage's prompt_tokens (a server that counts its chat template).
    prompt_tokens: int | None = None
    # Each chunk's token log-probability, sent when the request asks for logprobs (cycled over the chunks).
    logprobs: list[float] | None = None
    # After this many content chunks, wait until `resume` is set (at most `hold_s`) before the rest: a
    # reply that is still streaming for exactly as long as a test needs it to, instead of for a fixed time
    # long enough on a loaded machine. Past `hold_s` the rest is sent, so a test waiting for the wrong
    # thing fails on its own assertion rather than hanging.
    hold_after: int | None = None
    resume: threading.Event = field(default_factory=threading.Event)
    hold_s: float = 20.0


@dataclass
class Timing:
    """One request as the server saw it, on its own perf_counter clock (seconds)."""

    model: str
    arrived: float
    """When its connection was accepted (each streamed response closes its connection)."""
    first_byte: float | None = None
    """When the first chunk carrying text was written (what a client's TTFT should measure)."""
    last_byte: float | None = None
    """When the last byte of the response was written."""

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_byte is None else self.first_byte - self.arrived

    @property
    def latency_s(self) -> float | None:
        return None if self.last_byte is None else self.last_byte - self.arrived


class OpenAIStubServer:
    """Start with `with OpenAIStubServer() as server:`; `server.api_base` is the /v1 URL."""

    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[dict] = []
        self.auth: list[str] = []
        """The Authorization header of each request, to check which key was sent."""
        self.timings: list[Timing] = []
        self._stop = threading.Event()
        self._httpd = _TimedHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, model: str, behaviour: Behaviour | None = None, **kwargs) -> Behaviour:
        self.behaviours[model] = behaviour or Behaviour(**kwargs)
        return self.behaviours[model]

    def __enter__(self) -> OpenAIStubServer:
        self._thread.start()
        return self

    def release(self) -> None:
        """Let every held stream go on (see Behaviour.hold_after)."""
        for behaviour in self.behaviours.values():
            behaviour.resume.set()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                if self.path == "/api/tags":  # Ollama's model listing
                    self._send_json(200, {"models": [{"name": m} for m in server.behaviours]})
                elif self.path.rstrip("/").endswith("/models"):
                    data = {"object": "list", "data": [{"id": m, "object": "model"} for m in server.behaviours]}
                    self._send_json(200, data)
                else:
                    self._send_json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                self.timing = Timing("", self.server.accepted.pop(self.client_address, time.perf_counter()))
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                model = request.get("model", "")
                self.timing.model = model
                server.timings.append(self.timing)
                server.hits[model] += 1
                server.requests.append(request)
                server.auth.append(self.headers.get("Authorization", ""))
                behaviour = server.behaviours.get(model, Behaviour())
                if self.path.rstrip("/").endswith("/embeddings") and behaviour.status == 200:
                    self._embed(request)
                    return
                if behaviour.hang:
                    server._stop.wait(60)
                    self.close_connection = True
                    return
                if behaviour.first_chunk_delay:
                    time.sleep(behaviour.first_chunk_delay)
                if behaviour.body is not None or behaviour.status != 200:
                    body = behaviour.body
                    if body is not None:
                        body = body.replace("{auth}", self.headers.get("Authorization", ""))
                    if body is None:
                        body = json.dumps({"error": {"message": f"scripted {behaviour.status}", "type": "test"}})
                    content_type = behaviour.content_type if behaviour.body else "application/json"
                    self._send_raw(behaviour.status, body, content_type, behaviour.headers)
                    return
                if request.get("stream"):
                    self._stream(request, behaviour)
                else:
                    self._complete(request, behaviour)

            def _send_raw(self, status: int, body: str, content_type: str, headers: dict[str, str]) -> None:
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if getattr(self, "timing", None) is not None:
                    self.timing.last_byte = time.perf_counter()

            def _send_json(self, status: int, data: dict) -> None:
                self._send_raw(status, json.dumps(data), "application/json", {})

            def _embed(self, request: dict) -> None:
                # Deterministic, unnormalised vectors from the text's letters: equal texts get equal vectors.
                texts = request.get("input")
                texts = [texts] if isinstance(texts, str) else texts
                data = [{"object": "embedding", "index": i,
                         "embedding": [float(sum(ord(c) for c in t if c.lower() == letter) + 1)
                                       for letter in "etaoinshr"]} for i, t in enumerate(texts)]
                self._send_json(200, {"object": "list", "data": data, "model": request.get("model"),
                                      "usage": {"prompt_tokens": 1, "total_tokens": 1}})

            def _complete(self, request: dict, behaviour: Behaviour) -> None:
                prompt_tokens = _prompt_tokens(request)
                words = behaviour.text.split(" ")
                self._send_json(200, {
                    "id": "cmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": request.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": behaviour.text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(words),
                              "total_tokens": prompt_tokens + len(words)},
                })

            def _stream(self, request: dict, behaviour: Behaviour) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.close_connection = True
                try:
                    for line in behaviour.preamble:
                        self._write(line + "\n\n")
                    words = behaviour.text.split(" ")
                    n = max(1, behaviour.words_per_chunk)
                    pieces = [" ".join(words[i:i + n]) + (" " if i + n < len(words) else "")
                              for i in range(0, len(words), n)]
                    base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": request.get("model")}
                    for index, piece in enumerate(pieces):
                        if behaviour.cut_after is not None and index >= behaviour.cut_after:
                            return
                        if index and behaviour.chunk_delay:
                            time.sleep(behaviour.chunk_delay)
                        if index == behaviour.hold_after:
                            behaviour.resume.wait(behaviour.hold_s)
                        if server._stop.is_set():
                            return
                        delta = {"content": piece} if index else {"role": "assistant", "content": piece}
                        choice = {"index": 0, "delta": delta, "finish_reason": None}
                        if behaviour.logprobs and request.get("logprobs"):
                            value = behaviour.logprobs[index % len(behaviour.logprobs)]
                            choice["logprobs"] = {"content": [{"token": piece, "logprob": value, "bytes": None,
                                                               "top_logprobs": []}]}
                        self._event({**base, "choices": [choice]})
                        if self.timing.first_byte is None:
                            self.timing.first_byte = time.perf_counter()
                    if behaviour.cut_after is not None and behaviour.cut_after >= len(pieces):
                        return
                    end = {"index": 0, "delta": {}, "finish_reason": behaviour.finish_reason}
                    self._event({**base, "choices": [end]})
                    if behaviour.tail_delay:
                        time.sleep(behaviour.tail_delay)
                    if behaviour.send_usage:
                        prompt_tokens = behaviour.prompt_tokens or _prompt_tokens(request)
                        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words),
                                 "total_tokens": prompt_tokens + len(words), **behaviour.usage_extra}
                        self._event({**base, "choices": [], "usage": usage})
                    self._write("data: [DONE]\n\n")
                    self.timing.last_byte = time.perf_counter()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _event(self, data: dict) -> None:
                self._write("data: " + json.dumps(data) + "\n\n")

            def _write(self, text: str) -> None:
                self.wfile.write(text.encode())
                self.wfile.flush()

        return Handler


class _TimedHTTPServer(ThreadingHTTPServer):
    """Notes when each connection was accepted, before a thread is started for it: on a busy machine
    the thread can start milliseconds later, and that wait is the server's, not the client's."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.accepted: dict[tuple, float] = {}

    def get_request(self):
        connection, address = super().get_request()
        self.accepted[address] = time.perf_counter()
        return connection, address


def _prompt_tokens(request: dict) -> int:
    # Deterministic and distinguishable from tiktoken's count, so tests can tell usage from estimates.
    return sum(len(str(m.get("content", "")).split()) for m in request.get("messages", [])) + 7
