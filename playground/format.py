"""Human-readable figures shared by the CLI and the TUI."""

from __future__ import annotations

from playground.records import Attempt, LiveStats
from playground.router.decide import Decision


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


def decision_trace(decision: Decision) -> list[str]:
    """The routing decision as lines: stage, route, score, and every candidate with why it was dropped."""
    head = f"route {decision.route} · stage {decision.stage}"
    if decision.match:
        head += f" · {decision.match}"
    lines = [head]
    if decision.skipped:
        lines.append("skipped: " + "; ".join(decision.skipped))
    if decision.similarities:
        ranked = sorted(decision.similarities.items(), key=lambda kv: -kv[1])
        lines.append("similarity: " + ", ".join(f"{name} {value:.2f}" for name, value in ranked))
    lines.append(f"candidates ({decision.tier} tier, then fallbacks):" if decision.tier else "candidates:")
    for c in decision.candidates:
        mark = "✓" if c.alias == decision.model else ("✗" if c.dropped else "·")
        figures = [dollars(c.estimated_cost) + " est."]
        if c.expected_latency_s is not None:
            figures.append(f"~{seconds(c.expected_latency_s)}")
        if c.error_rate:
            figures.append(f"errors {c.error_rate:.0%}")
        if c.score is not None:
            figures.append(f"score {c.score:.2f}")
        source = f" [price: {c.price_source}]" if c.price_source else " [price unknown]"
        lines.append(f"  {mark} {c.alias}: {' · '.join(figures)} — {c.note}{source}")
    return lines
