"""Models of a running Ollama server join the catalog as local models and answer through it."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playground.providers import ollama
from playground.services.doctor import Check, ollama_check
from playground.services.events import ReplyDone
from playground.services.session import open_session


def test_discovery_finds_models_and_they_answer(server, tmp_path):
    server.script("llama3.2:1b", text="hi from ollama")
    root = server.api_base.removesuffix("/v1")
    found = ollama.discover(root)
    assert list(found) == ["ollama:llama3.2:1b"]
    spec = found["ollama:llama3.2:1b"]
    assert spec.model == "openai/llama3.2:1b" and spec.api_base == server.api_base
    assert "local" in spec.tags and spec.key_env is None

    session = open_session("local-only", tmp_path / "h.db")
    assert session.refresh_local_models(root) == 1
    assert session.catalog["ollama:llama3.2:1b"].available

    async def run():
        async for event in session.chat.send("hello", model="ollama:llama3.2:1b"):
            if isinstance(event, ReplyDone):
                return event.reply

    reply = asyncio.run(run())
    assert reply.status == "complete" and reply.text == "hi from ollama"
    assert reply.final.cost_usd == 0


def test_no_server_means_no_models():
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    assert ollama.discover("http://127.0.0.1:9", timeout=0.5) == {}


class _NotOllama(BaseHTTPRequestHandler):
    """A llama.cpp-style server on Ollama's port: no /api/tags, but the OpenAI model list."""

    server_version = "llama.cpp"
    sys_version = ""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        found = self.path == "/v1/models"
        body = json.dumps({"object": "list", "data": [{"id": "qwen2.5-0.5b"}]} if found else
                          {"error": "not found"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_doctor_says_what_answers_when_it_is_not_ollama():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NotOllama)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        found = ollama.probe(base)
        assert ollama.discover(base) == {}
    finally:
        httpd.shutdown()
        httpd.server_close()
    check = ollama_check(found)
    assert (check.ok, check.optional) == (False, True)
    assert check.detail == (f"a server that is not Ollama answers at {base} (HTTP 404 for /api/tags, Server: "
                            f"llama.cpp); it lists OpenAI-compatible models: qwen2.5-0.5b")
    assert f"--model qwen2.5-0.5b --api-base {base}/v1" in check.fix


def test_doctor_counts_ollama_models_and_says_when_nothing_answers(server):
    # The stub server answers /api/tags as Ollama does.
    server.script("llama3.2:1b")
    root = server.api_base.removesuffix("/v1")
    assert ollama_check(ollama.probe(root)) == Check("ollama", True, f"1 models at {root}")
    nothing = ollama_check(ollama.probe("http://127.0.0.1:9"))
    assert (nothing.ok, nothing.detail) == (True, "no server at http://127.0.0.1:9 (optional)")
