"""The export served by the real LiteLLM proxy (`litellm --config`) routes as the playground does.

One proxy for the module, on an export of a profile whose models are behaviours of the loopback test server
(the server tells models apart by the request's `model` field; each answers with its own name). Skipped when
LiteLLM's proxy dependencies are not installed (`pip install -e '.[proxy]'`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from playground.base import tokens
from playground.base.paths import bundled_profiles_dir
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.policy.export import to_litellm, to_profile_yaml, write_export
from playground.router.decide import RouteRequest, decide
from playground.router.embeddings import minilm_path
from playground.router.rules import split_tags
from playground.router.semantic import build_index
from playground.services.events import AttemptStarted
from playground.services.session import open_session
from tests.support.helpers import guarded_env
from tests.support.openai_server import OpenAIStubServer
from tests.support.proxy import MASTER_KEY, MISSING, SKIP_REASON, proxies

pytestmark = pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON)

SEMANTIC = minilm_path() is not None
MODELS = {"cheap-a": (0.1, 0.2, 1000), "cheap-b": (0.3, 0.6, None), "strong-a": (5.0, 15.0, None),
          "strong-b": (3.0, 15.0, None), "mid": (1.0, 2.0, None), "translator": (0.5, 1.0, None)}


def profile_data(api_base: str, dropper_base: str) -> dict:
    models = {}
    for name, (price_in, price_out, window) in MODELS.items():
        models[name] = {"model": f"openai/{name}", "api_base": api_base,
                        "price": {"input_per_mtok": price_in, "output_per_mtok": price_out}}
        if window:
            models[name]["context_window"] = window
    models["dropper"] = {"model": "openai/dropper", "api_base": dropper_base,
                         "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    routes: list[dict] = [
        {"name": "dropped", "when": {"tags": ["drop"]}, "tier": "drop"},
        {"name": "code", "when": {"code": True}, "tier": "strong", "select": "first"},
        {"name": "hard", "when": {"tags": ["hard"]}, "tier": "strong", "select": "cheapest"},
        {"name": "long", "when": {"min_conversation_tokens": 1500}, "tier": "mid"},
    ]
    if SEMANTIC:
        routes.append({"name": "translate", "tier": "translate", "semantic": {"threshold": 0.3, "utterances": [
            "Translate this sentence into French", "How do you say good morning in Spanish",
            "Translate the following paragraph to German", "What is the Italian word for house"]}})
    routes.append({"name": "learned", "tier": "strong", "select": "weighted", "learned": {
        "cheap_tier": "cheap", "threshold": 0.5,
        "cheap": {"bias": 0.6, "weights": {"reasoning_words": -1.5, "question": 0.4, "log_tokens": -0.15}}}})
    return {"version": 1, "name": "proxied", "models": models,
            "tiers": {"cheap": ["cheap-b", "cheap-a"], "strong": ["strong-a", "strong-b"], "mid": ["mid"],
                      "translate": ["translator"], "drop": ["dropper"]},
            "routes": routes, "fallbacks": ["mid", "cheap-b"],
            "selection": {"cost": 1.0, "latency": 0.0, "health": 1.0},
            "retries": {"rate_limited": 0, "server_error": 1, "timeout": 0, "connection": 1, "stream_cut": 0,
                        "backoff_s": 0},
            "cooldown": {"after_failures": 5, "seconds": 30},
            "timeouts": {"first_token": 4, "idle": 10, "total": 30}}


def prompts() -> list[str]:
    topics = ["photosynthesis", "the French revolution", "binary trees", "inflation", "black holes", "tea",
              "volcanoes", "the stock market", "jazz", "vaccines", "glaciers", "chess", "bread", "rainbows"]
    code = [f"```python\ndef f{i}(x):\n    return x * {i}\n```\nWhat does this return for 3?" for i in range(10)]
    code += [f"import os\nprint(os.getcwd())\nfor i in range({i}): print(i)\nexplain" for i in range(6)]
    tagged = [f"#hard compare {t} with {u}" for t, u in zip(topics, reversed(topics))][:14]
    long = [f"Summarise this: {(t + ' ') * 1600}" for t in topics[:6]]
    learned = [f"What is {t}?" for t in topics]
    learned += [f"Explain why {t} matters, derive its effects step by step and analyse them" for t in topics]
    learned += [f"Tell me a fact about {t}" for t in topics]
    learned += [f"Calculate and prove how many {t} fit in a room; compare and optimise" for t in topics[:8]]
    languages = ["French", "German", "Spanish"] * 5
    semantic = [f"Translate this sentence into {lang}: I like {t}" for t, lang in zip(topics, languages)]
    semantic += [f"How do you say {t} in {lang}" for t, lang in zip(topics[:6], languages)]
    return code + tagged + long + learned + (semantic if SEMANTIC else [])


class Dropper:
    """Accepts connections and closes them at once, counting them: a server that drops every request."""

    def __init__(self) -> None:
        self.count = 0
        self.socket = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/v1"

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.socket.accept()
                self.count += 1
                connection.close()


@pytest.fixture(scope="module")
def dropper():
    server = Dropper()
    yield server
    server.socket.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory, dropper):
    folder = tmp_path_factory.mktemp("proxy")
    # Its own server: the proxy processes are started once per module with these behaviours, and the
    # shared server's per-test reset would clear them.
    with OpenAIStubServer() as stub:
        for name in MODELS:
            stub.script(name, text=f"answered by {name}")
        source = folder / "proxied.yaml"
        source.write_text(yaml.safe_dump(profile_data(stub.api_base, dropper.api_base)))
        profile = load_profile(source)
        export = to_litellm(profile, build_catalog(profile, env={}))
        (folder / "export").mkdir()
        config = write_export(export, folder / "export" / "config.yaml")[0]
        with proxies(config, PLAYGROUND_HOME=str(tmp_path_factory.mktemp("home"))) as [(client, log)]:
            yield stub, client, export.profile, log


def ask(client: httpx.Client, prompt: str, stream: bool = False) -> str:
    body = {"model": "proxied", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text[:500]
    if stream:
        events = [json.loads(line[6:]) for line in response.text.splitlines()
                  if line.startswith("data: ") and line != "data: [DONE]"]
        text = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    else:
        text = response.json()["choices"][0]["message"]["content"]
    return text.removeprefix("answered by ").strip()


def playground_choices(profile, prompts: list[str]) -> list[str]:
    """What the playground's chat would route each prompt to (a new conversation, no history yet)."""
    catalog, index = build_catalog(profile, env={}), build_index(profile)
    choices = []
    for prompt in prompts:
        tags, text = split_tags(prompt, profile.task_tags)
        request = RouteRequest(text, tokens.count_text(text), tokens.count_messages([{"role": "user",
                                                                                       "content": text}]), tags)
        choices.append(decide(request, profile, catalog, semantic=index).model)
    return choices


def test_proxy_picks_the_playgrounds_model_for_each_prompt(served):
    stub, client, profile, _ = served
    cases = prompts()
    assert len(cases) >= 100
    t0 = time.monotonic()
    expected = playground_choices(profile, cases)
    t1 = time.monotonic()
    got = [ask(client, p, stream=i % 10 == 0) for i, p in enumerate(cases)]
    print(f"playground {t1 - t0:.1f} s, proxy {time.monotonic() - t1:.1f} s for {len(cases)} prompts")
    agree = sum(e == g for e, g in zip(expected, got)) / len(cases)
    disagreements = [(p[:60], e, g) for p, e, g in zip(cases, expected, got) if e != g]
    print(f"agreement {agree:.1%} on {len(cases)} prompts")
    assert agree >= 0.99, disagreements[:10]
    # Every stage took part: the comparison means something only if the routes differ.
    assert {"strong-a", "strong-b", "mid", "cheap-a"} <= set(expected)
    if SEMANTIC:
        assert "translator" in expected
    # The `#hard` tag is a hint for the router, not words for the model.
    assert not any("#hard" in str(r.get("messages")) for r in stub.requests)


async def playground_attempts(profile_path: Path, db: Path, prompt: str) -> list[str]:
    session = open_session(str(profile_path), db)
    session.chat._sleep = _no_sleep
    return [e.model_alias async for e in session.chat.send(prompt) if isinstance(e, AttemptStarted)]


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.parametrize(("broken", "failure"), [("strong-a", 500), ("strong-a", 400), ("mid", 500),
                                                 ("strong-a", "no first token")])
async def test_proxy_falls_back_as_the_playground_does(served, tmp_path, broken, failure):
    stub, client, profile, _ = served
    prompt = {"strong-a": "```\nprint(1)\n```", "mid": f"Summarise: {'word ' * 1700}"}[broken]
    profile_path = tmp_path / "proxied.yaml"
    profile_path.write_text(to_profile_yaml(profile))
    if failure == "no first token":  # longer than timeouts.first_token: the proxy's stream_timeout
        stub.script(broken, first_chunk_delay=profile.timeouts.first_token + 2, text=f"answered by {broken}")
    else:
        stub.script(broken, status=failure)
    try:
        start = len(stub.requests)
        answered = await asyncio.to_thread(ask, client, prompt, failure == "no first token")
        by_proxy = [r["model"] for r in stub.requests[start:]]
        start = len(stub.requests)
        by_playground = await playground_attempts(profile_path, tmp_path / "h.db", prompt)
        assert [r["model"] for r in stub.requests[start:]] == by_playground
    finally:
        stub.script(broken, text=f"answered by {broken}")
    assert by_proxy == by_playground, (by_proxy, by_playground)
    assert answered == by_playground[-1] != broken


def test_the_proxy_logged_no_error(served):
    *_, log = served
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-3000:]


_LOAD_ALL = """
import asyncio, sys
from litellm.proxy import proxy_server

async def main():
    for path in sys.argv[1:]:
        router, models, _ = await proxy_server.proxy_config.load_config(router=None, config_file_path=path)
        print("loaded", path, len(router.model_list), flush=True)

asyncio.run(main())
"""


def test_every_bundled_profile_export_loads_in_the_proxy(tmp_path):
    """The proxy's own config loader (what `litellm --config` runs at start) on each bundled profile's export:
    its deployments, router settings and the routing module, without a traceback or an error line."""
    configs = []
    for path in sorted(bundled_profiles_dir().glob("**/*.yaml")):
        profile = load_profile(path)
        local = any(m.model.startswith("local/") for m in profile.models.values())
        for url in ([None, "http://127.0.0.1:8080/v1"] if local else [None]):
            if url is None and all(m.model.startswith("local/") for m in profile.models.values()):
                continue  # refused with a clear error instead (test_export.py)
            export = to_litellm(profile, build_catalog(profile, env={}), local_url=url)
            folder = tmp_path / f"{profile.name}-{'url' if url else 'plain'}"
            folder.mkdir()
            configs.append(str(write_export(export, folder / "config.yaml")[0]))
    result = subprocess.run([sys.executable, "-c", _LOAD_ALL, *configs], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env=guarded_env(LITELLM_MASTER_KEY=MASTER_KEY))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert output.count("loaded ") == len(configs) >= 7
    assert not any(word in output for word in ("Traceback", "ERROR", "Exception")), output[-3000:]


async def test_a_dropped_connection_is_retried_as_the_playground_does(served, dropper, tmp_path):
    """A connection the server drops is LiteLLM's APIConnectionError: retried per DefaultRetries (the
    profile's `connection` retries), then the fallback chain."""
    stub, client, profile, _ = served
    profile_path = tmp_path / "proxied.yaml"
    profile_path.write_text(to_profile_yaml(profile))
    start, dropped = len(stub.requests), dropper.count
    answered = await asyncio.to_thread(ask, client, "#drop hello")
    by_proxy = (dropper.count - dropped, [r["model"] for r in stub.requests[start:]])
    start, dropped = len(stub.requests), dropper.count
    attempts = await playground_attempts(profile_path, tmp_path / "h.db", "#drop hello")
    by_playground = (dropper.count - dropped, [r["model"] for r in stub.requests[start:]])
    assert attempts == ["dropper"] * (1 + profile.retries.connection) + ["mid"]
    assert by_proxy == by_playground == (1 + profile.retries.connection, ["mid"])
    assert answered == "mid"
