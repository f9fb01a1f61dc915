"""Human-readable figures shared by the CLI and the TUI."""

from __future__ import annotations

from datetime import datetime

from playground.records import Attempt
from playground.safetext import one_line
from playground.store import ConversationSummary


def dollars(value: float | None) -> str:
    if value is None:
        return "$?"
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.6f}".rstrip("0")
    return f"${value:.4f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def meta_line(attempt: Attempt) -> str:
    """model · route reason · tokens in/out · $cost · TTFT · total · tok/s"""
    est = " est." if attempt.tokens_estimated else ""
    tokens = f"{attempt.input_tokens if attempt.input_tokens is not None else '?'} in / " \
             f"{attempt.output_tokens if attempt.output_tokens is not None else '?'} out{est}"
    rate = f"{attempt.tokens_per_s:.0f} tok/s" if attempt.tokens_per_s else "– tok/s"
    parts = [attempt.model_alias, attempt.reason, tokens, dollars(attempt.cost_usd),
             f"TTFT {seconds(attempt.ttft_s)}", f"total {seconds(attempt.latency_s)}", rate]
    return " · ".join(parts)


def failure_line(attempt: Attempt) -> str:
    return f"✗ {attempt.model_alias}: {attempt.failure} — {attempt.error or 'no detail'}"


def local_time(stored: str) -> str:
    """A stored UTC timestamp as the user's local date and minute."""
    return datetime.fromisoformat(stored).astimezone().strftime("%Y-%m-%d %H:%M")


def conversation_title(summary: ConversationSummary, limit: int = 80) -> str:
    if summary.title:
        return one_line(summary.title, limit)
    return "(incognito: no text stored)" if summary.incognito else "(untitled)"
