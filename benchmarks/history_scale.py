"""History at scale: a generated store of 100k attempts in 50k conversations, then the figures the
history and stats screens depend on, and the app's first paint with an empty and with that store.

Targets: every search class p95 <= 50 ms (each class reported on its own), stats data <= 200 ms,
history screen open <= 300 ms (p50 and p95), and a first paint that does not grow with the history.

    .venv/bin/python -m benchmarks.history_scale [--db PATH] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from benchmarks.startup import time_to_marker
from playground.history.store import HistoryFilter, Store

CONVERSATIONS = 50_000
MODELS = [("gpt-4o-mini", 0.15, 0.6), ("gpt-4.1", 2.0, 8.0), ("claude-haiku", 1.0, 5.0),
          ("gemini-flash", 0.3, 2.5), ("smollm2", 0.0, 0.0)]
ROUTES = ["everyday", "code", "long"]


def _vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zen", "pri", "sto", "gal", "dex", "um", "or", "bi"]
    words = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def generate(path: Path, seed: int = 7) -> None:
    """Bulk inserts in one transaction on the real schema, FTS triggers included."""
    rng = random.Random(seed)
    words = _vocabulary(rng)
    # Zipf-like: a few words are everywhere, most are rare, as in real text.
    weights = [1 / (rank + 1) for rank in range(len(words))]

    def text(low: int, high: int) -> str:
        return " ".join(rng.choices(words, weights, k=rng.randint(low, high)))

    Store(path).close()  # the schema, through the migrations
    store = Store(path)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    conversations, messages, attempts = [], [], []
    message_id = turn_count = 0
    # 1.6 turns a conversation and a fallback on a quarter of the turns: 50k conversations, 80k
    # turns, 100k attempts, 160k messages.
    for index in range(CONVERSATIONS):
        conversation = f"c{index:06d}"
        when = start + timedelta(seconds=index * 600)
        turns = 1 if index % 5 < 2 else 2
        first_prompt = None
        for _ in range(turns):
            prompt = text(6, 40)
            first_prompt = first_prompt or prompt
            reply = text(30, 160)
            message_id += 2
            stamp = when.isoformat(timespec="milliseconds")
            messages.append((message_id - 1, conversation, "user", prompt, "complete", None, stamp))
            route = rng.choice(ROUTES)
            hops = 2 if turn_count % 4 == 3 else 1
            turn_count += 1
            final_alias = None
            tried: list[str] = []
            for hop in range(hops):
                alias, price_in, price_out = rng.choice(MODELS)
                # As the store marks them: a retry is a model already tried, a failover another than the first.
                retry, failover = int(alias in tried), int(bool(tried) and tried[0] != alias)
                tried.append(alias)
                tokens_in, tokens_out = rng.randint(20, 2000), rng.randint(20, 800)
                failed = hop < hops - 1
                cost = (tokens_in * price_in + (0 if failed else tokens_out) * price_out) / 1e6
                ttft = rng.lognormvariate(-1, 0.6) * 1000
                attempts.append((conversation, message_id - 1, message_id, hop, alias, f"x/{alias}", route,
                                 f"{route} route", stamp, ttft, ttft + rng.uniform(200, 6000),
                                 tokens_in, 0 if failed else tokens_out, cost, "server_error" if failed else None,
                                 "" if failed else reply, retry, failover))
                final_alias = alias
            messages.append((message_id, conversation, "assistant", reply, "complete", final_alias, stamp))
            when += timedelta(seconds=30)
        conversations.append((conversation, first_prompt[:80], rng.choice(["default", "local-only"]),
                              start.isoformat(timespec="milliseconds"), stamp))
    with store.transaction() as conn:
        conn.executemany("INSERT INTO conversations (id, title, profile, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", conversations)
        conn.executemany("INSERT INTO messages (id, conversation_id, role, content, status, model_alias, "
                         "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?7)", messages)
        conn.executemany("INSERT INTO attempts (conversation_id, prompt_message_id, reply_message_id, hop, "
                         "model_alias, model, route, reason, started_at, ttft_ms, latency_ms, input_tokens, "
                         "output_tokens, cost_usd, failure, output, retry, fallback) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", attempts)
        conn.execute("ANALYZE")
    store.close()
    # Outside the write transaction: a checkpoint inside it fails ("database table is locked").
    checkpoint = sqlite3.connect(path)
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoint.close()


def _timed(call, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _line(name: str, times: list[float], target: float | None = None) -> str:
    """The target applies to p95 as well as p50."""
    times = sorted(times)
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    verdict = "" if target is None else \
        f"  target p95 <= {target:.0f} ms: {'met' if max(p50, p95) <= target else 'NOT met'}"
    return f"{name:44} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (n={len(times)}){verdict}"


def search_queries(words: list[str], rng: random.Random, store: Store) -> dict[str, list[str]]:
    """20 queries a class; a phrase is two adjacent words of a stored message, in quotes."""
    def phrase() -> str:
        text = store.db.execute("SELECT content FROM messages WHERE id = ?",
                                (rng.randrange(1, 160_000),)).fetchone()[0].split()
        start = rng.randrange(len(text) - 1)
        return f'"{text[start]} {text[start + 1]}"'

    typed = [words[i] for i in rng.sample(range(0, 300), 4)]
    return {
        "common word": [words[i] for i in rng.sample(range(0, 20), 20)],
        "mid-frequency word": [words[i] for i in rng.sample(range(200, 1000), 20)],
        "rare word": [words[i] for i in rng.sample(range(4000, 6000), 20)],
        "two words": [f"{words[rng.randrange(50, 500)]} {words[rng.randrange(50, 500)]}" for _ in range(20)],
        "three common words": [" ".join(words[rng.randrange(0, 50)] for _ in range(3)) for _ in range(20)],
        "phrase in quotes": [phrase() for _ in range(20)],
        "prefix as typed (3 letters)": [words[rng.randrange(0, 6000)][:3] for _ in range(20)],
        # Every keystroke of four common words, as the history screen's search box sends them.
        "keystroke by keystroke (common words)": [word[:n] for word in typed for n in range(1, len(word) + 1)],
        "operators and quotes": ['"AND', "NEAR(", "a OR (b", '"unbalanced', "*"] * 4,
    }


async def _history_open_ms(db: Path, runs: int, changed: bool = False) -> list[float]:
    """F3 until the rows are shown. `changed`: the newest conversation is renamed before each open, as a
    turn in the chat changes the list, so the screen cannot keep the rows it showed last time."""
    from playground.services.session import open_session
    from playground.tui.app import PlaygroundApp
    from playground.tui.screens.history import HistoryScreen

    session = open_session("default", db)
    newest = session.store.conversations()[0]
    times = []
    async with PlaygroundApp(session, load_engine=False).run_test(size=(140, 44)) as pilot:
        for run in range(runs):
            if changed:
                session.store.rename_conversation(newest.id, f"{newest.title} ({run})")
            started = time.perf_counter()
            await pilot.press("f3")
            # The screen is kept between opens, but says "loading…" until its new list is shown.
            while not (isinstance(pilot.app.screen, HistoryScreen)
                       and "conversations" in str(pilot.app.screen.query_one("#history-status").render())):
                await asyncio.sleep(0.002)
            times.append((time.perf_counter() - started) * 1000)
            await pilot.press("escape")
            await pilot.pause(0.1)
    if changed:
        session.store.rename_conversation(newest.id, newest.title)  # the store as generated, for the next run
    session.store.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="reuse (or create) the generated store here")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pg-scale-"))
    db = Path(args.db) if args.db else work / "big.db"
    rng = random.Random(1)
    if not db.exists():
        started = time.perf_counter()
        generate(db)
        print(f"generated {db} in {time.perf_counter() - started:.1f} s")
    words = _vocabulary(random.Random(7))
    started = time.perf_counter()
    store = Store(db)
    print(f"opened (and migrated, if needed) in {time.perf_counter() - started:.1f} s; schema v{store.schema_version}")
    counts = {t: store.db[t].count for t in ("conversations", "messages", "attempts")}
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if ".bak-" not in p.name)
    print(f"store: {counts['conversations']:,} conversations, {counts['messages']:,} messages, "
          f"{counts['attempts']:,} attempts; {size / 1e6:.0f} MB on disk")

    from playground.base.paths import resolve_profile
    from playground.config.catalog import build_catalog
    from playground.config.profile import load_profile
    from playground.history.stats import compute

    baseline = build_catalog(load_profile(resolve_profile("default")))["gpt-4.1"]
    print()
    all_search: list[float] = []
    for kind, queries in search_queries(words, rng, store).items():
        times = [t for q in queries for t in _timed(lambda q=q: store.conversations(HistoryFilter(search=q)), 1)]
        all_search += times
        print(_line(f"search: {kind}", times, 50))
    print(_line("search: all of the above (list + snippets)", all_search, 50))
    print(_line("history list, no search (first page)", _timed(lambda: store.conversations(), args.runs * 4)))
    print(_line("stats data, all time, with baseline",
                _timed(lambda: compute(store, baseline=baseline), args.runs), 200))
    whole = compute(store)
    print(f"  failover rate {whole.fallback_rate:.1%} of {whole.answered:,} answered replies; "
          f"{whole.retries:,} retries (the generator answers 1 turn in 4 after a failed hop, on a random model)")
    since = datetime(2025, 9, 1, tzinfo=UTC)
    print(_line("stats data, since 2025-09-01 (a third)", _timed(lambda: compute(store, since=since, baseline=baseline),
                                                    args.runs), 200))
    store.close()
    print(_line("history screen open (F3 to rows shown)", asyncio.run(_history_open_ms(db, args.runs)), 300))
    print(_line("history screen open, the list changed since", asyncio.run(_history_open_ms(db, args.runs, True)),
                300))

    print()
    empty = work / "empty.db"
    Store(empty).close()
    python = sys.executable
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40", LITELLM_LOCAL_MODEL_COST_MAP="True",
               PLAYGROUND_HOME=str(work))
    paint = {}
    for name, path in (("empty store", empty), ("big store", db)):
        def run(path=path):
            return time_to_marker([python, "-m", "playground", "--db", str(path)], b"Profile default", env)
        run()  # warm caches
        paint[name] = [run() * 1000 for _ in range(args.runs)]
    for name, times in paint.items():
        print(_line(f"first paint, {name}", times))
    ratio = statistics.median(paint["big store"]) / statistics.median(paint["empty store"])
    print(f"first paint big / empty: {ratio:.2f}x (startup must not grow with history)")


if __name__ == "__main__":
    main()
