"""The embedded model (SmolLM2-135M via llama.cpp) answers a real prompt through the ask path."""

from __future__ import annotations

import pytest

from playground.config import local_model
from playground.services.events import ReplyDone, TextDelta
from playground.services.session import open_session

PROBLEM = local_model.runtime_problem()


@pytest.mark.skipif(PROBLEM is not None, reason=f"embedded model not runnable here: {PROBLEM}")
async def test_embedded_model_answers_offline_for_free(tmp_path):
    session = open_session("local-only", tmp_path / "h.db")
    try:
        info = session.catalog["smollm2"]
        assert info.available and info.is_local
        events = [event async for event in session.chat.send("Reply with one short sentence: what is 2 + 2?")]
        done = events[-1]
        assert isinstance(done, ReplyDone)
        reply = done.reply
        assert reply.status == "complete" and reply.text.strip()
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == reply.text
        final = reply.final
        assert (final.model_alias, final.model, final.failure) == ("smollm2", "local/smollm2", None)
        assert not final.tokens_estimated  # llama.cpp's own counts
        assert final.input_tokens > 0 and final.output_tokens > 0
        assert final.cost_usd == 0 and reply.cost_usd == 0 and done.conversation_cost == 0
        assert final.finish_reason in ("stop", "length")
        stored = session.store.messages(reply.conversation_id)
        assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
        assert stored[1].content == reply.text and stored[1].model_alias == "smollm2"
    finally:
        session.store.close()


@pytest.mark.skipif(PROBLEM is not None, reason=f"embedded model not runnable here: {PROBLEM}")
async def test_two_variants_of_the_embedded_model_take_turns_and_report_their_wait_apart(tmp_path):
    from playground.services.events import ColumnEnded, ColumnWaiting

    session = open_session("local-only", tmp_path / "h.db")
    try:
        models = ["smollm2@max_tokens=12", "smollm2@max_tokens=12,temperature=1.2"]
        events = [event async for event in session.compare.run("Name three colours.", models)]
        first, second = events[-1].comparison.columns
        assert first.attempt.ok and second.attempt.ok and first.waited_s == 0
        # The second request was sent only once the first had ended: its TTFT is its own, its wait apart.
        first_end = first.attempt.started_at + first.attempt.latency_s
        assert second.attempt.started_at >= first_end - 0.05
        assert second.waited_s >= first.attempt.latency_s * 0.9
        assert second.attempt.ttft_s < second.waited_s + first.attempt.latency_s
        assert any(isinstance(e, ColumnWaiting) and (e.column, e.behind) == (1, 0) for e in events)
        assert [e.waited_s for e in events if isinstance(e, ColumnEnded) and e.column == 1] == [second.waited_s]
    finally:
        session.store.close()
