"""Cooldowns and Retry-After outlive a process: each run (a new session, as `ask` opens) starts from
the health that history implies."""

from __future__ import annotations

import asyncio

from playground.base.records import Attempt, Failure
from playground.config.profile import Cooldown
from playground.present.format import decision_trace
from playground.router.health import CARRIED_OVER, HealthTracker
from playground.services.events import ReplyDone, Routed
from playground.services.session import open_session


def _run(profile, db) -> tuple[ReplyDone, Routed]:
    """One `ask`: a new session, health seeded from history, one prompt."""
    session = open_session(str(profile), db)
    session.seed_health()
    try:
        async def send():
            return [event async for event in session.chat.send("hello")]
        events = asyncio.run(send())
    finally:
        session.store.close()
    routed = next(e for e in events if isinstance(e, Routed))
    return events[-1], routed


def test_separate_runs_respect_the_cooldown(server, make_profile, tmp_path):
    server.script("broken", status=500)
    server.script("backup", text="the backup answered")
    profile = make_profile(["broken", "backup"], retries={"server_error": 1, "backoff_s": 0},
                           cooldown={"after_failures": 3, "seconds": 600})
    db = tmp_path / "h.db"
    traces = []
    for _ in range(5):
        done, routed = _run(profile, db)
        assert isinstance(done, ReplyDone) and done.reply.status == "complete"
        traces.append("\n".join(decision_trace(routed.decision)))
    # Run 1: two failures (a retry); run 2: the third starts the cooldown; runs 3-5 skip the model.
    assert server.hits["broken"] == 4 and server.hits["backup"] == 5
    assert "cooling down" in traces[2] and CARRIED_OVER.strip() in traces[2]


def test_a_retry_after_outlives_the_run(server, make_profile, tmp_path):
    server.script("limited", status=429, headers={"Retry-After": "50"})
    server.script("backup", text="ok")
    profile = make_profile(["limited", "backup"], cooldown={"after_failures": 3, "seconds": 5})
    db = tmp_path / "h.db"
    _run(profile, db)
    _run(profile, db)
    assert server.hits["limited"] == 1  # the second run waited out the 50 s the server asked for


def test_old_failures_do_not_count():
    now = 1_000_000.0
    tracker = HealthTracker(Cooldown(after_failures=2, seconds=30), clock=lambda: 500.0)

    def failed(ended_ago: float) -> Attempt:
        return Attempt("m", "openai/m", "r", "", 0, started_at=now - ended_ago - 1, latency_s=1.0,
                       failure=Failure.SERVER_ERROR)

    tracker.seed([failed(3600), failed(20)], now_wall=now)  # one an hour ago, one inside the window
    assert tracker.snapshot()["m"].cooling(500.0) == 0
    tracker.record(failed(0))  # the next failure makes two inside the window
    assert tracker.snapshot()["m"].cooling(500.0) == 30
