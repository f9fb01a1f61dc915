"""What every command shares: options a group and its commands both accept, one-line errors, opening the store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from playground.history.store import Store
    from playground.services.session import Session

_CARRIED = "playground.carried"


class Failed(Exception):
    """`playground: error: MESSAGE` on one line; exit status 2 for bad input, 1 when the work itself failed."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> NoReturn:
    raise Failed(message, code)


def carried(*decls: str, name: str, **kwargs: Any):
    """An option that a group and its commands both accept (`playground --db X ask` = `playground ask --db X`).

    The value is kept in the context chain rather than passed to the function; the position nearest the
    command wins. Read it with `option(name)`.
    """

    def remember(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:  # given on the command line
            ctx.meta.setdefault(_CARRIED, {})[name] = value

    return click.option(*decls, name, default=None, expose_value=False, callback=remember, **kwargs)


def options(*decorators):
    """Several options as one decorator, in the order they are listed in --help."""

    def apply(function):
        for decorate in reversed(decorators):
            function = decorate(function)
        return function

    return apply


def option(name: str, default: Any = None) -> Any:
    return click.get_current_context().meta.get(_CARRIED, {}).get(name, default)


PROFILE_HELP = "profile name (default, local-only, …) or path to a YAML file"
DB_HELP = "history database path (default: $PLAYGROUND_DB or the user data dir)"
INCOGNITO_HELP = "store tokens, cost, latency and model of each turn, but not its text"

profile_option = carried("--profile", "-p", name="profile", metavar="NAME|FILE", help=PROFILE_HELP)
db_option = carried("--db", name="db", metavar="PATH", help=DB_HELP)
incognito_option = carried("--incognito", name="incognito", is_flag=True, help=INCOGNITO_HELP)


@contextmanager
def opened_session(profile: str | None = None) -> Iterator[Session]:
    """The one place commands open the profile, catalog and history store (closed on the way out)."""
    from playground.config.profile import ProfileError
    from playground.history.store import StoreError
    from playground.services.session import open_session

    try:
        session = open_session(profile or option("profile"), option("db"))
    except (ProfileError, StoreError) as exc:
        fail(str(exc))
    try:
        yield session
    finally:
        session.store.close()


@contextmanager
def opened_store() -> Iterator[Store]:
    """The history store alone, for commands that need no profile."""
    from pathlib import Path

    from playground.base.paths import default_db_path
    from playground.history.store import Store, StoreError

    db = option("db")
    try:
        store = Store(Path(db) if db else default_db_path())
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def read_prompt(prompt: str | None) -> str:
    """The prompt argument, or standard input when it is `-` or missing and something is piped in."""
    if prompt is None or prompt == "-":
        if prompt is None and sys.stdin.isatty():
            fail("give a prompt, or pipe one in (echo PROMPT | playground ask)")
        prompt = sys.stdin.read()
    if not prompt.strip():
        fail("the prompt is empty")
    return prompt


def print_json(data: Any, **kwargs: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, **kwargs))


def announce_encoder_build(profile) -> None:
    """Say so before the first encode builds the encoder's int8 model: seconds of silence otherwise."""
    if not profile.uses_embeddings or profile.embeddings.model != "local":
        return
    from playground.router.embeddings import minilm_built

    if not minilm_built():
        click.echo("playground: preparing the embedding model for this machine (once, a few seconds)…", err=True)


def progress(label: str):
    """A progress line on stderr when a person watches it, else None."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        click.echo(f"\r{label}: {done:,}/{total:,} prompts", nl=done >= total, err=True)

    return show
