"""Human-readable figures shared by the CLI and the TUI."""

from __future__ import annotations

from datetime import datetime

from playground.records import Attempt
from playground.safetext import one_line
from playground.stats import Stats
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


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def milliseconds(value: float | None) -> str:
    return seconds(None if value is None else value / 1000)


def stats_summary(stats: Stats) -> list[str]:
    """The headline figures: volume and spend, reliability and latency, savings."""
    lines = [
        f"since {stats.since.strftime('%Y-%m-%d %H:%M') if stats.since else 'the beginning'}: "
        f"{stats.turns} prompts, {stats.requests} requests, {stats.input_tokens:,} tokens in / "
        f"{stats.output_tokens:,} out, {dollars(stats.cost_usd)}"
        + (f" ({stats.unpriced_requests} requests had no known price)" if stats.unpriced_requests else ""),
        f"errors {percent(stats.error_rate)} · fallbacks {percent(stats.fallback_rate)} of prompts · "
        f"TTFT p50 {milliseconds(stats.ttft.p50_ms)} p95 {milliseconds(stats.ttft.p95_ms)} · "
        f"total p50 {milliseconds(stats.latency.p50_ms)} p95 {milliseconds(stats.latency.p95_ms)}",
    ]
    votes = stats.votes
    if votes.shown:
        lines.append(f"votes: {votes.wins} wins, {votes.ties} ties, {votes.all_bad} all bad "
                     f"over {votes.shown} model showings")
    if stats.savings:
        saved = stats.savings
        verb = "saved" if saved.saved_usd >= 0 else "cost an extra"
        lines.append(f"against {saved.baseline} for everything: {dollars(saved.baseline_usd)}; the router "
                     f"{verb} {dollars(abs(saved.saved_usd))}")
    return lines
