"""Command line: `playground` opens the chat; the commands below work headless.

Adding a command: write a click command in a module of this package named for what it does (import
what it needs inside the function, so `playground` starts fast), give it the options it uses from
cli.common (`profile_option`, `db_option`, `incognito_option`: accepted before or after the command
name), open the session with `opened_session()` or the store with `opened_store()`, report bad input
with `fail(message)` (exit status 2) and return the exit status; then add it to COMMANDS below.
"""

from __future__ import annotations

import os
import sys

import click

from playground import __version__
from playground.cli import chat, checks, experiments, history, policy, route
from playground.cli.common import Failed, db_option, incognito_option, option, profile_option


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@profile_option
@db_option
@incognito_option
@click.version_option(__version__, "--version", prog_name="playground", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> int | None:
    """Route prompts across LLMs and see which model answered, why, and what it cost.

    With no command, opens the chat.
    """
    if ctx.invoked_subcommand is None:
        return _run_tui()
    return None


@cli.command()
@profile_option
@db_option
@incognito_option
def tui() -> int:
    """Open the chat (the default)."""
    return _run_tui()


def _run_tui() -> int:
    from playground.tui.app import run_tui

    return run_tui(profile=option("profile"), db=option("db"), incognito=option("incognito", False))


COMMANDS = [chat.ask, chat.compare, history.history, history.stats, history.export_history, policy.evaluate,
            policy.tune, policy.export, policy.import_, checks.doctor, checks.profile, checks.prices,
            route.route, experiments.experiment]
for command in COMMANDS:
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """The `playground` entry point; returns the exit status. Errors are one line on stderr."""
    try:
        code = cli.main(args=argv, prog_name="playground", standalone_mode=False)
        sys.stdout.flush()  # a reader that went away (`| head -1`) shows here when the output fit in the buffer
    except click.exceptions.NoArgsIsHelpError as exc:  # `playground profile`: the group's help, as a hint
        click.echo(exc.format_message(), err=True)
        return exc.exit_code
    except click.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"playground: error: {exc.format_message()}{where}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Failed as exc:
        click.echo(f"playground: error: {exc}", err=True)
        return exc.code
    except click.Abort:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    return code if isinstance(code, int) else 0


def _reader_gone() -> int:
    """The output went to a pipe whose reader stopped reading (`| head`): exit quietly, as `cat` would."""
    # Python would complain about the unflushed rest of stdout on the way out: point it at /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1
