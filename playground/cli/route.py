"""`playground route`: which route and model a prompt would take, and why, without calling a model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from playground.cli.common import announce_encoder_build, db_option, fail, opened_session, profile_option, read_prompt


@click.command(short_help="Show the routing decision for prompts without calling a model.")
@click.argument("prompt", required=False)
@click.option("--file", "-f", "file", metavar="FILE", help="JSON Lines with `prompt` and optional `expected` "
              "(then accuracy and a confusion table), or one prompt a line")
@click.option("--json", "as_json", is_flag=True, help="JSON: one object (a prompt) or one per line (--file)")
@profile_option
@db_option
def route(prompt: str | None, file: str | None, as_json: bool) -> int:
    """The decision for PROMPT (- reads standard input) or for every prompt in --file."""
    from playground.base.errors import SourceError
    from playground.present.routes import route_line, scorecard_lines
    from playground.router.embeddings import EmbeddingError
    from playground.services.route_preview import PromptCase, check_expected, read_cases, route_prompts, score

    if prompt is not None and file is not None:
        fail("give a prompt or --file, not both")
    if file:
        try:
            cases = read_cases(Path(file))
        except SourceError as exc:
            fail(str(exc))
    else:
        cases = [PromptCase(read_prompt(prompt))]
    with opened_session() as session:
        try:
            check_expected(session, cases)
        except SourceError as exc:
            fail(str(exc))
        session.refresh_local_models()
        if session.profile.uses_embeddings:
            announce_encoder_build(session.profile)
            try:
                session.build_semantic_index()
            except EmbeddingError as exc:
                click.echo(f"playground: semantic routes skipped: {exc}", err=True)
        results = route_prompts(session, cases)
    card = score(results)
    if as_json:
        if file:
            for result in results:
                click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
            if card:
                click.echo(json.dumps({"scorecard": card.to_dict()}))
        else:
            click.echo(json.dumps(results[0].to_dict(), ensure_ascii=False, indent=2))
        return 0
    for result in results:
        click.echo(route_line(result))
    if card:
        click.echo("\n" + "\n".join(scorecard_lines(card)))
    return 0
