""""Why this model?": the expected latency comes from measured TTFT, speed and reply length in history,
says how many replies it rests on, and is "unknown" without any."""

from __future__ import annotations

import asyncio
import statistics

from playground.present.format import decision_trace
from playground.services.events import ReplyDone, Routed
from playground.services.session import open_session

WORDS = 40


def _turn(profile, db) -> tuple[ReplyDone, list[str]]:
    session = open_session(str(profile), db)
    session.seed_health()
    try:
        async def send():
            return [event async for event in session.chat.send("tell me something")]
        events = asyncio.run(send())
    finally:
        session.store.close()
    routed = next(e for e in events if isinstance(e, Routed))
    return events[-1], decision_trace(routed.decision)


def test_expected_latency_matches_measured_replies(server, make_profile, tmp_path):
    server.script("steady", text=" ".join(f"w{i}" for i in range(WORDS)), first_chunk_delay=0.2, chunk_delay=0.01)
    # The profile expects 300-token replies; this model writes 40: its own length must be used.
    profile = make_profile(["steady"])
    db = tmp_path / "h.db"
    first, trace = _turn(profile, db)
    assert any("steady" in line and "latency unknown (no measured reply)" in line for line in trace), trace
    latencies = [first.reply.final.latency_s]
    for _ in range(3):
        done, trace = _turn(profile, db)
        latencies.append(done.reply.final.latency_s)
    line = next(line for line in trace if "steady" in line and "~" in line)
    assert "(from 3 measured replies)" in line, line
    expected = line.split("~")[1].split(" (")[0]
    value = float(expected.split()[0]) / (1000 if expected.endswith("ms") else 1)
    measured = statistics.median(latencies[:3])
    assert abs(value - measured) / measured < 0.25, (value, latencies)
