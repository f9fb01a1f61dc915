"""`playground ask` (one prompt, headless) and `playground compare` (one prompt, several models)."""

from __future__ import annotations

import asyncio
import re
import sys
from contextlib import aclosing

import click

from playground.cli.common import (
    announce_encoder_build,
    db_option,
    fail,
    incognito_option,
    opened_session,
    option,
    options,
    print_json,
    profile_option,
    read_prompt,
)

# `-m NAME@http://host:8080/v1`: the model is served there. Other `@` suffixes are left in the name.
_SERVER = re.compile(r"@(https?://[^@\s]+)")
# `-m NAME@temperature=1.2`: settings of a compare variant, passed through to the compare service.
_SETTINGS = re.compile(r"@(?=\w+=)")


def split_server(value: str) -> tuple[str, str | None]:
    """`llama3.2@http://host:8080/v1` → ("llama3.2", "http://host:8080/v1"); a value with no server → (value, None)."""
    match = _SERVER.search(value)
    if match is None:
        return value, None
    return value[:match.start()] + value[match.end():], match[1]


def add_model(session, value: str, api_base: str | None) -> str:
    """Make `value` callable and return the alias it is labelled with: its own server wins over --api-base,
    and a model that runs in this process takes none (so it is never labelled with a URL it did not use).
    Settings (`@temperature=1.2`) follow the alias, as the compare service reads them."""
    from playground.config.catalog import LOCAL_PREFIX

    name, server = split_server(value)
    found = _SETTINGS.search(name)
    name, settings = (name[:found.start()], name[found.start():]) if found else (name, "")
    in_process = name in session.catalog and session.catalog[name].spec.model.startswith(LOCAL_PREFIX)
    if in_process and server:
        fail(f"{value}: {name} runs in this process and takes no server address")
    return session.add_model(name, server or (None if in_process else api_base)) + settings


def conversation_to_continue(store, given: str | None, latest: bool) -> str | None:
    """The full id of the conversation to continue: `-c ID` (or a unique prefix of it), or the latest one."""
    if latest:
        if given:
            fail("give -c ID or --continue, not both")
        found = store.latest_conversation()
        if found is None:
            fail("--continue: there is no conversation yet")
        return found
    if not given:
        return None
    if store.conversation(given) is not None:
        return given
    matches = store.conversations_by_prefix(given)
    if len(matches) > 1:
        fail(f"-c {given}: more than one conversation starts with it; give more of the id")
    if not matches:
        fail(f"-c {given}: no such conversation (`playground history` lists them)")
    return matches[0]


conversation_options = options(
    click.option("--conversation", "-c", metavar="ID", help="continue this conversation (a unique prefix of its id "
                                                            "is enough)"),
    click.option("--continue", "latest", is_flag=True, help="continue the latest conversation"),
)


@click.command()
@click.argument("prompt", required=False)
@click.option("--model", "-m", metavar="M", help="a profile alias or any LiteLLM model string (skips routing); "
                                                 "M@URL serves it from an OpenAI-compatible server at URL")
@click.option("--api-base", metavar="URL", help="an OpenAI-compatible server for --model (Ollama, LM Studio, vLLM)")
@conversation_options
@click.option("--system", "-s", metavar="TEXT", help="a system prompt (kept for the conversation's later turns)")
@click.option("--temperature", type=click.FloatRange(min=0), help="sampling temperature (kept for later turns)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of text")
@click.option("--explain", is_flag=True, help="print the routing decision trace to stderr")
@click.option("--tag", "-t", "tags", multiple=True, metavar="TAG", help="a task tag for routing (like a #tag prefix)")
@incognito_option
@profile_option
@db_option
def ask(prompt, model, api_base, conversation, latest, system, temperature, as_json, explain, tags) -> int:
    """Answer one prompt and record it in history.

    PROMPT is the prompt; `-`, or no PROMPT with something piped in, reads it from standard input.
    """
    from playground.base.records import TurnSettings
    from playground.providers import engine
    from playground.services.events import EmptyPrompt

    text = read_prompt(prompt)
    if api_base and not model:
        fail("--api-base needs --model (the model name that server serves)")
    engine.load_in_background()  # seconds of import, overlapping the store, the router and the encoder
    with opened_session() as session:
        conversation = conversation_to_continue(session.store, conversation, latest)
        session.refresh_local_models()
        session.seed_health()
        if session.profile.uses_embeddings and not model:
            from playground.router.embeddings import EmbeddingError

            announce_encoder_build(session.profile)
            try:
                session.build_semantic_index()
            except EmbeddingError as exc:
                click.echo(f"playground: semantic routes skipped: {exc}", err=True)
        alias = add_model(session, model, api_base) if model else None
        # A continued conversation keeps its system prompt and temperature unless they are given again.
        settings = session.store.settings(conversation) if conversation else TurnSettings()
        settings = TurnSettings(system=settings.system if system is None else system,
                                temperature=settings.temperature if temperature is None else temperature)
        try:
            return asyncio.run(_run_ask(session, text, alias, conversation, settings, as_json, explain,
                                        frozenset(t.lower() for t in tags), option("incognito", False)))
        except EmptyPrompt as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            click.echo("\ninterrupted: the prompt and the partial reply are saved in history", err=True)
            return 130


async def _run_ask(session, prompt, model, conversation, settings, as_json, explain, tags, incognito) -> int:
    from playground.base.money import dollars
    from playground.present.format import (
        cascade_summary,
        decision_trace,
        escalation_line,
        failure_line,
        meta_line,
    )
    from playground.services.events import (
        AttemptEnded,
        AttemptStarted,
        Checked,
        ReplyDone,
        Routed,
        TextDelta,
        TurnFailed,
    )

    out = sys.stdout
    streaming = not as_json
    printed = False
    # A cascade may replace an answer after it has streamed: into a pipe only the answer that stands is written.
    hold = escalating = False
    events = session.chat.send(prompt, conversation_id=conversation, model=model, tags=tags, incognito=incognito,
                               settings=settings)
    # aclosing: when the reader goes away (a closed pipe, Ctrl+C) the reply is saved as cancelled right here.
    async with aclosing(events):
        async for event in events:
            if isinstance(event, Routed):
                route = next((r for r in session.profile.routes if r.name == event.decision.route), None)
                hold = streaming and route is not None and route.escalate is not None and not out.isatty()
                if explain:
                    click.echo("\n".join(decision_trace(event.decision)), err=True)
            elif isinstance(event, TextDelta) and streaming and not hold:
                out.write(event.text)
                out.flush()
                printed = True
            elif isinstance(event, AttemptStarted) and event.hop and streaming:
                if printed:
                    out.write("\n")
                    printed = False
                if not escalating:  # an escalation was announced by its check
                    click.echo(f"↻ {event.reason}; trying {event.model_alias}", err=True)
                escalating = False
            elif isinstance(event, Checked) and not event.verdict.passed and streaming:
                if printed:
                    out.write("\n")
                    printed = False
                click.echo(escalation_line(event), err=True)
                escalating = event.next_model is not None
            elif isinstance(event, AttemptEnded) and not event.attempt.ok and streaming:
                if printed:
                    out.write("\n")
                    printed = False
                click.echo(failure_line(event.attempt), err=True)
            elif isinstance(event, TurnFailed):
                if as_json:
                    print_json({"conversation_id": event.conversation_id, "status": "failed", "error": event.message})
                fail(event.message, 1)
            elif isinstance(event, ReplyDone):
                reply, final = event.reply, event.reply.final
                if as_json:
                    print_json({
                        "conversation_id": reply.conversation_id, "message_id": reply.message_id,
                        "status": reply.status, "text": reply.text, "model": final.model_alias if final else None,
                        # Costs are null when any part has no known price; *_known_usd is the priced part.
                        "cost_usd": reply.cost_usd, "cost_known_usd": reply.cost.known_usd,
                        "conversation_cost_usd": event.conversation_cost.usd,
                        "conversation_cost_known_usd": event.conversation_cost.known_usd,
                        "day_cost_usd": event.day_cost.usd, "day_cost_known_usd": event.day_cost.known_usd,
                        "attempts": [a.to_dict() | {"text": None} for a in reply.attempts],
                        "escalated": reply.escalated, "judged": [a.to_dict() | {"text": None} for a in reply.judged],
                    })
                else:
                    if hold:
                        out.write(reply.text)
                        printed = bool(reply.text)
                    if printed:
                        out.write("\n")
                    if final is not None:
                        click.echo(meta_line(final), err=True)
                    if summary := cascade_summary(reply):
                        click.echo(summary, err=True)
                    limit = session.state.monitor.budget(session.profile).tightest()
                    left = f" · {limit.left()}" if limit is not None else ""
                    click.echo(f"conversation {reply.conversation_id} · {dollars(event.conversation_cost)} · "
                               f"today {dollars(event.day_cost)}{left}", err=True)
                return 0 if reply.status == "complete" else 1
    return 1


@click.command(short_help="Send one prompt to several models; print a table.")
@click.argument("prompt", required=False)
@click.option("--model", "-m", "models", multiple=True, required=True, metavar="M",
              help="a profile alias or LiteLLM model string, 2 to 6 times; M@URL serves M from an "
                   "OpenAI-compatible server at URL")
@click.option("--api-base", metavar="URL",
              help="the OpenAI-compatible server for each -m that names none (not the embedded model, which "
                   "runs in this process)")
@conversation_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of a table")
@incognito_option
@profile_option
@db_option
def compare(prompt, models, api_base, conversation, latest, as_json) -> int:
    """Send one prompt to several models at once, print a table, record it.

    PROMPT is the prompt; `-`, or no PROMPT with something piped in, reads it from standard input.
    The exit status is 1 when a model failed.
    """
    from playground.providers import engine
    from playground.services.compare import CompareError
    from playground.services.events import EmptyPrompt

    if option("incognito"):
        # The comparison service stores every column's text: refuse rather than keep what was meant to go.
        fail("compare cannot run incognito yet: its prompt and replies would be stored")
    text = read_prompt(prompt)
    engine.load_in_background()
    with opened_session() as session:
        conversation = conversation_to_continue(session.store, conversation, latest)
        session.refresh_local_models()
        session.state.refresh_monitor(session.store, drift=False)  # the spend a budget limits
        try:
            aliases = [add_model(session, name, api_base) for name in models]
            session.compare.check(aliases)
            return asyncio.run(_run_compare(session, text, aliases, conversation, as_json))
        except (CompareError, EmptyPrompt) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            click.echo("\ninterrupted: the prompt and the partial replies are saved in history", err=True)
            return 130


async def _run_compare(session, prompt: str, models: list[str], conversation: str | None, as_json: bool) -> int:
    from playground.base.money import dollars
    from playground.base.safetext import one_line
    from playground.present.format import seconds
    from playground.services.events import CompareDone

    async for event in session.compare.run(prompt, models, conversation_id=conversation):
        if isinstance(event, CompareDone):
            comparison = event.comparison
    columns = [(c, c.attempt) for c in comparison.columns if c.attempt is not None]
    if as_json:
        print_json({
            "conversation_id": comparison.conversation_id, "prompt_message_id": comparison.prompt_message_id,
            "route": comparison.route, "category": comparison.category,
            "columns": [{"message_id": c.message_id, "status": c.status, "variant": c.label, "waited_s": c.waited_s}
                        | a.to_dict() for c, a in columns],
        })
    else:
        rows = [("model", "status", "tokens in/out", "cost", "wait", "TTFT", "total", "answer")]
        for c, a in columns:
            tokens = f"{a.input_tokens if a.input_tokens is not None else '?'}/" \
                     f"{a.output_tokens if a.output_tokens is not None else '?'}{' est.' if a.tokens_estimated else ''}"
            answer = one_line(a.text, 60) if a.ok else one_line(f"✗ {a.failure}: {a.error}", 60)
            # The wait is the queue for a one-at-a-time local model; TTFT and total start when the request is sent.
            rows.append((c.label, c.status, tokens, dollars(a.cost_usd), seconds(c.waited_s) if c.waited_s else "–",
                         seconds(a.ttft_s), seconds(a.latency_s), answer))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
        click.echo(f"conversation {comparison.conversation_id} · route {comparison.route}", err=True)
    return 0 if all(a.ok for _, a in columns) else 1
