"""Every `playground …` line of README.md and docs/*.md parses as written, and the README's keyless tour runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import click.testing
import pytest

from playground.cli.main import cli, main

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_lines() -> list[tuple[str, bool]]:
    """(command line, whether it is a whole command) for each mention; inline `playground eval` is only a name.
    Lines of code blocks count from `playground`, also after a pipe (`git diff | playground ask`)."""
    found = []
    for path in DOCUMENTS:
        text = path.read_text().replace("\\\n", " ")
        for match in re.finditer(r"`(playground(?: [^`]*)?)`", text):
            found.append((match[1], False))
        for match in re.finditer(r"^(?:\s*|.*\|\s*)(playground .*)$", text, re.MULTILINE):
            found.append((match[1].split("  #")[0].strip(), True))
    return sorted(set(found))


def concrete(line: str) -> list[str]:
    """The README's usage notation made concrete: `[--json]` → `--json`, `jsonl|csv` → `jsonl`."""
    line = re.sub(r"\[([^\]]*)\]", r"\1", line)
    line = re.sub(r"(\S+?)\|\S+", r"\1", line)
    return shlex.split(line)[1:]


@pytest.fixture
def parsed(monkeypatch):
    """Parse without running: each command's function records what it was given instead."""
    calls: list[tuple[str, dict, dict]] = []

    def replace(command: click.Command) -> None:
        def record(*_args, **params):
            ctx = click.get_current_context()
            calls.append((ctx.command_path, params, dict(ctx.meta.get("playground.carried", {}))))

        monkeypatch.setattr(command, "callback", record)
        for sub in getattr(command, "commands", {}).values():
            replace(sub)

    replace(cli)

    def parse(args: list[str]):
        calls.clear()
        cli.main(args=args, prog_name="playground", standalone_mode=False)
        return calls[-1]

    return parse


def test_the_documents_mention_every_command():
    lines = documented_lines()
    assert len(lines) > 25
    mentioned = {concrete(line)[0] for line, _ in lines if concrete(line) and not concrete(line)[0].startswith("-")}
    assert mentioned == set(cli.commands) - {"tui"}


@pytest.mark.parametrize("line, whole", documented_lines())
def test_each_documented_line_parses(parsed, line, whole):
    args = concrete(line)
    try:
        path, _params, _carried = parsed(args)
    except click.MissingParameter:
        assert not whole, f"{line!r} misses a parameter"
        return
    words = [a for a in args if not a.startswith("-")]
    assert path.split()[1:] == [w for w in words if w in path.split()[1:]]


def test_documented_options_reach_the_command(parsed):
    path, params, carried = parsed(concrete('playground ask "hello" --model llama3.2 '
                                            '--api-base http://127.0.0.1:11434/v1 --json'))
    assert (path, params["model"], params["api_base"], params["as_json"]) == (
        "playground ask", "llama3.2", "http://127.0.0.1:11434/v1", True)
    path, params, carried = parsed(concrete('playground ask "why is my query plan slow" --profile my.yaml --explain'))
    assert (params["prompt"], params["explain"], carried) == ("why is my query plan slow", True, {"profile": "my.yaml"})
    path, _params, carried = parsed(["--db", "x.db", "history", "--json", "--since", "7d", "search", "rate limit"])
    assert (path, carried) == ("playground history search", {"db": "x.db", "json": True, "since": "7d"})
    _path, _params, carried = parsed(["--profile", "a.yaml", "--incognito", "ask", "hi", "--db", "y.db"])
    assert carried == {"profile": "a.yaml", "incognito": True, "db": "y.db"}
    _path, _params, carried = parsed(["--db", "outer.db", "ask", "hi", "--db", "inner.db"])
    assert carried == {"db": "inner.db"}  # the position nearest the command wins
    path, params, _ = parsed(concrete('playground compare "PROMPT" -m A -m B [--json]'))
    assert (path, params["models"], params["as_json"]) == ("playground compare", ("A", "B"), True)


def test_the_readme_keyless_tour_runs(tmp_path, monkeypatch, capsys):
    """The README's eval → tune → export lines, as written, in a folder where playground/data/ is at hand."""
    (tmp_path / "playground").symlink_to(ROOT / "playground")
    monkeypatch.chdir(tmp_path)
    assert main(concrete("playground eval replay/routellm playground/data/replay/mmlu-sample.jsonl "
                         "--plot curve.svg")) == 0
    assert "routellm" in capsys.readouterr().out and (tmp_path / "curve.svg").stat().st_mode & 0o777 == 0o600
    assert main(concrete("playground tune replay/routellm --data playground/data/replay/mmlu-sample.jsonl "
                         "--target-quality 0.95 -o tuned.yaml")) == 0
    assert "cost saved at 95% of strong quality" in capsys.readouterr().out
    (tmp_path / "proxy").mkdir()  # the README's `mkdir -p proxy &&`
    assert main(concrete("playground export tuned.yaml --format litellm -o proxy/config.yaml")) == 0
    assert "model_list" in (tmp_path / "proxy" / "config.yaml").read_text()
    assert (tmp_path / "proxy" / "playground_routing_routellm_tuned.py").is_file()
    assert main(concrete("playground profile check tuned.yaml")) == 0


def test_a_group_without_its_command_shows_its_help(capsys):
    assert main(["profile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: playground profile") and "check" in err and "error" not in err


def test_help_and_version():
    result = click.testing.CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "With no command, opens the chat." in result.output
    for name in cli.commands:
        assert click.testing.CliRunner().invoke(cli, [name, "-h"]).exit_code == 0, name
    assert click.testing.CliRunner().invoke(cli, ["--version"]).output.startswith("playground 0.1")
