"""Command line: `playground` opens the TUI; `ask` answers one prompt headless, `compare` asks several models."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from playground import __version__


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", "-p", help="profile name (default, local-only) or path to a YAML file")
    common.add_argument("--db", help="history database path (default: $PLAYGROUND_DB or the user data dir)")

    parser = argparse.ArgumentParser(prog="playground", parents=[common],
                                     description="Route prompts across LLMs and see which model answered, why, "
                                                 "and what it cost.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("tui", parents=[common], help="open the chat (the default)")
    ask = commands.add_parser("ask", parents=[common], help="answer one prompt and record it in history")
    ask.add_argument("prompt", help="the prompt; - reads it from standard input")
    ask.add_argument("--model", "-m", help="a profile alias or any LiteLLM model string (skips routing)")
    ask.add_argument("--api-base", help="an OpenAI-compatible server for --model (Ollama, LM Studio, vLLM)")
    ask.add_argument("--conversation", "-c", help="continue this conversation id")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
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
    if args.command == "ask":
        return _ask(args)
    if args.command == "compare":
        return _compare(args)
    from playground.tui.app import run_tui

    return run_tui(profile=args.profile, db=args.db)


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
    async for event in session.chat.send(prompt, conversation_id=args.conversation, model=model):
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


def _compare(args: argparse.Namespace) -> int:
    from playground.chat import EmptyPrompt
    from playground.compare import CompareError
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
    try:
        session.refresh_local_models()
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
    from playground.events import CompareDone
    from playground.format import dollars, seconds
    from playground.safetext import one_line

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
