"""Regenerate screenshots/ from the real app, headless, answering with the embedded local model.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playground.session import open_session
from playground.tui.app import PlaygroundApp
from playground.tui.widgets.reply import ReplyView

OUT = Path(__file__).resolve().parent.parent / "screenshots"
PROMPTS = ["Give me three tips for writing a clear commit message.", "What is a haiku?"]


async def chat_screenshot() -> Path:
    with tempfile.TemporaryDirectory() as home:
        session = open_session("default", Path(home) / "history.db")
        app = PlaygroundApp(session)
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(300):
                await pilot.pause(0.1)
                if "ready" in str(app.screen.query_one("StatusBar").render()):
                    break
            for prompt in PROMPTS:
                await pilot.click("#prompt")
                await pilot.press(*prompt)
                await pilot.press("enter")
                await pilot.pause(0.2)
                for _ in range(600):
                    await pilot.pause(0.1)
                    replies = app.screen.query(ReplyView)
                    if replies and str(replies.last().query_one(".reply-meta").render()).strip():
                        break
            await pilot.pause(0.5)
            path = OUT / "chat.svg"
            app.save_screenshot(str(path))
        session.store.close()
    return path


def to_png(svg: Path) -> None:
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found (Debian: librsvg2-bin); PNG skipped", file=sys.stderr)
        return
    subprocess.run(["rsvg-convert", "-b", "#0c0c0c", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    svg = asyncio.run(chat_screenshot())
    to_png(svg)
    print(f"wrote {svg} and its PNG")


if __name__ == "__main__":
    main()
