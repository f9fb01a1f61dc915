"""The embedded model (SmolLM2-135M via llama.cpp) answers a real prompt through the ask path."""

from __future__ import annotations

import importlib.util
import os
import re

import pytest

from playground.config import local_model
from playground.providers.local import LocalModel, LocalUsage
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
        assert final.cost_usd == 0 and reply.cost_usd == 0 and done.conversation_cost.usd == 0
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


def test_threads_leave_a_core_free_and_follow_the_environment():
    cores = local_model.physical_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    assert local_model.local_threads({}) == max(1, cores - 1)
    assert local_model.local_threads({"PLAYGROUND_LOCAL_THREADS": " 3 "}) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match=rf"PLAYGROUND_LOCAL_THREADS='{re.escape(bad)}' is not a whole number"):
            local_model.local_threads({"PLAYGROUND_LOCAL_THREADS": bad})


def test_a_bad_thread_setting_makes_the_local_model_unavailable_with_the_reason(monkeypatch):
    if importlib.util.find_spec("llama_cpp") is None or local_model.gguf_path() is None:
        pytest.skip(f"embedded model not installed here: {PROBLEM}")
    monkeypatch.setenv("PLAYGROUND_LOCAL_THREADS", "many")
    assert local_model.runtime_problem().startswith("PLAYGROUND_LOCAL_THREADS='many' is not a whole number")


def _fake_lib(tmp_path, name, *parts: bytes):
    lib = tmp_path / name
    lib.write_bytes(b"\x7fELF" + b"\0".join(parts))
    return lib


def test_an_amx_build_by_gcc_12_is_recognised_as_the_one_that_crashes(tmp_path):
    amx, gcc12, gcc13 = b"_Z24ggml_backend_amx_mul_matPK19ggml", b"GCC: (Debian 12.2.0-14) 12.2.0", b"GCC: (GNU) 13.3.0"
    crashing = local_model._crashing_amx_build
    assert crashing(_fake_lib(tmp_path, "a.so", amx, gcc12), 0)
    assert not crashing(_fake_lib(tmp_path, "b.so", amx, gcc13), 0)
    assert not crashing(_fake_lib(tmp_path, "c.so", b"ggml_vec_dot_q4_1_q8_1", gcc12), 0)  # portable AVX2 build


@pytest.mark.skipif(PROBLEM is not None, reason=f"embedded model not runnable here: {PROBLEM}")
def test_the_model_reads_a_multi_token_prompt_with_the_chosen_threads(monkeypatch):
    # A 2+ token prompt is what crashed AMX builds; one token went through another kernel and passed.
    import threading

    monkeypatch.setenv("PLAYGROUND_LOCAL_THREADS", "1")
    model = LocalModel()
    try:
        pieces = list(model.generate([{"role": "user", "content": "Say hello"}], 8, 0.0, threading.Event()))
        usage = pieces[-1]
        assert isinstance(usage, LocalUsage) and usage.prompt_tokens > 5 and usage.completion_tokens > 0
        params = model.load().context_params
        assert (params.n_threads, params.n_threads_batch) == (1, 1)
    finally:
        model.close()


@pytest.mark.skipif(PROBLEM is not None, reason=f"embedded model not runnable here: {PROBLEM}")
def test_the_local_models_token_counts_are_llama_cpps_own(monkeypatch):
    # Found in tmux: a reply full of emoji (several byte tokens a piece of text) after another reply showed
    # "373 in / 171 out" for a 32-token prompt cut at 512 tokens.
    import threading

    monkeypatch.setenv("PLAYGROUND_LOCAL_THREADS", "1")
    model = LocalModel()
    try:
        llama = model.load()
        for prompt, limit in (("Write ten star emojis", 24), ("Say hi", 40), ("Write ten star emojis", 24)):
            messages = [{"role": "user", "content": prompt}]
            usage = list(model.generate(messages, limit, 0.0, threading.Event()))[-1]
            own = llama.create_chat_completion(messages=messages, max_tokens=limit, temperature=0.0,
                                               top_p=0.9)["usage"]
            assert (usage.prompt_tokens, usage.completion_tokens) == (own["prompt_tokens"], own["completion_tokens"])
    finally:
        model.close()
