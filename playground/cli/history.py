"""`playground history`, `stats` and `export-history`: the history store from the command line."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from playground.cli.common import (
    carried,
    db_option,
    fail,
    opened_session,
    opened_store,
    option,
    options,
    print_json,
    profile_option,
)

LIMIT = 50


def _since(text: str | None):
    from playground.base.dates import parse_since

    try:
        return parse_since(text) if text else None
    except ValueError as exc:
        fail(str(exc))


# The list's options, accepted by `history` and by `history search` alike (`history --json search X`).
_listing = options(
    carried("--json", name="json", is_flag=True, help="print a JSON list instead of text"),
    carried("--model", "-m", name="model", metavar="M", help="only conversations this model answered"),
    carried("--since", name="since", metavar="DATE",
            help="only conversations active since DATE (2025-03-01, or 7d for a week)"),
    carried("--limit", "-n", name="limit", type=int, help=f"at most this many (default {LIMIT})"),
    profile_option, db_option,
)


@click.group(invoke_without_command=True, short_help="List past conversations; search; purge.")
@_listing
@click.pass_context
def history(ctx: click.Context) -> int | None:
    """List past conversations, newest first (`history search`, `history purge`: see below)."""
    if ctx.invoked_subcommand is None:
        return _list("")
    return None


@history.command()
@click.argument("text")
@_listing
def search(text: str) -> int:
    """Full-text search of prompts and replies; quotes and operators are plain text."""
    return _list(text)


@history.command()
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@profile_option
@db_option
def purge(yes: bool) -> int:
    """Delete the whole history, after a confirmation."""
    with opened_store() as store:
        count = store.conversation_count()
        if not yes:
            click.echo(f"Delete all {count} conversations (prompts, replies, attempts, feedback) and the "
                       f"pre-upgrade backups of {store.path}? This cannot be undone. Type 'yes' to confirm: ",
                       nl=False, err=True)
            if sys.stdin.readline().strip().lower() != "yes":
                click.echo("nothing deleted", err=True)
                return 1
        deleted = store.purge()
    click.echo(f"deleted {deleted} conversations", err=True)
    return 0


def _unfinished(store, conversation_id: str) -> str:
    """For a conversation no model finished answering: whether a partial reply is kept, and whose."""
    partial = [m for m in store.messages(conversation_id) if m.role == "assistant" and m.content]
    if not partial:
        return "no reply"
    last = partial[-1]
    return f"partial reply, {last.status}" + (f": {last.model_alias}" if last.model_alias else "")


def _list(search: str) -> int:
    from playground.base.money import dollars
    from playground.base.safetext import one_line
    from playground.history.store import HistoryFilter
    from playground.present.format import conversation_title, local_time

    limit = option("limit", LIMIT)
    if limit < 1:
        fail("--limit must be at least 1")
    since = _since(option("since"))
    with opened_store() as store:
        found = store.conversations(HistoryFilter(search=search, model=option("model"), since=since, limit=limit))
        if option("json"):
            print_json([asdict(s) for s in found], ensure_ascii=False)
            return 0
        if not found:
            click.echo("no conversations" + (f" match {search!r}" if search else ""), err=True)
            return 0
        for summary in found:
            replied = ", ".join(summary.models) or _unfinished(store, summary.id)
            click.echo(f"{local_time(summary.updated_at)}  {dollars(summary.cost):>10}  {summary.id}  "
                       f"{conversation_title(summary)}  [{replied}]")
            if summary.snippet:
                click.echo(f"    … {one_line(summary.snippet, 120)}")
    return 0


@click.command("export-history")
@click.option("--format", "-f", "form", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="write to this file (created 0600) instead of standard output")
@profile_option
@db_option
def export_history(form: str, output: str | None) -> int:
    """Export every message, one row each (JSON Lines or CSV)."""
    from playground.base.files import open_private
    from playground.history.export import write_csv, write_jsonl

    write = write_jsonl if form == "jsonl" else write_csv
    with opened_store() as store:
        if not output:
            write(store, sys.stdout)
            return 0
        try:
            # newline="": the csv module writes its own line ends.
            with open_private(output, newline="") as out:
                count = write(store, out)
        except OSError as exc:
            fail(f"{output}: {exc.strerror}")
    click.echo(f"wrote {count} messages to {output}", err=True)
    return 0


@click.command()
@click.option("--since", metavar="DATE", help="only attempts since DATE (2025-03-01, or 7d for a week)")
@click.option("--baseline", "-b", metavar="ALIAS",
              help="a profile model alias: what the same tokens would have cost on it")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of text")
@click.option("--experiments", "experiments", is_flag=True,
              help="each experiment arm's outcomes with 95% intervals, and whether one is better")
@profile_option
@db_option
def stats(since: str | None, baseline: str | None, as_json: bool, experiments: bool) -> int:
    """Spend, tokens, latency, errors and savings."""
    from playground.cli.experiments import render_experiments
    from playground.history.stats import compute, to_dict

    if experiments and (since or baseline):
        fail("--experiments counts every reply an experiment assigned: --since and --baseline do not apply")
    moment = _since(since)
    with opened_session() as session:
        if experiments:
            click.echo(render_experiments(session, as_json))
            return 0
        model = None
        if baseline:
            if baseline not in session.catalog:
                fail(f"--baseline: no model {baseline!r} in profile {session.profile.name} "
                     f"(it has {', '.join(session.catalog.models)})")
            model = session.catalog[baseline]
            if model.input_price is None:
                fail(f"--baseline: {baseline} has no known price; add a price to the profile")
        result = compute(session.store, since=moment, baseline=model)
    if as_json:
        print_json(to_dict(result))
    else:
        click.echo(render_stats(result))
    return 0


def render_stats(stats) -> str:
    from playground.base.money import dollars
    from playground.base.safetext import one_line
    from playground.present.format import escalated, milliseconds, per_success, percent, stats_summary

    lines = stats_summary(stats)
    if stats.by_day:
        lines += ["", "per day:"] + [f"  {d.day}  {d.requests:>6} requests  {dollars(d.cost):>12}"
                                     for d in stats.by_day]
    if stats.by_model:
        lines += ["", f"  {'model':24} {'requests':>8} {'errors':>7} {'tokens in':>10} {'out':>9} {'cost':>12} "
                      f"{'TTFT p50/p95':>17} {'total p50/p95':>17} {'votes won':>9} {'escalated':>9} "
                      f"{'$/success':>10}"]
        for m in stats.by_model:
            lines.append(
                f"  {one_line(m.model_alias, 24):24} {m.requests:>8} {percent(m.error_rate):>7} "
                f"{m.input_tokens:>10,} {m.output_tokens:>9,} {dollars(m.cost):>12} "
                f"{milliseconds(m.ttft.p50_ms) + ' / ' + milliseconds(m.ttft.p95_ms):>17} "
                f"{milliseconds(m.latency.p50_ms) + ' / ' + milliseconds(m.latency.p95_ms):>17} "
                f"{f'{m.votes.wins}/{m.votes.shown}' if m.votes.shown else '–':>9} "
                f"{escalated(m.escalations):>9} {per_success(m.outcomes):>10}")
    if stats.by_route:
        lines += ["", f"  {'route':24} {'prompts':>8} {'cost':>12} {'escalated':>9} {'judged':>7} {'successes':>9} "
                      f"{'$/success':>10}"]
        for r in stats.by_route:
            lines.append(f"  {one_line(r.route or '–', 24):24} {r.turns:>8} {dollars(r.cost):>12} "
                         f"{escalated(r.escalations):>9} {r.outcomes.judged:>7} {r.outcomes.successes:>9} "
                         f"{per_success(r.outcomes):>10}")
    return "\n".join(lines)
