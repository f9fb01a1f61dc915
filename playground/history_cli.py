"""`playground history`, `stats` and `export-history`: reading the store from the command line."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date

from playground.format import dollars
from playground.safetext import clean


def _fail(message: str, code: int = 2) -> int:
    print(f"playground: error: {message}", file=sys.stderr)
    return code


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"--since {value!r}: expected a date like 2026-11-24") from None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from playground.paths import default_db_path
    from playground.store import Store, StoreError

    try:
        since = _since(getattr(args, "since", None))
        store = Store(Path(args.db) if args.db else default_db_path())
    except (ValueError, StoreError) as exc:
        return _fail(str(exc))
    try:
        if args.command == "stats":
            return _stats(store, since, args)
        if args.command == "export-history":
            return _export(store, args)
        return _history(store, since, args)
    finally:
        store.close()


def _history(store, since: str | None, args: argparse.Namespace) -> int:
    command = args.history_command
    if command == "purge":
        count = len(store.conversations(limit=1_000_000))
        if not args.yes:
            if not sys.stdin.isatty():
                return _fail("purge deletes every saved conversation; add --yes to confirm")
            answer = input(f"Delete all {count} conversations from {store.path}? Type 'yes' to confirm: ")
            if answer.strip().lower() != "yes":
                print("nothing deleted")
                return 1
        print(f"deleted {store.purge()} conversations from {store.path}")
        return 0
    if command == "search":
        hits = store.search(args.text, limit=args.limit)
        if args.json:
            print(json.dumps(hits, indent=2))
        for hit in [] if args.json else hits:
            print(f"{hit['created_at'][:16]}  {hit['conversation_id'][:8]}  {hit['role']:9}  "
                  f"{clean(' '.join(hit['snippet'].split()))}")
        if not hits and not args.json:
            print("no match", file=sys.stderr)
        return 0
    if command == "show":
        rows = [c for c in store.export() if c["id"].startswith(args.conversation)]
        if len(rows) != 1:
            return _fail(f"{'no' if not rows else 'more than one'} conversation starts with {args.conversation!r}")
        if args.json:
            print(json.dumps(rows[0], indent=2))
            return 0
        conversation = rows[0]
        print(f"{conversation['title']} · {conversation['profile']} · {conversation['created_at'][:16]}")
        for message in conversation["messages"]:
            who = "you" if message["role"] == "user" else (message["model_alias"] or "assistant")
            state = "" if message["status"] == "complete" else f" [{message['status']}]"
            print(f"\n{who}{state}:\n{clean(message['content'])}")
        return 0
    rows = store.conversations(limit=args.limit, model=args.model, since=since)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        title = clean(row["title"] or "")[:50]
        print(f"{row['updated_at'][:16]}  {row['id'][:8]}  {title:50}  {row['turns']:3} turns  "
              f"{dollars(row['cost_usd']):>10}  {row['models'] or '–'}")
    if not rows:
        print("no conversations yet", file=sys.stderr)
    return 0


def _baseline_price(name: str, profile_name: str | None) -> tuple[str, float, float]:
    from playground.catalog import build_catalog, describe
    from playground.paths import resolve_profile
    from playground.prices import load_prices
    from playground.profile import ModelSpec, load_profile

    prices = load_prices()
    catalog = build_catalog(load_profile(resolve_profile(profile_name)), env={}, prices=prices)
    info = catalog[name] if name in catalog else describe(name, ModelSpec(model=name), {}, prices)
    if info.input_price is None or info.output_price is None:
        raise ValueError(f"--baseline {name!r}: no price known for it (add a price to the profile)")
    return name, info.input_price, info.output_price


def _stats(store, since: str | None, args: argparse.Namespace) -> int:
    from playground.profile import ProfileError
    from playground.stats import compute

    try:
        baseline = _baseline_price(args.baseline, args.profile) if args.baseline else None
    except (ValueError, ProfileError) as exc:
        return _fail(str(exc))
    result = compute(store, since, baseline).to_dict()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['turns']} prompts · {result['answered']} answered · {result['attempts']} attempts · "
          f"spend {dollars(result['spend_usd'])} · tokens {result['input_tokens']:,} in / "
          f"{result['output_tokens']:,} out")
    print(f"errors {result['error_rate']:.1%} of attempts · fallbacks {result['fallback_rate']:.1%} of answers")
    if result["baseline"]:
        b = result["baseline"]
        print(f"all on {b['model']}: {dollars(b['would_cost_usd'])} → routing saved {dollars(b['saved_usd'])}")

    def ms(value):
        return "–" if value is None else f"{value:.0f}"

    print(f"\n{'model':28} {'attempts':>8} {'errors':>7} {'spend':>11} {'TTFT p50/p95 ms':>16} {'total p50/p95 ms':>17}")
    for model, m in sorted(result["per_model"].items(), key=lambda kv: -kv[1]["spend_usd"]):
        print(f"{model[:28]:28} {m['attempts']:8} {m['error_rate']:7.1%} {dollars(m['spend_usd']):>11} "
              f"{ms(m['ttft_p50_ms']) + '/' + ms(m['ttft_p95_ms']):>16} "
              f"{ms(m['latency_p50_ms']) + '/' + ms(m['latency_p95_ms']):>17}")
    print(f"\n{'day':12} {'attempts':>8} {'spend':>11}")
    for day, d in sorted(result["per_day"].items()):
        print(f"{day:12} {d['attempts']:8} {dollars(d['spend_usd']):>11}")
    return 0


def _export(store, args: argparse.Namespace) -> int:
    from pathlib import Path

    from playground.export import write_private

    if args.format == "jsonl":
        text = "".join(json.dumps(conversation) + "\n" for conversation in store.export())
    else:
        buffer = io.StringIO()
        writer = None
        for conversation in store.export():
            for attempt in conversation["attempts"]:
                row = {"conversation_title": conversation["title"], **attempt}
                if writer is None:
                    writer = csv.DictWriter(buffer, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
        text = buffer.getvalue()
    if not args.output:
        sys.stdout.write(text)
        return 0
    write_private(Path(args.output), text)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
