"""The one loopback rule, used in process (tests/conftest.py) and by child Pythons (sitecustomize.py here).

Plain standard library and a top-level-unique name: a child imports it from this folder on PYTHONPATH,
the test process as tests.support.netguard.loopback_guard.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

REAL = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
        "getaddrinfo": socket.getaddrinfo}


def is_loopback(host) -> bool:
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host in ("localhost", "::1", "ip6-localhost") or host.startswith("127.")


def guards(refuse_connect: Callable[[str], Exception], refuse_lookup: Callable[[str], Exception]) -> dict:
    """Replacements for socket.socket.connect/connect_ex and socket.getaddrinfo that raise the exception
    the callback returns (the callback also records the host) for anything but loopback."""

    def connect(self, address):
        if isinstance(address, tuple) and not is_loopback(address[0]):  # AF_UNIX paths are local
            raise refuse_connect(str(address[0]))
        return REAL["connect"](self, address)

    def connect_ex(self, address):
        if isinstance(address, tuple) and not is_loopback(address[0]):
            raise refuse_connect(str(address[0]))
        return REAL["connect_ex"](self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not is_loopback(host):
            raise refuse_lookup(str(host))
        return REAL["getaddrinfo"](host, *args, **kwargs)

    return {"connect": connect, "connect_ex": connect_ex, "getaddrinfo": getaddrinfo}
