"""Test isolation: no real home directory, no provider keys, no network beyond loopback."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

# Before anything imports litellm: otherwise it downloads its price map at import time.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from tests.support.helpers import PROVIDER_KEYS, write_profile
from tests.support.netguard.loopback_guard import guards
from tests.support.openai_server import OpenAIStubServer


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`pytest -n auto` (CI, README): half again as many workers as CPUs. Most of this suite's time is spent
    waiting (child processes starting, streams the test server paces, the TUI's idle detection between key
    presses, tmux polling), not computing: on 2 cores a third worker took the suite from 231 s to 179 s, both
    under a load of about 3 from other work. PYTEST_XDIST_AUTO_NUM_WORKERS still overrides it, as in xdist."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(cpus + 1, cpus * 3 // 2)


@pytest.fixture(scope="session", autouse=True)
def shared_models(tmp_path_factory):
    """One folder for models the playground builds (the encoder's int8 model, ~3 s to build) for the whole
    run, its xdist workers and their child processes: each test's home is new, and building it in every one
    would cost minutes. Workers share their base temporary folder's parent."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "models"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYGROUND_MODELS", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.delenv("PLAYGROUND_DB", raising=False)
    for key in PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    return home


# Network guard ------------------------------------------------------------------------------------

_outside: list[str] = []
"""Every non-loopback host a test tried to reach. Checked after each test, so the test fails even
when the code under test swallows the guard's exception."""


def _refuse_connect(host: str) -> Exception:
    _outside.append(host)
    return AssertionError(f"test tried to reach {host}: tests may only use loopback")


def _refuse_lookup(host: str) -> Exception:
    _outside.append(host)
    return socket.gaierror(socket.EAI_NONAME, f"test tried to resolve {host}: tests may only use loopback")


_GUARDS = guards(_refuse_connect, _refuse_lookup)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Yields the list of refused hosts (a test that provokes the guard on purpose clears it)."""
    _outside.clear()
    monkeypatch.setattr(socket.socket, "connect", _GUARDS["connect"])
    monkeypatch.setattr(socket.socket, "connect_ex", _GUARDS["connect_ex"])
    monkeypatch.setattr(socket, "getaddrinfo", _GUARDS["getaddrinfo"])
    yield _outside
    reached = sorted(set(_outside))
    _outside.clear()
    assert not reached, f"test tried to reach the network: {reached}"


# The scripted OpenAI-compatible server --------------------------------------------------------------

@pytest.fixture(scope="session")
def stub_server():
    """One loopback server per test process (under pytest-xdist each worker is a process with its own
    server on its own free port); `server` resets it for each test. A module-scoped fixture that scripts
    behaviours once cannot share it (`server` clears them): such modules start their own and say why."""
    with OpenAIStubServer() as stub:
        yield stub


def _reset(stub: OpenAIStubServer) -> None:
    stub.release()  # a test's held streams must not keep server threads waiting into the next test
    stub.behaviours.clear()
    stub.hits.clear()
    stub.requests.clear()
    stub.auth.clear()
    stub.timings.clear()


@pytest.fixture
def server(stub_server):
    """The shared stub server with no scripted behaviours and nothing recorded."""
    _reset(stub_server)
    yield stub_server
    _reset(stub_server)


@pytest.fixture
def make_profile(tmp_path, server):
    """`make_profile(["first", "backup"], timeouts={"idle": 0.5})` → path of a profile on the stub server
    (see tests.support.helpers.profile_data for the defaults)."""

    def make(models, **kwargs) -> Path:
        return write_profile(tmp_path, server.api_base, models, **kwargs)

    return make
