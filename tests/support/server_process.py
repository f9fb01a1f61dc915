"""The scripted server in a child process, so its threads never share a GIL with the client being timed."""

from __future__ import annotations

import contextlib
import multiprocessing

from tests.support.openai_server import Behaviour, OpenAIStubServer


def _serve(behaviours: dict[str, Behaviour], conn) -> None:
    with OpenAIStubServer() as server:
        server.behaviours.update(behaviours)
        conn.send(server.api_base)
        while True:
            try:
                command = conn.recv()
            except EOFError:
                return
            if command != "timings":
                return
            conn.send([(t.model, t.ttft_s, t.latency_s) for t in server.timings])


class ServerProcess:
    """`with ServerProcess({"m": Behaviour(...)}) as server:` → `server.api_base`, `server.timings()`:
    (model, server TTFT s, server latency s) per request, in arrival order."""

    def __init__(self, behaviours: dict[str, Behaviour]) -> None:
        # fork: the child needs only the stub server; spawn would re-import the test's modules.
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(behaviours, child), daemon=True)
        self.api_base = ""

    def __enter__(self) -> ServerProcess:
        self._process.start()
        if not self._conn.poll(30):
            raise RuntimeError("the stub server did not start")
        self.api_base = self._conn.recv()
        return self

    def timings(self) -> list[tuple[str, float | None, float | None]]:
        self._conn.send("timings")
        return self._conn.recv()

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()
