"""Test isolation: no real home directory, no provider keys, no network beyond loopback."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

# Before anything imports litellm: otherwise it downloads its price map at import time.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))  # `from support.openai_server import ...` whatever the import mode

from support.helpers import PROVIDER_KEYS, write_profile  # noqa: E402
from support.openai_server import OpenAIStubServer  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.delenv("PLAYGROUND_DB", raising=False)
    for key in PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    return home


# Network guard ------------------------------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
_outside: list[str] = []
"""Every non-loopback host a test tried to reach. Checked after each test, so the test fails even
when the code under test swallows the guard's exception."""


def _is_loopback(host) -> bool:
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host in ("localhost", "::1", "ip6-localhost") or host.startswith("127.")


def _check(address) -> None:
    host = address[0] if isinstance(address, tuple) else None  # AF_UNIX paths are local
    if host is not None and not _is_loopback(host):
        _outside.append(str(host))
        raise AssertionError(f"test tried to reach {host}: tests may only use loopback")


def _loopback_only(self, address):
    _check(address)
    return _real_connect(self, address)


def _loopback_only_ex(self, address):
    _check(address)
    return _real_connect_ex(self, address)


def _resolve_loopback_only(host, *args, **kwargs):
    if host is not None and not _is_loopback(host):
        _outside.append(str(host))
        raise socket.gaierror(socket.EAI_NONAME, f"test tried to resolve {host}: tests may only use loopback")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Yields the list of refused hosts (a test that provokes the guard on purpose clears it)."""
    _outside.clear()
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    monkeypatch.setattr(socket.socket, "connect_ex", _loopback_only_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_loopback_only)
    yield _outside
    reached = sorted(set(_outside))
    _outside.clear()
    assert not reached, f"test tried to reach the network: {reached}"


# The scripted OpenAI-compatible server --------------------------------------------------------------

@pytest.fixture(scope="session")
def stub_server():
    """One loopback server for the whole run; `server` resets it for each test."""
    with OpenAIStubServer() as stub:
        yield stub


@pytest.fixture
def server(stub_server):
    """The shared stub server with no scripted behaviours and zeroed hit counts."""
    stub_server.behaviours.clear()
    stub_server.hits.clear()
    stub_server.requests.clear()
    stub_server.timings.clear()
    yield stub_server
    stub_server.behaviours.clear()


@pytest.fixture
def make_profile(tmp_path, server):
    """`make_profile(["first", "backup"], timeouts={"idle": 0.5})` → path of a profile on the stub server
    (see support.helpers.profile_data for the defaults)."""

    def make(models, **kwargs) -> Path:
        return write_profile(tmp_path, server.api_base, models, **kwargs)

    return make
