"""docs/recipes.md's scale-out: two proxy instances on one export share cooldowns and usage through Redis.

Needs LiteLLM's proxy dependencies and a `redis-server` binary (Debian: apt-get install redis-server);
skipped, saying which is missing, otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import yaml

from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.policy.export import to_litellm, write_export
from tests.support.openai_server import OpenAIStubServer
from tests.support.proxy import MISSING, SKIP_REASON, free_port, proxies

pytestmark = [pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON),
              pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="no redis-server binary (Debian: apt-get install redis-server)")]


@pytest.fixture
def redis_port(tmp_path):
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def ask(client, prompt: str) -> str:
    body = {"model": "scaled", "messages": [{"role": "user", "content": prompt}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text[:500]
    return response.json()["choices"][0]["message"]["content"]


def test_two_proxies_share_cooldowns_through_redis(tmp_path, redis_port):
    import redis

    with OpenAIStubServer() as stub:
        stub.script("flaky", status=500)
        stub.script("steady", text="steady answered")
        source = tmp_path / "scaled.yaml"
        source.write_text(yaml.safe_dump({
            "name": "scaled",
            "models": {alias: {"model": f"openai/{alias}", "api_base": stub.api_base} for alias in ("flaky", "steady")},
            "tiers": {"main": ["flaky"]}, "routes": [{"name": "all", "tier": "main"}], "fallbacks": ["steady"],
            "retries": {"server_error": 0, "rate_limited": 0, "connection": 0},
            "cooldown": {"after_failures": 1, "seconds": 60}}))
        profile = load_profile(source)
        export = to_litellm(profile, build_catalog(profile, env={}))
        (tmp_path / "export").mkdir()
        config = write_export(export, tmp_path / "export" / "config.yaml")[0]
        # The recipe's edit: both instances read Redis's address from the environment.
        data = yaml.safe_load(config.read_text())
        data["router_settings"] |= {"redis_host": "os.environ/REDIS_HOST", "redis_port": "os.environ/REDIS_PORT"}
        config.write_text(yaml.safe_dump(data, sort_keys=False))

        with proxies(config, count=2, REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port),
                     PLAYGROUND_HOME=str(tmp_path / "home")) as [(first, _), (second, log)]:
            for _ in range(3):  # fails on flaky, falls back; past allowed_fails the deployment cools down
                assert ask(first, "hello") == "steady answered"
            keys = {k.decode() for k in redis.Redis(host="127.0.0.1", port=redis_port).keys("*")}
            assert any(k.endswith(":cooldown") for k in keys), keys
            tried = stub.hits["flaky"]
            assert ask(second, "hello") == "steady answered"
            # The second instance never saw flaky fail, yet skips it: the cooldown came through Redis.
            assert stub.hits["flaky"] == tried, (tried, stub.hits["flaky"])
            assert any(":rpm:" in k for k in keys)  # usage counters are shared the same way
            assert "Traceback" not in log.read_text()
