"""Command line: `playground` opens the TUI; `playground ask` answers one prompt headless; `history`,
`stats` and `export-history` read the history store."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from playground import __version__

INCOGNITO_HELP = "store tokens, cost, latency and model of each turn, but not its text"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", "-p", help="profile name (default, local-only) or path to a YAML file")
    common.add_argument("--db", help="history database path (default: $PLAYGROUND_DB or the user data dir)")

    parser = argparse.ArgumentParser(prog="playground", parents=[common],
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
    _history_parsers(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "ask":
        return _ask(args)
    if args.command in ("history", "stats", "export-history"):
        from playground.history_cli import run

        return run(args)
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


def _ask(args: argparse.Namespace) -> int:
    from playground.chat import EmptyPrompt
    from playground.profile import ProfileError
    from playground.session import open_session
    from playground.store import StoreError

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return _fail("the prompt is empty")
    try:
        session = open_session(args.profile, args.db)
    except (ProfileError, StoreError) as exc:
        return _fail(str(exc))
    session.refresh_local_models()
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
    from playground.events import AttemptEnded, AttemptStarted, ReplyDone, TextDelta, TurnFailed
    from playground.format import dollars, failure_line, meta_line

    out = sys.stdout
    streaming = not args.json
    printed = False
    async for event in session.chat.send(prompt, conversation_id=args.conversation, model=model,
                                         incognito=args.incognito):
        if isinstance(event, TextDelta) and streaming:
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
