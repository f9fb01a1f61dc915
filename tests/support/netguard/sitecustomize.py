"""Loaded by child Pythons whose PYTHONPATH starts with this folder: only loopback may be reached.

A refused host is also written to $PLAYGROUND_TEST_NETLOG (when set), so the parent test can fail on
it even if the product swallowed the error.
"""

import os
import socket

from loopback_guard import guards


def _note(host: str) -> None:
    log = os.environ.get("PLAYGROUND_TEST_NETLOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{host}\n")


def _refuse_connect(host: str) -> OSError:
    _note(host)
    return OSError(f"network blocked by the test guard: {host}")


def _refuse_lookup(host: str) -> OSError:
    _note(host)
    return socket.gaierror(socket.EAI_NONAME, f"network blocked by the test guard: {host}")


_guards = guards(_refuse_connect, _refuse_lookup)
socket.socket.connect = _guards["connect"]
socket.socket.connect_ex = _guards["connect_ex"]
socket.getaddrinfo = _guards["getaddrinfo"]
