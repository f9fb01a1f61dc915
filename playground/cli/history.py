"""`playground history`, `stats` and `export-history`: the history store from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from playground.base.dates import parse_since
from playground.base.paths import default_db_path
from playground.base.safetext import one_line
from playground.history.stats import Stats
from playground.history.store import HistoryFilter, Store, StoreError
from playground.present.format import conversation_title, dollars, local_time, milliseconds, percent, stats_summary


def run(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if getattr(args, "since", None) else None
    except ValueError as exc:
        return _fail(str(exc))
    if args.command == "stats":
        return _stats(args, since)
    try:
        store = Store(Path(args.db) if args.db else default_db_path())
    except StoreError as exc:
        return _fail(str(exc))
    try:
        if args.command == "export-history":
            return _export(store, args)
        if args.history_command == "purge":
            return _purge(store, args)
        return _list(store, args, since)
    finally:
        store.close()


def _fail(message: str, code: int = 2) -> int:
    print(f"playground: error: {message}", file=sys.stderr)
    return code


# history ---------------------------------------------------------------------------------------

def _unfinished(store: Store, conversation_id: str) -> str:
    """For a conversation no model finished answering: whether a partial reply is kept, and whose."""
    partial = [m for m in store.messages(conversation_id) if m.role == "assistant" and m.content]
    if not partial:
        return "no reply"
    last = partial[-1]
    return f"partial reply, {last.status}" + (f": {last.model_alias}" if last.model_alias else "")


def _list(store: Store, args: argparse.Namespace, since: datetime | None) -> int:
    if args.limit < 1:
        return _fail("--limit must be at least 1")
    search = args.text if args.history_command == "search" else ""
    found = store.conversations(HistoryFilter(search=search, model=args.model, since=since, limit=args.limit))
    if args.json:
        print(json.dumps([asdict(s) for s in found], indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("no conversations" + (f" match {search!r}" if search else ""), file=sys.stderr)
        return 0
    for summary in found:
        print(f"{local_time(summary.updated_at)}  {dollars(summary.cost_usd):>10}  {summary.id}  "
              f"{conversation_title(summary)}  [{', '.join(summary.models) or _unfinished(store, summary.id)}]")
        if summary.snippet:
            print(f"    … {one_line(summary.snippet, 120)}")
    return 0


def _purge(store: Store, args: argparse.Namespace) -> int:
    count = store.conversation_count()
    if not args.yes:
        print(f"Delete all {count} conversations (prompts, replies, attempts, feedback) and the pre-upgrade "
              f"backups of {store.path}? This cannot be undone. Type 'yes' to confirm: ", end="", file=sys.stderr,
              flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer != "yes":
            print("nothing deleted", file=sys.stderr)
            return 1
    deleted = store.purge()
    print(f"deleted {deleted} conversations", file=sys.stderr)
    return 0


# export ----------------------------------------------------------------------------------------

def _export(store: Store, args: argparse.Namespace) -> int:
    from playground.history.export import write_csv, write_jsonl

    write = write_jsonl if args.format == "jsonl" else write_csv
    if not args.output:
        write(store, sys.stdout)
        return 0
    try:
        # newline="": the csv module writes its own line ends.
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = write(store, out)
    except OSError as exc:
        return _fail(f"{args.output}: {exc.strerror}")
    print(f"wrote {count} messages to {args.output}", file=sys.stderr)
    return 0


# stats -----------------------------------------------------------------------------------------

def _stats(args: argparse.Namespace, since: datetime | None) -> int:
    from playground.config.profile import ProfileError
    from playground.history.stats import compute, to_dict
    from playground.services.session import open_session

    try:
        session = open_session(args.profile, args.db)
    except (ProfileError, StoreError) as exc:
        return _fail(str(exc))
    try:
        baseline = None
        if args.baseline:
            if args.baseline not in session.catalog:
                return _fail(f"--baseline: no model {args.baseline!r} in profile {session.profile.name} "
                             f"(it has {', '.join(session.catalog.models)})")
            baseline = session.catalog[args.baseline]
            if baseline.input_price is None:
                return _fail(f"--baseline: {args.baseline} has no known price; add a price to the profile")
        stats = compute(session.store, since=since, baseline=baseline)
    finally:
        session.store.close()
    if args.json:
        print(json.dumps(to_dict(stats), indent=2))
    else:
        print(render_stats(stats))
    return 0


def render_stats(stats: Stats) -> str:
    lines = stats_summary(stats)
    if stats.by_day:
        lines += ["", "per day:"] + [f"  {d.day}  {d.requests:>6} requests  {dollars(d.cost_usd):>12}"
                                     for d in stats.by_day]
    if stats.by_model:
        lines += ["", f"  {'model':24} {'requests':>8} {'errors':>7} {'tokens in':>10} {'out':>9} {'cost':>12} "
                      f"{'TTFT p50/p95':>17} {'total p50/p95':>17} {'votes won':>9} {'$/success':>10}"]
        for m in stats.by_model:
            lines.append(
                f"  {one_line(m.model_alias, 24):24} {m.requests:>8} {percent(m.error_rate):>7} "
                f"{m.input_tokens:>10,} {m.output_tokens:>9,} {dollars(m.cost_usd):>12} "
                f"{milliseconds(m.ttft.p50_ms) + ' / ' + milliseconds(m.ttft.p95_ms):>17} "
                f"{milliseconds(m.latency.p50_ms) + ' / ' + milliseconds(m.latency.p95_ms):>17} "
                f"{f'{m.votes.wins}/{m.votes.shown}' if m.votes.shown else '–':>9} "
                f"{dollars(m.outcomes.cost_per_success) if m.outcomes.successes else '–':>10}")
    if stats.by_route:
        lines += ["", f"  {'route':24} {'prompts':>8} {'cost':>12} {'judged':>7} {'$/success':>10}"]
        for r in stats.by_route:
            lines.append(f"  {one_line(r.route or '–', 24):24} {r.turns:>8} {dollars(r.cost_usd):>12} "
                         f"{r.outcomes.judged:>7} "
                         f"{dollars(r.outcomes.cost_per_success) if r.outcomes.successes else '–':>10}")
    return "\n".join(lines)
