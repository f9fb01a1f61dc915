"""`playground route`: which route and model a prompt would take, and why, without calling a model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    route = commands.add_parser("route", parents=[common],
                                help="show the routing decision for prompts without calling a model")
    route.add_argument("prompt", nargs="?", help="the prompt; - reads it from standard input")
    route.add_argument("--file", "-f", help="prompts to route: JSON Lines with `prompt` and optional `expected` "
                                            "(then accuracy and a confusion table), or one prompt a line")
    route.add_argument("--json", action="store_true", help="JSON: one object (a prompt) or one per line (--file)")


def run(args: argparse.Namespace) -> int:
    from playground.base.errors import SourceError
    from playground.config.profile import ProfileError
    from playground.history.store import StoreError
    from playground.present.routes import route_line, scorecard_lines
    from playground.router.embeddings import EmbeddingError
    from playground.services.route_preview import PromptCase, check_expected, read_cases, route_prompts, score
    from playground.services.session import open_session

    def fail(message: str) -> int:
        print(f"playground: error: {message}", file=sys.stderr)
        return 2

    if (args.prompt is None) == (args.file is None):
        return fail("give a prompt or --file, not both")
    try:
        if args.file:
            cases = read_cases(Path(args.file))
        else:
            prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
            if not prompt.strip():
                return fail("the prompt is empty")
            cases = [PromptCase(prompt)]
        session = open_session(args.profile, args.db)
        check_expected(session, cases)
    except (SourceError, ProfileError, StoreError) as exc:
        return fail(str(exc))
    session.refresh_local_models()
    if session.profile.semantic_routes:
        try:
            session.build_semantic_index()
        except EmbeddingError as exc:
            print(f"playground: semantic routes skipped: {exc}", file=sys.stderr)
    results = route_prompts(session, cases)
    card = score(results)
    if args.json:
        if args.file:
            for result in results:
                print(json.dumps(result.to_dict(), ensure_ascii=False))
            if card:
                print(json.dumps({"scorecard": card.to_dict()}))
        else:
            print(json.dumps(results[0].to_dict(), ensure_ascii=False, indent=2))
        return 0
    for result in results:
        print(route_line(result))
    if card:
        print()
        print("\n".join(scorecard_lines(card)))
    return 0
