"""Regenerate screenshots/ from the real app, headless: the chat answered by the embedded local model
(with a route explanation, history and stats), a comparison with a vote and the leaderboard against
the scripted OpenAI-compatible test server (real HTTP through LiteLLM), and `playground eval` output.

    .venv/bin/python -m scripts.screenshots
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"

from playground.services.session import open_session  # noqa: E402
from playground.tui.app import PlaygroundApp  # noqa: E402
from playground.tui.widgets.reply import ReplyView  # noqa: E402
from tests.support.openai_server import OpenAIStubServer  # noqa: E402
from tests.support.pilot import wait_for  # noqa: E402

SIZE = (120, 36)
PROMPTS = ["Give me three tips for writing a clear commit message.", "What is a haiku?"]


def _done(reply: ReplyView) -> bool:
    return bool(str(reply.query_one(".reply-meta").render()).strip())


async def _ask(pilot, prompt: str, timeout: float = 120) -> ReplyView:
    app = pilot.app
    before = len(app.screen.query(ReplyView))
    await pilot.click("#prompt")
    await pilot.press(*prompt)
    await pilot.press("enter")
    await wait_for(pilot, lambda: len(app.screen.query(ReplyView)) > before, timeout)
    reply = app.screen.query(ReplyView).last()
    await wait_for(pilot, lambda: _done(reply), timeout)
    return reply


def _save(app, name: str) -> Path:
    path = OUT / f"{name}.svg"
    app.save_screenshot(str(path))
    return path


async def local_model_screens(home: Path) -> list[Path]:
    session = open_session("default", home / "history.db")
    app = PlaygroundApp(session)
    shots = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "ready" in str(app.screen.query_one("StatusBar").render()), 300)
        for prompt in PROMPTS:
            reply = await _ask(pilot, prompt)
        await pilot.pause(0.5)
        shots.append(_save(app, "chat"))
        reply.query_one(".reply-why").collapsed = False  # the last reply's "why this model?"
        await pilot.pause(0.3)
        app.screen.query_one("#transcript").scroll_end(animate=False)
        await pilot.pause(0.5)
        shots.append(_save(app, "route-explanation"))
        await pilot.press("f3")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HistoryScreen")
        await pilot.pause(1.0)
        shots.append(_save(app, "history"))
        await pilot.press("escape")
        await pilot.press("f4")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "StatsScreen")
        await pilot.pause(2.0)
        shots.append(_save(app, "stats"))
    session.store.close()
    return shots


async def compare_screens(home: Path) -> list[Path]:
    shots = []
    with OpenAIStubServer() as server:
        server.script("concise", text="A haiku is a three-line poem of 5, 7 and 5 syllables.", chunk_delay=0.01)
        server.script("verbose", chunk_delay=0.01, words_per_chunk=2, text=(
            "A **haiku** is a short Japanese poem. It has three lines:\n\n- five syllables\n- seven syllables\n"
            "- five syllables\n\nHaiku usually evoke a season and a single moment in nature."))
        profile = home / "compare.yaml"
        profile.write_text(textwrap.dedent(f"""\
            name: compare-demo
            models:
              concise:
                model: openai/concise
                api_base: "{server.api_base}"
                price: {{input_per_mtok: 0.15, output_per_mtok: 0.6}}
              verbose:
                model: openai/verbose
                api_base: "{server.api_base}"
                price: {{input_per_mtok: 2.5, output_per_mtok: 10}}
            tiers: {{main: [concise, verbose]}}
            routes: [{{name: everything, tier: main}}]
            """))
        session = open_session(str(profile), home / "compare.db")
        app = PlaygroundApp(session, load_engine=False)
        async with app.run_test(size=SIZE) as pilot:
            await _ask(pilot, "What is a haiku?", timeout=60)
            await pilot.press("f5")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelPicker")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen")
            await wait_for(pilot, lambda: app.screen._finished, 60)
            await pilot.press("1")
            await wait_for(pilot, lambda: session.store.votes())
            await pilot.pause(0.5)
            shots.append(_save(app, "compare"))
            await pilot.press("f8")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "LeaderboardScreen")
            await pilot.pause(1.0)
            shots.append(_save(app, "leaderboard"))
        session.store.close()
    return shots


SAMPLE = ROOT / "playground" / "data" / "replay" / "mmlu-sample.jsonl"
FULL_MMLU = ROOT.parent / "shared" / "data" / "replay" / "routellm_mmlu.jsonl"


def eval_screen(home: Path) -> Path:
    """`playground eval` on the shipped MMLU sample: the replay profile as shipped and, when the full
    RouteLLM file is at hand, the same profile tuned on the prompts that are not in the sample (so the
    tuned figures are held out)."""
    from playground.cli.main import main as cli

    profiles = ["replay/routellm"]
    if FULL_MMLU.exists():
        sample_ids = {json.loads(line)["id"] for line in SAMPLE.read_text().splitlines()}
        train = home / "mmlu-train.jsonl"
        train.write_text("".join(line + "\n" for line in FULL_MMLU.read_text().splitlines()
                                 if json.loads(line)["id"] not in sample_ids))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cli(["tune", "replay/routellm", "--data", str(train), "--target-quality", "0.95",
                 "-o", str(home / "tuned.yaml")])
        profiles.append(str(home / "tuned.yaml"))
    else:
        print(f"{FULL_MMLU} not found: the eval screenshot shows the untuned profile only", file=sys.stderr)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(io.StringIO()):
        cli(["eval", profiles[0], str(SAMPLE), *profiles[1:]])
    lines = output.getvalue().splitlines()
    # The per-category table runs to 57 rows; the screenshot keeps its head and the plot.
    table_end = next(i for i, line in enumerate(lines) if line.strip().startswith("per category"))
    plot_start = next(i for i, line in enumerate(lines) if "┤" in line)
    shown = lines[:table_end + 8] + ["  …"] + [""] + lines[plot_start:]
    command = f"$ playground eval {' '.join(Path(p).name if p.startswith('/') else p for p in profiles[:1])} " \
              f"playground/data/replay/mmlu-sample.jsonl {' '.join(Path(p).name for p in profiles[1:])}"
    console = Console(record=True, width=110, file=io.StringIO())
    console.print(Text(command, style="bold"))
    console.print(Text("\n".join(shown)))
    path = OUT / "eval.svg"
    path.write_text(console.export_svg(title="playground eval"))
    return path


def to_png(svg: Path) -> bool:
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found (Debian: librsvg2-bin); PNG skipped", file=sys.stderr)
        return False
    subprocess.run(["rsvg-convert", "-b", "#0c0c0c", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
    return True


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        shots = asyncio.run(local_model_screens(Path(home)))
        shots += asyncio.run(compare_screens(Path(home)))
        shots.append(eval_screen(Path(home)))
    for svg in shots:
        print(f"wrote {svg.relative_to(ROOT)}" + (" and its PNG" if to_png(svg) else ""))


if __name__ == "__main__":
    main()
