"""Models of a running Ollama server join the catalog as local models and answer through it."""

from __future__ import annotations

import asyncio

from support.openai_server import OpenAIStubServer

from playground.providers import ollama
from playground.services.events import ReplyDone
from playground.services.session import open_session


def test_discovery_finds_models_and_they_answer(tmp_path):
    with OpenAIStubServer() as server:
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
