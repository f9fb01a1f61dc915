"""Stats figures against values worked out by hand from a small, fixed history."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from playground.base.money import dollars
from playground.base.records import Attempt, Cost, Failure
from playground.config.catalog import ModelInfo
from playground.config.profile import ModelSpec
from playground.history.migrations import MIGRATIONS
from playground.history.stats import Outcomes, Percentiles, Votes, compute, percentiles
from playground.history.store import Store
from playground.present.format import stats_summary

NO_OFFSET = timedelta(0)
# $10 / $30 per million tokens in / out.
STRONG = ModelInfo("strong", ModelSpec(model="openai/strong"), True, None, 10e-6, 30e-6, "profile", None)


def _at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC).timestamp()


def _record(store: Store, conversation: str, prompt: int, reply: int, alias: str, route: str, hop: int,
            started_at: float, tokens: tuple[int, int] | None, cost: float | None, ttft_ms: float | None,
            latency_ms: float, failure: Failure | None = None) -> None:
    attempt = Attempt(alias, f"openai/{alias}", route, route, hop, started_at,
                      ttft_s=None if ttft_ms is None else ttft_ms / 1000, latency_s=latency_ms / 1000,
                      input_tokens=tokens[0] if tokens else None, output_tokens=tokens[1] if tokens else None,
                      cost_usd=cost, failure=failure)
    store.record_attempt(attempt, conversation, prompt, reply, None)


@pytest.fixture
def store(tmp_path):
    """Four turns over two days (UTC):
    1. 03-01 10:00 everyday: cheap ok, 100/200 tokens, $0.001, TTFT 100 ms, total 500 ms
    2. 03-01 11:00 everyday: broken fails (no price), then cheap ok, 50/100, $0.0005, 300 / 900 ms
    3. 03-02 09:00 code: strong ok, 1000/500, $0.02, 800 / 4000 ms
    4. 03-02 09:30 code: strong cancelled by the user, 10/5, $0.0001
    """
    store = Store(tmp_path / "h.db")
    turns = [("a", None), ("a", None), ("b", None), ("b", None)]
    ids = []
    conversations = {}
    for key, _ in turns:
        conversation, prompt = store.start_turn(conversations.get(key), f"prompt {len(ids)}", "default")
        conversations[key] = conversation
        reply = store.start_reply(conversation)
        ids.append((conversation, prompt, reply))
    (a1, p1, r1), (a2, p2, r2), (b3, p3, r3), (b4, p4, r4) = ids
    _record(store, a1, p1, r1, "cheap", "everyday", 0, _at(1, 10), (100, 200), 0.001, 100, 500)
    _record(store, a2, p2, r2, "broken", "everyday", 0, _at(1, 11), None, None, None, 50, Failure.SERVER_ERROR)
    _record(store, a2, p2, r2, "cheap", "everyday", 1, _at(1, 11), (50, 100), 0.0005, 300, 900)
    _record(store, b3, p3, r3, "strong", "code", 0, _at(2, 9), (1000, 500), 0.02, 800, 4000)
    _record(store, b4, p4, r4, "strong", "code", 0, _at(2, 9, 30), (10, 5), 0.0001, 700, 1000, Failure.CANCELLED)
    for reply, alias in ((r1, "cheap"), (r2, "cheap"), (r3, "strong")):
        store.save_reply(reply, "answer", "complete", alias)
    store.save_reply(r4, "partial", "cancelled", "strong")
    store.record_feedback(r1, good=True)
    store.record_feedback(r2, good=False)
    store.prompts = (p1, p2, p3)
    yield store
    store.close()


def _add_votes(store: Store) -> None:
    """The votes table another feature creates, with three verdicts."""
    p1, p2, p3 = store.prompts
    store.db["votes"].insert_all([
        {"id": 1, "created_at": "2025-03-02T10:00:00.000+00:00", "conversation_id": None, "prompt_message_id": p3,
         "winner_model_alias": "strong", "outcome": "win", "models": json.dumps(["strong", "cheap"]),
         "route": "code", "category": None},
        {"id": 2, "created_at": "2025-03-02T10:00:00.000+00:00", "conversation_id": None, "prompt_message_id": p1,
         "winner_model_alias": None, "outcome": "all_bad", "models": json.dumps(["cheap", "strong"]),
         "route": "everyday", "category": None},
        {"id": 3, "created_at": "2025-03-02T10:00:00.000+00:00", "conversation_id": None, "prompt_message_id": p2,
         "winner_model_alias": None, "outcome": "tie", "models": json.dumps(["cheap", "broken"]),
         "route": "everyday", "category": None},
    ])


def test_percentiles_are_nearest_rank():
    assert percentiles([]) == Percentiles(None, None)
    assert percentiles([7.0]) == Percentiles(7.0, 7.0)
    assert percentiles([500, 100, 900]) == Percentiles(500, 900)
    assert percentiles(list(range(1, 101))) == Percentiles(50, 95)


def test_totals_rates_and_latency(store):
    stats = compute(store, utc_offset=NO_OFFSET)
    assert (stats.turns, stats.requests, stats.cancelled, stats.errors) == (4, 5, 1, 1)
    assert stats.error_rate == 1 / 4  # the cancelled attempt is no error, and not counted against
    # Three replies were answered (the cancelled one was not), one of them by a fallback model.
    assert (stats.answered, stats.fallbacks, stats.retries) == (3, 1, 0)
    assert stats.fallback_rate == 1 / 3
    assert (stats.input_tokens, stats.output_tokens) == (1160, 805)
    assert stats.cost_usd == pytest.approx(0.0216)
    assert stats.unpriced_requests == 1
    summary = stats_summary(stats)
    assert "4 prompts, 5 requests, " in summary[0] and summary[0].endswith("(1 request had no known price)")
    assert "0 retries" in summary[1]
    # Successful attempts only: TTFT 100, 300, 800; total 500, 900, 4000.
    assert stats.ttft == Percentiles(300, 800)
    assert stats.latency == Percentiles(900, 4000)


def test_per_day_per_model_and_per_route(store):
    stats = compute(store, utc_offset=NO_OFFSET)
    assert [(d.day, d.requests, round(d.cost_usd, 6)) for d in stats.by_day] == [
        ("2025-03-01", 3, 0.0015), ("2025-03-02", 2, 0.0201)]
    models = {m.model_alias: m for m in stats.by_model}
    assert list(models) == ["strong", "cheap", "broken"]  # by spend
    cheap, strong, broken = models["cheap"], models["strong"], models["broken"]
    assert (cheap.requests, cheap.errors, cheap.input_tokens, cheap.output_tokens) == (2, 0, 150, 300)
    assert cheap.cost_usd == pytest.approx(0.0015)
    assert (cheap.ttft, cheap.latency) == (Percentiles(100, 300), Percentiles(500, 900))
    assert (strong.requests, strong.cancelled, strong.error_rate, strong.ttft) == (2, 1, 0.0, Percentiles(800, 800))
    assert (broken.error_rate, broken.ttft, broken.cost_usd) == (1.0, Percentiles(None, None), 0)
    assert [(r.route, r.turns, round(r.cost_usd, 6)) for r in stats.by_route] == [
        ("code", 2, 0.0201), ("everyday", 2, 0.0015)]
    # The one unpriced attempt stays unknown in its day, model and route, never a priced-looking sum.
    for rows in (stats.by_day, stats.by_model, stats.by_route):
        assert sum(row.unpriced for row in rows) == 1
        assert [dollars(row.cost).endswith(" + unknown") or dollars(row.cost) == "$?" for row in rows].count(True) == 1
    assert dollars(stats.cost) == "$0.0216 + unknown"


def test_days_follow_the_utc_offset(store):
    stats = compute(store, utc_offset=timedelta(hours=-10))
    assert [(d.day, d.requests) for d in stats.by_day] == [("2025-03-01", 5)]


def test_since_keeps_later_attempts_only(store):
    stats = compute(store, since=datetime(2025, 3, 2, tzinfo=UTC), utc_offset=NO_OFFSET)
    assert (stats.turns, stats.requests, [m.model_alias for m in stats.by_model]) == (2, 2, ["strong"])
    assert stats.cost_usd == pytest.approx(0.0201)


def test_savings_against_a_baseline_model(store):
    savings = compute(store, baseline=STRONG, utc_offset=NO_OFFSET).savings
    # Successful calls used 1150 tokens in and 800 out: on strong, 1150 × $10/M + 800 × $30/M = $0.0355.
    # They cost $0.0216, the failed and cancelled calls included.
    assert savings.baseline == "strong"
    assert savings.baseline_usd == pytest.approx(0.0355)
    assert savings.actual_usd == pytest.approx(0.0216)
    assert savings.saved_usd == pytest.approx(0.0139)
    unpriced = ModelInfo("mystery", ModelSpec(model="x/mystery"), True, None, None, None, None, None)
    assert compute(store, baseline=unpriced).savings is None


def test_cost_per_successful_task_from_feedback(store):
    models = {m.model_alias: m for m in compute(store, utc_offset=NO_OFFSET).by_model}
    # Reply 1 good ($0.001), reply 2 bad ($0.0005 on cheap after a failed hop on `broken`, whose price is
    # unknown): the cost per success is unknown, never counted as if that hop were free.
    assert models["cheap"].outcomes == Outcomes(2, 1, pytest.approx(0.0015), unpriced=1)
    assert models["cheap"].outcomes.cost_per_success is None
    assert models["cheap"].outcomes.per_success == Cost(pytest.approx(0.0015), 1)
    assert models["strong"].outcomes == Outcomes() and models["strong"].outcomes.cost_per_success is None


def test_cost_per_success_is_known_when_every_call_was_priced(store):
    _, p3 = store.prompts[1:]
    reply = store.db.execute("SELECT reply_message_id FROM attempts WHERE prompt_message_id = ?", (p3,)).fetchone()[0]
    store.record_feedback(reply, good=True)
    models = {m.model_alias: m for m in compute(store, utc_offset=NO_OFFSET).by_model}
    assert models["strong"].outcomes == Outcomes(1, 1, pytest.approx(0.02))
    assert models["strong"].outcomes.cost_per_success == pytest.approx(0.02)


def test_votes_and_cost_per_success_with_votes(store):
    _add_votes(store)
    stats = compute(store, utc_offset=NO_OFFSET)
    models = {m.model_alias: m for m in stats.by_model}
    assert models["strong"].votes == Votes(shown=2, wins=1, ties=0, all_bad=1)
    assert models["cheap"].votes == Votes(shown=3, wins=0, ties=1, all_bad=1)
    assert models["broken"].votes == Votes(shown=1, wins=0, ties=1, all_bad=0)
    assert stats.votes == Votes(6, 1, 2, 2)
    assert "votes: 1 win, 2 ties, 2 all bad over 6 model showings" in stats_summary(stats)
    # cheap: feedback good $0.001, bad $0.0005 (behind it an unpriced hop); lost vote 1 ($0 spent there),
    # all-bad on prompt 1 ($0.001), tie on prompt 2 ($0.0005): 5 judged, 2 successes, $0.003 + unknown.
    assert models["cheap"].outcomes == Outcomes(5, 2, pytest.approx(0.003), unpriced=1)
    # strong: won vote 1 ($0.02), all-bad on prompt 1 (it never answered it: $0).
    assert models["strong"].outcomes == Outcomes(2, 1, pytest.approx(0.02))
    routes = {r.route: r for r in stats.by_route}
    assert routes["code"].outcomes == Outcomes(2, 1, pytest.approx(0.02))
    # everyday: also broken's side of the tie, whose one call had no known price.
    assert routes["everyday"].outcomes == Outcomes(6, 3, pytest.approx(0.003), unpriced=2)
    assert routes["everyday"].outcomes.cost_per_success is None
    assert routes["code"].outcomes.cost_per_success == pytest.approx(0.02)


def test_an_empty_store_has_zero_stats(tmp_path):
    stats = compute(Store(tmp_path / "h.db"), baseline=STRONG)
    assert (stats.turns, stats.requests, stats.cost_usd, stats.error_rate, stats.fallback_rate) == (0, 0, 0, 0, 0)
    assert stats.by_day == [] and stats.by_model == [] and stats.ttft == Percentiles(None, None)
    assert stats.savings.saved_usd == 0


def test_percentiles_computed_by_the_store_equal_those_of_the_raw_values(tmp_path):
    """The store seeks to each rank along an index; the figures must be those of sorting every value."""
    import random

    rng = random.Random(3)
    store = Store(tmp_path / "h.db")
    raw: dict[str, list[tuple[float, float, float]]] = {"a": [], "b": []}
    conversation, prompt = store.start_turn(None, "p", "default")
    reply = store.start_reply(conversation)
    for i in range(301):
        alias = rng.choice("ab")
        started = _at(1 + i % 20, rng.randrange(24))
        ttft, latency = rng.uniform(10, 2000), rng.uniform(100, 9000)
        failed = rng.random() < 0.2
        _record(store, conversation, prompt, reply, alias, "r", 0, started, (1, 1), 0.0, ttft, latency,
                Failure.SERVER_ERROR if failed else None)
        if not failed:
            raw[alias].append((started, ttft / 1000 * 1000, latency / 1000 * 1000))  # as the store keeps them
    since = datetime(2025, 3, 8, tzinfo=UTC)
    for window in (None, since):
        stats = compute(store, since=window, utc_offset=NO_OFFSET)
        kept = {alias: [v for v in values if window is None or v[0] >= window.timestamp()]
                for alias, values in raw.items()}
        for model in stats.by_model:
            values = kept[model.model_alias]
            assert model.ttft == percentiles([v[1] for v in values])
            assert model.latency == percentiles([v[2] for v in values])
        everything = [v for values in kept.values() for v in values]
        assert stats.ttft == percentiles([v[1] for v in everything])
        assert stats.latency == percentiles([v[2] for v in everything])


def test_fallback_rate_is_replies_answered_by_another_model_and_retries_are_apart(tmp_path):
    """A fallback is an answer from a model other than the reply's first; another attempt on a model
    already tried for that reply is a retry (issue #13: retries were counted as fallbacks)."""
    store = Store(tmp_path / "h.db")
    chains = [
        [("a", None)],                                          # answered by the first model
        [("a", Failure.SERVER_ERROR), ("a", None)],             # a retry answered: no fallback
        [("a", Failure.SERVER_ERROR), ("b", None)],             # a fallback
        [("a", Failure.TIMEOUT), ("a", Failure.TIMEOUT), ("b", None)],  # a retry, then a fallback
        [("a", Failure.SERVER_ERROR)] * 3,                      # --model: retries only, unanswered
    ]
    conversation, prompt = store.start_turn(None, "q", "default")
    for chain in chains:
        reply = store.start_reply(conversation)
        for hop, (alias, failure) in enumerate(chain):
            _record(store, conversation, prompt, reply, alias, "r", hop, _at(1, 10, hop), (1, 1), 0.001, 10, 20,
                    failure)
    # Side by side: one prompt, two replies, each its model's first attempt.
    for alias in ("a", "b"):
        _record(store, conversation, prompt, store.start_reply(conversation), alias, "r", 0, _at(2, 10), (1, 1),
                0.001, 10, 20)
    stats = compute(store, utc_offset=NO_OFFSET)
    assert (stats.answered, stats.fallbacks, stats.retries) == (6, 2, 4)
    assert stats.fallback_rate == 2 / 6
    later = compute(store, since=datetime(2025, 3, 2, tzinfo=UTC), utc_offset=NO_OFFSET)
    assert (later.answered, later.fallbacks, later.retries) == (2, 0, 0)
    store.close()


# How fallbacks and retries were counted before attempts carried them: every reply's attempts grouped by model.
GROUPED_HOPS = ("SELECT count(*) FILTER (WHERE answered AND first_hop > 0), total(tries - 1) FROM (SELECT count(*) "
                "AS tries, max(failure IS NULL) AS answered, min(hop) AS first_hop FROM attempts "
                "WHERE reply_message_id IS NOT NULL GROUP BY reply_message_id, model_alias)")


def test_recorded_and_migrated_retry_and_fallback_marks_match_grouping_every_reply(tmp_path):
    """Random chains of hops over three models (retries, fallbacks, side by side, unanswered), recorded
    through the store; the same rows in a store of the previous schema get the same marks from the
    migration; both give the counts the grouping gave."""
    rng = random.Random(5)
    store = Store(tmp_path / "new.db")
    conversation, prompt = store.start_turn(None, "q", "default")
    for turn in range(300):
        if turn % 10 == 0:
            conversation, prompt = store.start_turn(conversation, "q", "default")
        reply = store.start_reply(conversation)
        hops = rng.choice([1, 1, 2, 3, 4])
        answered = rng.random() < 0.8
        for hop in range(hops):
            failure = None if answered and hop == hops - 1 else rng.choice([Failure.SERVER_ERROR, Failure.TIMEOUT])
            _record(store, conversation, prompt, reply, rng.choice("abc"), "r", hop, _at(1, 10, turn % 60), (1, 1),
                    0.001, 10, 20, failure)
    rows = store.db.execute("SELECT id, reply_message_id, model_alias, hop, retry, fallback FROM attempts "
                            "ORDER BY id").fetchall()
    tried: dict[int, list[str]] = {}
    for _, reply, alias, _, retry, fallback in rows:
        before = tried.setdefault(reply, [])
        assert (retry, fallback) == (int(alias in before), int(bool(before) and before[0] != alias))
        before.append(alias)
    fallbacks, retries = store.db.execute(GROUPED_HOPS).fetchone()
    assert retries > 50 and fallbacks > 20  # the chains exercise both
    stats = compute(store, utc_offset=NO_OFFSET)
    assert (stats.fallbacks, stats.retries) == (fallbacks, retries)

    old = tmp_path / "old.db"
    db = sqlite_utils.Database(old)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, apply in MIGRATIONS[:-1]:
        apply(db)
        db.execute("INSERT INTO _migrations VALUES (?, '2025-01-01')", (name,))
    columns = ", ".join(c.name for c in db["attempts"].columns)
    db.execute(f"ATTACH '{tmp_path / 'new.db'}' AS new")
    for table in ("conversations", "messages"):
        db.execute(f"INSERT INTO {table} SELECT * FROM new.{table}")
    db.execute(f"INSERT INTO attempts ({columns}) SELECT {columns} FROM new.attempts")
    db.conn.commit()
    db.conn.close()
    migrated = Store(old)
    assert migrated.db.execute("SELECT id, reply_message_id, model_alias, hop, retry, fallback FROM attempts "
                               "ORDER BY id").fetchall() == rows
    again = compute(migrated, utc_offset=NO_OFFSET)
    assert (again.fallbacks, again.retries) == (fallbacks, retries)
    migrated.close()
    store.close()


async def test_fallbacks_and_retries_from_real_turns(tmp_path, server, make_profile):
    """Over real HTTP: a routed turn retries its failing model then falls back; a turn forced onto one
    model (`--model`) can only retry."""
    from playground.services.events import ReplyDone
    from playground.services.session import open_session

    server.script("broken", status=503)
    server.script("good", text="fine")
    session = open_session(str(make_profile(["broken", "good"], retries={"server_error": 1, "backoff_s": 0},
                                         timeouts={"first_token": 30, "idle": 30, "total": 60})),
                           tmp_path / "h.db")

    async def turn(model: str | None = None) -> str:
        async for event in session.chat.send("hello", model=model):
            if isinstance(event, ReplyDone):
                return event.reply.status
        return "no reply"

    assert await turn() == "complete"  # broken, broken again, then good
    assert await turn("broken") == "failed"  # broken twice: no fallback when forced
    assert await turn("good") == "complete"
    assert server.hits["broken"] == 4 and server.hits["good"] == 2, session.store.read(
        lambda cursor: [tuple(row) for row in cursor.execute("SELECT model_alias, hop, failure FROM attempts")])
    stats = compute(session.store, utc_offset=NO_OFFSET)
    assert (stats.turns, stats.answered, stats.fallbacks, stats.retries) == (3, 2, 1, 2)
    assert stats.fallback_rate == 1 / 2
    session.store.close()
