"""Streaming speed: 4 compare columns, each fed ~300 tokens/s of Markdown (code blocks, lists) by the local
test server, the chat screen fed one such stream, and bare litellm.acompletion reading the same stream
(the baseline: what parsing the stream costs before any UI).

Reports, per screen: display lag (a piece's arrival from the provider until the screen paints it),
key-press latency while streaming (a key event posted until its binding runs), and the process's CPU
time per 1,000 tokens rendered. The test server runs in a subprocess, so its CPU is not counted.

    .venv/bin/python -m benchmarks.compare_streaming [--seconds 20] [--rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
ROOT = Path(__file__).resolve().parent.parent

from textual import events  # noqa: E402
from textual.binding import Binding  # noqa: E402

from playground.base import tokens  # noqa: E402
from playground.services.chat import ChatService  # noqa: E402
from playground.services.compare import CompareService  # noqa: E402
from playground.services.events import ColumnDelta, TextDelta  # noqa: E402
from playground.services.session import open_session  # noqa: E402
from playground.tui.app import PlaygroundApp  # noqa: E402
from playground.tui.screens.compare import CompareScreen  # noqa: E402
from playground.tui.widgets import markdown_view  # noqa: E402
from playground.tui.widgets.markdown_view import MarkdownView  # noqa: E402

COLUMNS = 4
WORDS_PER_CHUNK = 2
KEY_PROBE_EVERY_S = 0.25

SERVER = f"""
import sys, time
from tests.support.openai_server import OpenAIStubServer
text, delay = open(sys.argv[1]).read(), float(sys.argv[2])
with OpenAIStubServer() as server:
    for name in ["bench0", "bench1", "bench2", "bench3", "chat"]:
        server.script(name, text=text, words_per_chunk={WORDS_PER_CHUNK}, chunk_delay=delay)
    print(server.api_base, flush=True)
    sys.stdin.read()
"""


def markdown_text(words: int) -> str:
    """Sections of prose, bullet lists and fenced code, repeated until `words` long."""
    parts, count, i = [], 0, 0
    while count < words:
        section = textwrap.dedent(f"""\
            ## Step {i}: handling the queue

            The worker drains **batch {i}** and retries failed items with a backoff of `{i % 7 + 1}` seconds,
            so a slow provider never blocks the others.

            - read the pending items from the table
            - group them by *provider* and model
            - send each group with its own timeout

            ```python
            def drain_{i}(queue, limit={i % 50 + 10}):
                for item in queue.take(limit):
                    if item.attempts > 3:
                        item.fail("too many attempts")
                    else:
                        item.retry(delay=2 ** item.attempts)
            ```

            """)
        parts.append(section)
        count += len(section.split(" "))
        i += 1
    return "".join(parts)


class Probe:
    """Arrival and display times of streamed text, and key-press latencies."""

    def __init__(self) -> None:
        self.arrivals: dict[object, list[tuple[float, int]]] = defaultdict(list)
        self.shown: dict[int, list[tuple[float, int]]] = defaultdict(list)
        self.key_sent: float | None = None
        self.key_latencies: list[float] = []

    def arrived(self, stream_key: object, size: int) -> None:
        total = self.arrivals[stream_key][-1][1] + size if self.arrivals[stream_key] else size
        self.arrivals[stream_key].append((time.perf_counter(), total))

    def lags(self, widget_for: dict[object, int]) -> list[float]:
        found = []
        for key, arrivals in self.arrivals.items():
            shown = self.shown[widget_for[key]]
            j = 0
            for when, total in arrivals:
                while j < len(shown) and shown[j][1] < total:
                    j += 1
                found.append((shown[j][0] if j < len(shown) else float("inf")) - when)
        return found


ORIGINAL_RENDER_LINES = MarkdownView.render_lines


def instrument_markdown(probe: Probe) -> None:
    """Timestamp every paint of a reply, with how much of its text the painted lines show."""

    def render_lines(self: MarkdownView, crop):
        lines = ORIGINAL_RENDER_LINES(self, crop)
        probe.shown[id(self)].append((time.perf_counter(), self.shown_chars))
        return lines

    MarkdownView.render_lines = render_lines


class StampedCompare(CompareService):
    probe: Probe

    async def run(self, *args, **kwargs):
        async for event in super().run(*args, **kwargs):
            if isinstance(event, ColumnDelta):
                self.probe.arrived(event.column, len(event.text))
            yield event


class StampedChat(ChatService):
    probe: Probe

    async def send(self, *args, **kwargs):
        async for event in super().send(*args, **kwargs):
            if isinstance(event, TextDelta):
                self.probe.arrived("chat", len(event.text))
            yield event


class BenchApp(PlaygroundApp):
    BINDINGS = [Binding("f12", "probe", show=False, priority=False)]

    probe: Probe

    def action_probe(self) -> None:
        if self.probe.key_sent is not None:
            self.probe.key_latencies.append(time.perf_counter() - self.probe.key_sent)
            self.probe.key_sent = None


async def probe_keys(app: BenchApp, until: float) -> None:
    while time.perf_counter() < until:
        await asyncio.sleep(KEY_PROBE_EVERY_S)
        app.probe.key_sent = time.perf_counter()
        # Delivered the way the terminal driver delivers a key: through the app's message queue.
        app.post_message(events.Key("f12", None))


def profile_yaml(folder: Path, api_base: str) -> str:
    models = "\n".join(f"  {name}: {{model: openai/{name}, api_base: '{api_base}', "
                       f"price: {{input_per_mtok: 1, output_per_mtok: 2}}}}"
                       for name in [f"bench{i}" for i in range(COLUMNS)] + ["chat"])
    path = folder / "bench.yaml"
    path.write_text(f"name: bench\nmodels:\n{models}\ntiers: {{main: [chat]}}\n"
                    f"routes: [{{name: all, tier: main}}]\ntimeouts: {{first_token: 30, idle: 30, total: 600}}\n")
    return str(path)


async def run_screen(kind: str, profile: str, db: Path, seconds: float) -> dict:
    load_before = os.getloadavg()[0]
    probe = Probe()
    session = open_session(profile, db)
    session.chat = StampedChat(session.state, session.store)
    session.compare = StampedCompare(session.state, session.store)
    session.chat.probe = session.compare.probe = probe
    app = BenchApp(session, load_engine=False)
    app.probe = probe
    instrument_markdown(probe)
    async with app.run_test(size=(200, 50)) as pilot:
        if kind == "compare":
            screen = CompareScreen(session, models=[f"bench{i}" for i in range(COLUMNS)])
            await app.push_screen(screen)
        await pilot.press(*"go", "enter")
        cpu, wall = time.process_time(), time.perf_counter()
        keys = asyncio.create_task(probe_keys(app, wall + seconds))
        while time.perf_counter() - wall < seconds + 60:
            # Not pilot.pause: it lays out and repaints the screen each time, which the app alone would not.
            await asyncio.sleep(0.2)
            if kind == "compare" and screen._finished:
                break
            if kind == "chat" and any("TTFT" in str(r.query_one(".reply-meta").render())
                                      for r in app.screen.query("ReplyView")):
                break
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await keys
        if kind == "compare":
            widget_for = {i: id(c.body) for i, c in enumerate(screen._columns)}
            texts = [c.text for c in screen._columns]
        else:
            reply = app.screen.query_one("ReplyView")
            widget_for = {"chat": id(reply.body)}
            texts = [reply.text]
    session.store.close()
    MarkdownView.render_lines = ORIGINAL_RENDER_LINES
    rendered = sum(tokens.count_text(t) for t in texts)
    lags = sorted(probe.lags(widget_for))
    keys_ms = sorted(k * 1000 for k in probe.key_latencies)
    return {
        "screen": kind, "streams": len(texts), "wall_s": wall, "tokens": rendered,
        "tokens_per_s_per_stream": rendered / len(texts) / wall,
        "cpu_s_per_1k_tokens": cpu / rendered * 1000,
        "lag_p50_ms": statistics.median(lags) * 1000, "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
        "lag_max_ms": lags[-1] * 1000,
        "key_p50_ms": statistics.median(keys_ms), "key_p95_ms": keys_ms[int(len(keys_ms) * 0.95)],
        "key_max_ms": keys_ms[-1], "keys": len(keys_ms), "load": (load_before, os.getloadavg()[0]),
    }


async def bare_litellm(litellm, api_base: str) -> dict:
    """The baseline: the same stream read with litellm.acompletion and nothing else (no UI, no store)."""
    cpu, wall, text = time.process_time(), time.perf_counter(), ""
    response = await litellm.acompletion(model="openai/chat", api_base=api_base, api_key="none", stream=True,
                                         messages=[{"role": "user", "content": "go"}])
    async for chunk in response:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rendered = tokens.count_text(text)
    return {"tokens_per_s": rendered / wall, "cpu_s_per_1k_tokens": cpu / rendered * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each stream lasts")
    parser.add_argument("--rate", type=float, default=300.0, help="tokens per second per stream")
    args = parser.parse_args()
    from playground.providers import engine

    # The app loads LiteLLM and warms the Markdown renderer in the background; do it up front here.
    litellm = engine.load()
    markdown_view.warm_up()
    sample = markdown_text(2000)
    tokens_per_word = tokens.count_text(sample) / len(sample.split(" "))
    words_per_s = args.rate / tokens_per_word
    text = markdown_text(int(words_per_s * args.seconds))
    folder = Path(tempfile.mkdtemp(prefix="pg-stream-bench-"))
    (folder / "text.md").write_text(text)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(folder / "text.md"),
                               str(WORDS_PER_CHUNK / words_per_s)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)  # cwd: the child imports tests.support
    try:
        api_base = server.stdout.readline().strip()
        profile = profile_yaml(folder, api_base)
        baseline = asyncio.run(bare_litellm(litellm, api_base))
        results = [asyncio.run(run_screen(kind, profile, folder / f"{kind}.db", args.seconds))
                   for kind in ("chat", "compare")]
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    print(f"{tokens.count_text(text)} tokens of Markdown per stream, {args.rate:.0f} tokens/s target, "
          f"{args.seconds:.0f} s; display lag = provider chunk arrival → painted on screen")
    header = ("screen", "streams", "tok/s/stream", "CPU s/1k tok", "lag p50", "lag p99", "lag max",
              "key p50", "key p95", "key max")
    print("  ".join(f"{h:>12}" for h in header))
    print("  ".join(f"{c:>12}" for c in ("bare litellm", 1, f"{baseline['tokens_per_s']:.0f}",
                                          f"{baseline['cpu_s_per_1k_tokens']:.3f}")))
    for r in results:
        cells = (r["screen"], r["streams"], f"{r['tokens_per_s_per_stream']:.0f}", f"{r['cpu_s_per_1k_tokens']:.3f}",
                 f"{r['lag_p50_ms']:.0f} ms", f"{r['lag_p99_ms']:.0f} ms", f"{r['lag_max_ms']:.0f} ms",
                 f"{r['key_p50_ms']:.1f} ms", f"{r['key_p95_ms']:.1f} ms", f"{r['key_max_ms']:.1f} ms")
        print("  ".join(f"{c:>12}" for c in cells))
    for r in results:
        print(f"{r['screen']}: {r['cpu_s_per_1k_tokens'] / baseline['cpu_s_per_1k_tokens']:.2f}x the CPU per token of "
              f"reading the same stream with bare litellm.acompletion")
    compare = results[-1]
    verdict = compare["key_p95_ms"] <= 50 and compare["lag_p50_ms"] <= 150
    print(f"compare keeps up (key p95 ≤ 50 ms, lag p50 ≤ 150 ms, issue #12): {'yes' if verdict else 'NO'}")
    print("load average (1 min) before and after each screen: "
          + ", ".join(f"{r['screen']} {r['load'][0]:.1f} → {r['load'][1]:.1f}" for r in results))


if __name__ == "__main__":
    main()
