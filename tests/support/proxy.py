"""The real LiteLLM proxy (`litellm --config`) as a subprocess on loopback, for tests of the export."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.helpers import guarded_env

MASTER_KEY = "sk-proxy-test-master"
PROXY_DEPS = ("fastapi", "uvicorn", "backoff", "apscheduler", "orjson", "multipart")
MISSING = [name for name in PROXY_DEPS if importlib.util.find_spec(name) is None]
SKIP_REASON = f"LiteLLM's proxy dependencies are not installed ({', '.join(MISSING)}): pip install -e '.[proxy]'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base: str, process: subprocess.Popen, log: Path, limit_s: float = 180) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the proxy exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health/liveliness", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the proxy did not start within {limit_s:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


@contextlib.contextmanager
def proxies(config: Path, count: int = 1, **env: str) -> Iterator[list[tuple[httpx.Client, Path]]]:
    """`count` proxies on one config; yields (client, log file) for each. Started one after the other: a
    proxy's start takes a core for ~10 s, and tests running beside these have timing to keep."""
    started = []
    try:
        for n in range(count):
            port, log = free_port(), config.parent / f"proxy-{n}.log"
            handle = log.open("w")
            process = subprocess.Popen(
                [str(Path(sys.executable).with_name("litellm")), "--config", str(config), "--host", "127.0.0.1",
                 "--port", str(port)], cwd=config.parent.parent, stdout=handle, stderr=subprocess.STDOUT,
                env=guarded_env(LITELLM_MASTER_KEY=MASTER_KEY, **env))
            started.append((process, handle, f"http://127.0.0.1:{port}", log))
            wait_until_up(started[-1][2], process, log)
        clients = [httpx.Client(base_url=base, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=60)
                   for _, _, base, _ in started]
        yield [(client, log) for client, (*_, log) in zip(clients, started)]
        for client in clients:
            client.close()
    finally:
        for process, handle, _, _ in started:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
            handle.close()
