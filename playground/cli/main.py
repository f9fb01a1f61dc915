"""Command line: `playground` opens the TUI; `ask` answers one prompt headless, `compare` asks several
models; `history`, `stats` and `export-history` read the history store; `eval`, `tune` and `export` work
on profiles."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from playground import __version__
from playground.cli import route

INCOGNITO_HELP = "store tokens, cost, latency and model of each turn, but not its text"


def _common(default) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", "-p", default=default,
                        help="profile name (default, local-only) or path to a YAML file")
    common.add_argument("--db", default=default,
                        help="history database path (default: $PLAYGROUND_DB or the user data dir)")
    return common


def _parser() -> argparse.ArgumentParser:
    # Subcommands repeat --profile/--db with suppressed defaults, so `playground --db X ask …` keeps X.
    common = _common(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="playground", parents=[_common(None)],
                                     description="Route prompts across LLMs and see which model answered, why, "
                                                 "and what it cost.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--incognito", action="store_true", help=INCOGNITO_HELP)
    commands = parser.add_subparsers(dest="command")
    tui = commands.add_parser("tui", parents=[common], help="open the chat (the default)")
    ask = commands.add_parser("ask", parents=[common], help="answer one prompt and record it in history")
    for sub in (tui, ask):
        # SUPPRESS: a subcommand's default must not undo `playground --incognito tui`.
        sub.add_argument("--incognito", action="store_true", default=argparse.SUPPRESS, help=INCOGNITO_HELP)
    ask.add_argument("prompt", help="the prompt; - reads it from standard input")
    ask.add_argument("--model", "-m", help="a profile alias or any LiteLLM model string (skips routing)")
    ask.add_argument("--api-base", help="an OpenAI-compatible server for --model (Ollama, LM Studio, vLLM)")
    ask.add_argument("--conversation", "-c", help="continue this conversation id")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ask.add_argument("--explain", action="store_true", help="print the routing decision trace to stderr")
    ask.add_argument("--tag", "-t", action="append", default=[], help="a task tag for routing (like a #tag prefix)")

    _history_parsers(commands, common)
    route.add_parser(commands, common)

    doctor = commands.add_parser("doctor", parents=[common], help="check keys, the local model, the store and versions")
    doctor.add_argument("--json", action="store_true")

    profile = commands.add_parser("profile", help="work with routing profiles")
    profile_commands = profile.add_subparsers(dest="profile_command", required=True)
    check = profile_commands.add_parser("check", help="validate profiles; one line per problem")
    check.add_argument("files", nargs="+", help="profile YAML files (or bundled profile names)")

    prices = commands.add_parser("prices", help="model prices used for routing and cost figures")
    price_commands = prices.add_subparsers(dest="prices_command", required=True)
    refresh = price_commands.add_parser("refresh", help="download current prices (needs network) into a dated cache")
    refresh.add_argument("--source", choices=["litellm", "openrouter"], default="litellm")
    refresh.add_argument("--url", help="fetch from this URL instead of the source's public one (a mirror)")
    price_commands.add_parser("show", help="say which prices are in use")

    evaluate = commands.add_parser("eval", help="replay recorded outcomes through profiles: quality, cost, metrics")
    evaluate.add_argument("profile_file", metavar="PROFILE", help="profile name or YAML file")
    evaluate.add_argument("data", metavar="DATA.jsonl", help="replay data (one prompt with per-model outcomes a line)")
    evaluate.add_argument("more_profiles", metavar="PROFILE2", nargs="*", help="further profiles, side by side")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--plot", metavar="FILE.svg", help="also write the cost–quality curves as SVG")
    evaluate.add_argument("--live", action="store_true",
                          help="DATA is a prompt file: call the routed models for real, check each answer, record "
                               "it in history (lines: {prompt, check: exact|contains|regex|json|judge, expected})")
    evaluate.add_argument("--results", help="with --live: where results go (default DATA.results.jsonl); "
                                            "prompts already there are skipped, so an interrupted run resumes")
    evaluate.add_argument("--per-provider", type=int, default=2, help="with --live: concurrent calls per provider")
    evaluate.add_argument("--judge", help="with --live: the model that grades `judge` checks")

    tune = commands.add_parser("tune", parents=[common],
                               help="learn a profile's learned route from replay data and/or history")
    tune.add_argument("profile_file", metavar="PROFILE", help="profile name or YAML file to start from")
    tune.add_argument("--data", metavar="DATA.jsonl", help="replay data to learn the learned route from")
    tune.add_argument("--history", action="store_true",
                      help="also adjust selection weights from observed errors and latency, and per-route model "
                           "preferences from votes and good/bad marks, in your history (--db)")
    tune.add_argument("--target-quality", type=float, default=0.95,
                      help="keep this fraction of the strong model's quality (default 0.95)")
    tune.add_argument("--folds", type=int, default=5)
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("-o", "--output", required=True, help="where to write the tuned profile")
    tune.add_argument("--json", action="store_true", help="print the cross-validated report as JSON")

    export = commands.add_parser("export", help="write a profile as a LiteLLM proxy config or as normalised YAML")
    export.add_argument("profile_file", metavar="PROFILE", help="profile name or YAML file")
    export.add_argument("--format", choices=["litellm", "yaml"], default="litellm")
    export.add_argument("-o", "--output", help="file to write (created 0600); default: standard output")
    compare = commands.add_parser("compare", parents=[common],
                                  help="send one prompt to several models at once, print a table, record it")
    compare.add_argument("prompt", help="the prompt; - reads it from standard input")
    compare.add_argument("--model", "-m", action="append", default=[], required=True,
                         help="a profile alias or LiteLLM model string; give it 2 to 6 times")
    compare.add_argument("--api-base", help="an OpenAI-compatible server for every --model")
    compare.add_argument("--conversation", "-c", help="continue this conversation id")
    compare.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "route":
        return route.run(args)
    if args.command in ("history", "stats", "export-history"):
        from playground.cli.history import run

        return run(args)
    handler = {"ask": _ask, "profile": _profile_check, "prices": _prices, "export": _export, "eval": _eval,
               "tune": _tune, "compare": _compare, "doctor": _doctor}.get(args.command)
    if handler is not None:
        return handler(args)
    from playground.tui.app import run_tui

    return run_tui(profile=args.profile, db=args.db, incognito=args.incognito)


def _history_parsers(commands, common: argparse.ArgumentParser) -> None:
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    listing.add_argument("--model", "-m", help="only conversations this model answered")
    listing.add_argument("--since", help="only conversations active since DATE (2025-03-01, or 7d for a week)")
    listing.add_argument("--limit", "-n", type=int, default=50, help="at most this many (default 50)")
    history = commands.add_parser("history", parents=[common, listing], help="list past conversations")
    actions = history.add_subparsers(dest="history_command")
    search = actions.add_parser("search", parents=[common, listing], help="full-text search of prompts and replies")
    search.add_argument("text", help="words to find; quotes and operators are plain text")
    purge = actions.add_parser("purge", parents=[common], help="delete the whole history, after a confirmation")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    stats = commands.add_parser("stats", parents=[common], help="spend, tokens, latency, errors and savings")
    stats.add_argument("--since", help="only attempts since DATE (2025-03-01, or 7d for a week)")
    stats.add_argument("--baseline", "-b", help="a profile model alias: what the same tokens would have cost on it")
    stats.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    export = commands.add_parser("export-history", parents=[common], help="every message, one row each")
    export.add_argument("--format", "-f", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", "-o", help="write to this file instead of standard output")


def _fail(message: str, code: int = 2) -> int:
    print(f"playground: error: {message}", file=sys.stderr)
    return code


def _prices(args: argparse.Namespace) -> int:
    from playground.config import prices

    if args.prices_command == "show":
        table = prices.load_prices()
        print(f"{len(table.entries):,} models priced; source: {table.source}; cache: {prices.cache_path()}")
        return 0
    try:
        count, path = prices.refresh(args.source, args.url)
    except prices.PriceError as exc:
        return _fail(str(exc), 1)
    print(f"{count:,} models priced from {args.source}; saved to {path}")
    return 0


def _progress(label: str):
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\r{label}: {done:,}/{total:,} prompts", end="" if done < total else "\n", file=sys.stderr)

    return show


def _eval_live(args: argparse.Namespace) -> int:
    from pathlib import Path

    from playground.base.errors import SourceError
    from playground.config.profile import ProfileError
    from playground.history.store import StoreError
    from playground.services.live_eval import read_prompts, run_live, summarise
    from playground.services.session import open_session

    if args.more_profiles:
        return _fail("--live evaluates one profile at a time")
    if args.per_provider < 1:
        return _fail("--per-provider must be at least 1")
    data = Path(args.data)
    results = Path(args.results) if args.results else data.with_suffix(".results.jsonl")
    try:
        prompts = read_prompts(data)
        session = open_session(args.profile_file, args.db)
    except (SourceError, ProfileError, StoreError) as exc:
        return _fail(str(exc))
    if args.judge and args.judge not in session.catalog:
        return _fail(f"--judge {args.judge!r} is not a model of profile {session.profile.name!r}")
    session.refresh_local_models()
    session.seed_health()
    try:
        rows = asyncio.run(run_live(session, prompts, results, per_provider=args.per_provider, judge=args.judge,
                                    progress=_progress(f"live eval of {session.profile.name}")))
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished prompts are in {results}; run again to resume", file=sys.stderr)
        return 130
    finally:
        session.store.close()
    summary = summarise(rows)
    if args.json:
        print(json.dumps(summary | {"results": str(results)}, indent=2))
        return 0
    rate = "–" if summary["pass_rate"] is None else f"{summary['pass_rate']:.1%}"
    print(f"{summary['prompts']} prompts · {summary['answered']} answered · passed {summary['passed']}/"
          f"{summary['checked']} checked ({rate}) · ${summary['cost_usd']:.6f} · results in {results}")
    for model, m in sorted(summary["by_model"].items()):
        print(f"  {model:30} {m['prompts']:4} prompts  {m['passed']}/{m['checked']} passed  ${m['cost_usd']:.6f}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    if args.live:
        return _eval_live(args)
    from pathlib import Path

    from playground.base.paths import resolve_profile
    from playground.config.profile import ProfileError, load_profile
    from playground.policy.evaluation import EvalError, evaluate
    from playground.policy.replay import load_replay
    from playground.router.embeddings import EmbeddingError
    from playground.router.semantic import build_index

    try:
        profiles = [load_profile(resolve_profile(p)) for p in [args.profile_file, *args.more_profiles]]
        items = load_replay(Path(args.data))
        reports = []
        for profile in profiles:
            index = build_index(profile)
            reports.append(evaluate(profile, items, semantic=index, progress=_progress(f"routing with {profile.name}")))
    except (ProfileError, EvalError, EmbeddingError) as exc:
        return _fail(str(exc))
    if args.plot:
        from playground.base.files import write_private
        from playground.present.plots import svg_plot
        from playground.present.report import curve_series

        write_private(Path(args.plot), svg_plot(curve_series(reports), f"cost vs quality on {Path(args.data).name}"))
    if args.json:
        print(json.dumps({"data": args.data, "profiles": [r.to_dict() for r in reports]}, indent=2))
        return 0
    from playground.present.report import eval_text

    print(eval_text(reports, Path(args.data).name))
    return 0


def _tune(args: argparse.Namespace) -> int:
    from pathlib import Path

    from playground.base.files import write_private
    from playground.base.paths import resolve_profile
    from playground.config.profile import ProfileError, load_profile
    from playground.policy.evaluation import EvalError
    from playground.policy.export import to_profile_yaml
    from playground.policy.replay import load_replay
    from playground.policy.tune import tune
    from playground.present.format import dollars

    if args.folds < 2:
        return _fail("--folds must be at least 2")
    if not args.data and not args.history:
        return _fail("tune needs --data DATA.jsonl, --history, or both")

    def progress(stage: str, done: int, total: int) -> None:
        print(f"{stage} {done}/{total}", file=sys.stderr)

    report = history_report = None
    try:
        tuned = load_profile(resolve_profile(args.profile_file))
        if args.data:
            tuned, report = tune(tuned, load_replay(Path(args.data)), target_quality=args.target_quality,
                                 folds=args.folds, seed=args.seed, data_name=Path(args.data).name, progress=progress)
        if args.history:
            from playground.base.paths import default_db_path
            from playground.history.store import Store, StoreError
            from playground.policy.tune_history import tune_from_history

            try:
                store = Store(Path(args.db) if args.db else default_db_path())
            except StoreError as exc:
                return _fail(str(exc))
            try:
                tuned, history_report = tune_from_history(tuned, store)
            finally:
                store.close()
    except (ProfileError, EvalError) as exc:
        return _fail(str(exc))
    sources = " and ".join(filter(None, [Path(args.data).name if args.data else "", "history" if args.history else ""]))
    header = f"# Tuned by `playground tune` from {args.profile_file} on {sources}.\n"
    try:
        write_private(Path(args.output), header + to_profile_yaml(tuned))
    except OSError as exc:
        return _fail(f"{args.output}: cannot write: {exc.strerror}")
    if args.json:
        print(json.dumps({"replay": report.to_dict() if report else None, "history": history_report}, indent=2))
        return 0
    if history_report is not None:
        weights = history_report["selection"]
        print(f"history: {history_report['attempts']:,} attempts → selection weights cost {weights['cost']} · "
              f"latency {weights['latency']} · health {weights['health']}; preferences: "
              + (", ".join(f"{route}: {', '.join(models)}" for route, models in history_report["preferences"].items())
                 or "none yet (vote in compare, or mark replies with Ctrl+G/Ctrl+B)"))
    if report is None:
        print(f"wrote {args.output}")
        return 0

    def pct(value):
        return "–" if value is None else f"{value:.1%}"

    print(f"tuned {report.n:,} prompts · {report.folds}-fold cross-validation (every figure on held-out folds)")
    print(f"  cheap {report.cheap_model}: quality {report.cheap_quality:.3f} · strong {report.strong_model}: "
          f"quality {report.strong_quality:.3f}")
    print(f"  routed at the calibrated threshold: quality {report.cv_quality:.3f} "
          f"({report.cv_quality / report.strong_quality:.1%} of strong) · cost {dollars(report.cv_cost)} vs "
          f"{dollars(report.strong_cost)} all-strong · strong share {pct(report.cv_strong_share)}")
    print(f"  cost saved at {report.target_quality:.0%} of strong quality: {pct(report.cost_saved_at_target)} · "
          f"CPT(50%) {pct(report.cpt50)} · CPT(80%) {pct(report.cpt80)} · APGR {report.apgr:.3f}")
    print(f"  threshold {report.threshold:.4f} · wrote {args.output}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from playground.base.files import write_private
    from playground.base.paths import resolve_profile
    from playground.config.catalog import build_catalog
    from playground.config.profile import ProfileError, load_profile
    from playground.policy.export import to_litellm, to_profile_yaml

    try:
        profile = load_profile(resolve_profile(args.profile_file))
    except ProfileError as exc:
        return _fail(str(exc))
    if args.format == "yaml":
        text = to_profile_yaml(profile)
    else:
        export = to_litellm(profile, build_catalog(profile, env={}))
        text = export.to_yaml(profile)
        for line in export.unmapped:
            print(f"playground: not exported: {line}", file=sys.stderr)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        write_private(Path(args.output), text)
    except OSError as exc:
        return _fail(f"{args.output}: cannot write: {exc.strerror}")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _profile_check(args: argparse.Namespace) -> int:
    from playground.base.paths import resolve_profile
    from playground.config.profile import ProfileError, load_profile

    failed = 0
    for name in args.files:
        path = resolve_profile(name)
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            print(exc, file=sys.stderr)
            failed += 1
        else:
            print(f"{path}: ok ({profile.name}: {len(profile.models)} models, {len(profile.routes)} routes)")
            failed += _semantic_warnings(path, profile)
    return 1 if failed else 0


def _semantic_warnings(path, profile) -> int:
    """Print a warning per semantic route that its own utterances rarely reach; warnings do not fail."""
    if not profile.semantic_routes:
        return 0
    from playground.router.embeddings import EmbeddingError
    from playground.services.route_preview import threshold_warnings

    try:
        warnings = threshold_warnings(profile)
    except EmbeddingError as exc:
        print(f"{path}: note: semantic thresholds not checked: {exc}", file=sys.stderr)
        return 0
    for warning in warnings:
        print(f"{path}: warning: {warning}", file=sys.stderr)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from playground.services.doctor import run_checks, to_dicts

    checks = run_checks(args.profile, args.db)
    if args.json:
        print(json.dumps(to_dicts(checks), indent=2))
    else:
        for check in checks:
            print(f"{'✓' if check.ok else '○' if check.optional else '✗'} {check.name}: {check.detail}")
            if check.fix:
                print(f"    → {check.fix}")
    return 1 if any(not c.ok and not c.optional for c in checks) else 0


def _prompt_and_session(args: argparse.Namespace):
    """The prompt (from the argument or standard input) and a ready session, or an exit code."""
    from playground.config.profile import ProfileError
    from playground.history.store import StoreError
    from playground.services.session import open_session

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return _fail("the prompt is empty")
    try:
        session = open_session(args.profile, args.db)
    except (ProfileError, StoreError) as exc:
        return _fail(str(exc))
    session.refresh_local_models()
    return prompt, session


def _ask(args: argparse.Namespace) -> int:
    from playground.services.events import EmptyPrompt

    opened = _prompt_and_session(args)
    if isinstance(opened, int):
        return opened
    prompt, session = opened
    session.seed_health()
    if session.profile.semantic_routes and not args.model:
        from playground.router.embeddings import EmbeddingError

        try:
            session.build_semantic_index()
        except EmbeddingError as exc:
            print(f"playground: semantic routes skipped: {exc}", file=sys.stderr)
    model = None
    if args.model:
        model = session.add_model(args.model, args.api_base)
    elif args.api_base:
        return _fail("--api-base needs --model (the model name that server serves)")
    try:
        return asyncio.run(_run_ask(session, prompt, model, args))
    except EmptyPrompt as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("\ninterrupted: the prompt and the partial reply are saved in history", file=sys.stderr)
        return 130
    finally:
        session.store.close()


async def _run_ask(session, prompt: str, model: str | None, args: argparse.Namespace) -> int:
    from playground.present.format import decision_trace, dollars, failure_line, meta_line
    from playground.services.events import AttemptEnded, AttemptStarted, ReplyDone, Routed, TextDelta, TurnFailed

    out = sys.stdout
    streaming = not args.json
    printed = False
    async for event in session.chat.send(prompt, conversation_id=args.conversation, model=model,
                                         tags=frozenset(t.lower() for t in args.tag), incognito=args.incognito):
        if isinstance(event, Routed) and args.explain:
            print("\n".join(decision_trace(event.decision)), file=sys.stderr)
        elif isinstance(event, TextDelta) and streaming:
            out.write(event.text)
            out.flush()
            printed = True
        elif isinstance(event, AttemptStarted) and event.hop and streaming:
            if printed:
                out.write("\n")
                printed = False
            print(f"↻ {event.reason}; trying {event.model_alias}", file=sys.stderr)
        elif isinstance(event, AttemptEnded) and not event.attempt.ok and streaming:
            if printed:
                out.write("\n")
                printed = False
            print(failure_line(event.attempt), file=sys.stderr)
        elif isinstance(event, TurnFailed):
            if args.json:
                print(json.dumps({"conversation_id": event.conversation_id, "status": "failed",
                                  "error": event.message}))
            return _fail(event.message, 1)
        elif isinstance(event, ReplyDone):
            reply = event.reply
            if args.json:
                print(json.dumps({
                    "conversation_id": reply.conversation_id, "message_id": reply.message_id,
                    "status": reply.status, "text": reply.text, "model": reply.final.model_alias,
                    "cost_usd": reply.cost_usd, "conversation_cost_usd": event.conversation_cost,
                    "day_cost_usd": event.day_cost,
                    "attempts": [a.to_dict() | {"text": None} for a in reply.attempts],
                }, indent=2))
            else:
                if printed:
                    out.write("\n")
                print(meta_line(reply.final), file=sys.stderr)
                print(f"conversation {reply.conversation_id} · {dollars(event.conversation_cost)} · "
                      f"today {dollars(event.day_cost)}", file=sys.stderr)
            return 0 if reply.status == "complete" else 1
    return 1


def _compare(args: argparse.Namespace) -> int:
    from playground.services.compare import CompareError
    from playground.services.events import EmptyPrompt

    opened = _prompt_and_session(args)
    if isinstance(opened, int):
        return opened
    prompt, session = opened
    try:
        models = [session.add_model(name, args.api_base) for name in args.model]
        session.compare.check(models)
        return asyncio.run(_run_compare(session, prompt, models, args))
    except (CompareError, EmptyPrompt) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("\ninterrupted: the prompt and the partial replies are saved in history", file=sys.stderr)
        return 130
    finally:
        session.store.close()


async def _run_compare(session, prompt: str, models: list[str], args: argparse.Namespace) -> int:
    from playground.base.safetext import one_line
    from playground.present.format import dollars, seconds
    from playground.services.events import CompareDone

    async for event in session.compare.run(prompt, models, conversation_id=args.conversation):
        if isinstance(event, CompareDone):
            comparison = event.comparison
    columns = [(c, c.attempt) for c in comparison.columns]
    if args.json:
        print(json.dumps({
            "conversation_id": comparison.conversation_id, "prompt_message_id": comparison.prompt_message_id,
            "route": comparison.route, "category": comparison.category,
            "columns": [{"message_id": c.message_id, "status": c.status} | a.to_dict()
                        for c, a in columns],
        }, indent=2))
    else:
        rows = [("model", "status", "tokens in/out", "cost", "TTFT", "total", "answer")]
        for c, a in columns:
            tokens = f"{a.input_tokens if a.input_tokens is not None else '?'}/" \
                     f"{a.output_tokens if a.output_tokens is not None else '?'}{' est.' if a.tokens_estimated else ''}"
            answer = one_line(a.text, 60) if a.ok else one_line(f"✗ {a.failure}: {a.error}", 60)
            rows.append((c.model_alias, c.status, tokens, dollars(a.cost_usd), seconds(a.ttft_s),
                         seconds(a.latency_s), answer))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
        print(f"conversation {comparison.conversation_id} · route {comparison.route}", file=sys.stderr)
    return 0 if all(a.ok for _, a in columns) else 1
