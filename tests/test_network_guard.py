"""The guards themselves: a test (or a child process it starts) cannot reach beyond loopback."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support.helpers import guarded_env

TEST_NET = "192.0.2.1"  # TEST-NET-1: never routed; refused here before any packet is sent


def test_in_process_connects_and_lookups_are_refused(no_network):
    with pytest.raises(socket.gaierror, match="tests may only use loopback"):
        socket.create_connection((TEST_NET, 80), timeout=1)  # refused at the lookup
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 443)
    for connect in ("connect", "connect_ex"):
        with socket.socket() as sock, pytest.raises(AssertionError, match="tests may only use loopback"):
            getattr(sock, connect)((TEST_NET, 80))
    assert sorted(set(no_network)) == [TEST_NET, "example.com"]
    no_network.clear()  # provoked on purpose: do not fail this test at teardown


def test_loopback_still_works(server):
    server.script("ok")
    with socket.create_connection(("127.0.0.1", int(server.api_base.split(":")[2].split("/")[0])), timeout=5):
        pass


def test_child_processes_are_guarded_too(tmp_path):
    log = tmp_path / "net.log"
    code = (f"import socket\ntry:\n    socket.create_connection(({TEST_NET!r}, 80), timeout=1)\n"
            f"except OSError as exc:\n    print('refused:', exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                            env=guarded_env(log))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: ")
    assert result.stdout.strip().endswith(f"network blocked by the test guard: {TEST_NET}")
    assert log.read_text().split() == [TEST_NET]
