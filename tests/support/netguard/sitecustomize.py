"""Loaded by child Pythons whose PYTHONPATH starts with this folder: only loopback may be reached.

A refused host is also written to $PLAYGROUND_TEST_NETLOG (when set), so the parent test can fail on
it even if the product swallowed the error.
"""

import os
import socket

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host) -> bool:
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host in ("localhost", "::1", "ip6-localhost") or host.startswith("127.")


def _note(host) -> None:
    log = os.environ.get("PLAYGROUND_TEST_NETLOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{host}\n")


def _connect(self, address):
    if isinstance(address, tuple) and not _is_loopback(address[0]):
        _note(address[0])
        raise OSError(f"network blocked by the test guard: {address[0]}")
    return _real_connect(self, address)


def _connect_ex(self, address):
    if isinstance(address, tuple) and not _is_loopback(address[0]):
        _note(address[0])
        raise OSError(f"network blocked by the test guard: {address[0]}")
    return _real_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(host):
        _note(host)
        raise socket.gaierror(socket.EAI_NONAME, f"network blocked by the test guard: {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.getaddrinfo = _getaddrinfo
