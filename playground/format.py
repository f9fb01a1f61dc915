"""Human-readable figures shared by the CLI and the TUI."""

from __future__ import annotations

from playground.records import Attempt, LiveStats


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


def _rate(tokens_per_s: float | None) -> str:
    return f"{tokens_per_s:.0f} tok/s" if tokens_per_s else "– tok/s"


def figures(attempt: Attempt) -> str:
    """tokens in/out · $cost · TTFT · total · tok/s"""
    est = " est." if attempt.tokens_estimated else ""
    tokens = f"{attempt.input_tokens if attempt.input_tokens is not None else '?'} in / " \
             f"{attempt.output_tokens if attempt.output_tokens is not None else '?'} out{est}"
    parts = [tokens, dollars(attempt.cost_usd), f"TTFT {seconds(attempt.ttft_s)}",
             f"total {seconds(attempt.latency_s)}", _rate(attempt.tokens_per_s)]
    return " · ".join(parts)


def meta_line(attempt: Attempt) -> str:
    """model · route reason · tokens in/out · $cost · TTFT · total · tok/s"""
    return " · ".join([attempt.model_alias, attempt.reason, figures(attempt)])


def live_line(live: LiveStats) -> str:
    """The figures of a reply still streaming; its token count is local, hence "est."."""
    return " · ".join([f"{live.output_tokens} out est.", dollars(live.cost_usd), f"TTFT {seconds(live.ttft_s)}",
                       f"total {seconds(live.elapsed_s)}", _rate(live.tokens_per_s)])


def failure_line(attempt: Attempt) -> str:
    return f"✗ {attempt.model_alias}: {attempt.failure} — {attempt.error or 'no detail'}"
