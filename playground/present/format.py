"""Human-readable figures shared by the CLI and the TUI."""

from __future__ import annotations

from datetime import datetime

from playground.base.money import dollars
from playground.base.records import Attempt, Cost, LiveStats, Reply
from playground.base.safetext import one_line
from playground.config.catalog import ModelInfo
from playground.history.stats import Escalations, Outcomes, Stats
from playground.history.store import ConversationSummary
from playground.router.decide import Decision
from playground.services.events import Checked


def model_detail(info: ModelInfo) -> str:
    """What to know when picking a model: its input price, or why it cannot be used."""
    if not info.available:
        return info.unavailable_reason or "unavailable"
    price = info.cost(1_000_000, 0)
    return f"{dollars(price)}/Mtok in" if price is not None else "price unknown"


def middle_ellipsis(text: str, width: int) -> str:
    """`text` in at most `width` characters, its middle replaced by "…": a path keeps its root and its leaf."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:max(width, 0)]
    keep = width - 1
    head = keep // 2
    return text[:head] + "…" + text[len(text) - (keep - head):]


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _rate(tokens_per_s: float | None) -> str:
    return f"{tokens_per_s:.0f} tok/s" if tokens_per_s else "– tok/s"


def figures(attempt: Attempt) -> str:
    """tokens in/out · $cost · TTFT · total · tok/s"""
    est = " est." if attempt.tokens_estimated else ""
    cached = [f"{count} {label}" for count, label in ((attempt.cached_input_tokens, "cached"),
                                                      (attempt.cache_write_tokens, "to cache")) if count]
    tokens = f"{attempt.input_tokens if attempt.input_tokens is not None else '?'} in" \
             f"{' (' + ', '.join(cached) + ')' if cached else ''} / " \
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


def escalation_line(checked: Checked) -> str:
    """An answer that failed its cascade's checks: why, what it cost, and who answers instead (or why no one)."""
    attempt = checked.attempt
    skipped = f" (skipped {'; '.join(checked.skipped)})" if checked.skipped else ""
    then = f"asking {checked.next_model}" if checked.next_model else "no tier left to ask: this answer stands"
    return f"⤴ {attempt.model_alias}'s answer failed {checked.verdict.reason} ({dollars(attempt.cost_usd)}); " \
           f"{then}{skipped}"


def cascade_summary(reply: Reply) -> str | None:
    """How a cascaded reply came about: each checked answer with its verdict and cost, and the total (judge
    calls included); None when no check ran."""
    checked = [a for a in reply.attempts if a.verdict is not None]
    if not checked:
        return None
    # The failed check by name only: the escalation row above the answer gives its detail.
    steps = [f"{a.model_alias} {'✓' if a.verdict == 'pass' else '✗ ' + (a.check_detail or 'failed').split(':')[0]} "
             f"{dollars(a.cost_usd)}" for a in checked]
    judge = f" (judge {dollars(Cost.of(a.cost_usd for a in reply.judged))})" if reply.judged else ""
    total = f"total {dollars(reply.cost)}{judge}"
    if not reply.escalated and checked[-1].verdict == "pass":
        return f"✓ {checked[-1].check_detail} · {total}"
    head = "⤴ escalated" if reply.escalated else "✗ failed its checks"
    return f"{head}: {' → '.join(steps)} · {total}"


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
    if decision.experiment:
        lines.append(f"experiment {decision.experiment}: this reply is arm {decision.arm}" if decision.assigned else
                     f"experiment {decision.experiment} is stopped: its winner {decision.arm} answers")
    lines.append(f"candidates ({decision.tier} tier, then fallbacks):" if decision.tier else "candidates:")
    for c in decision.candidates:
        mark = "✓" if c.alias == decision.model else ("✗" if c.dropped else "·")
        figures = [dollars(c.estimated_cost) + " est."]
        if c.expected_latency_s is not None:
            replies = "reply" if c.latency_samples == 1 else "replies"
            figures.append(f"~{seconds(c.expected_latency_s)} (from {c.latency_samples} measured {replies})")
        else:
            figures.append("latency unknown (no measured reply)")
        if c.error_rate:
            figures.append(f"errors {c.error_rate:.0%}")
        if c.score is not None:
            figures.append(f"score {c.score:.2f}")
        source = f" [price: {c.price_source}]" if c.price_source else " [price unknown]"
        lines.append(f"  {mark} {c.alias}: {' · '.join(figures)} — {c.note}{source}")
        if c.drift:
            lines.append(f"      drifted: {c.drift}")
    if decision.budget:
        lines.append(f"budget: {decision.budget}")
    return lines


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


def escalated(escalations: Escalations) -> str:
    """The share of checked answers a cascade escalated from, "–" where none was checked."""
    return "–" if escalations.rate is None else percent(escalations.rate)


def per_success(outcomes: Outcomes) -> str:
    """Cost per successful task, "$x + unknown" when a call behind it had no known price, "–" without a success."""
    found = outcomes.per_success
    return "–" if found is None else dollars(found)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 request", "2 requests" ("1 retry", "2 retries" with `plural`)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def empty_spend_note(stats: Stats) -> str | None:
    """Why the spend plots would be empty, and what fills them; None when there is spend to plot."""
    if any(day.cost_usd for day in stats.by_day):
        return None
    if not stats.requests:
        return ("Nothing recorded in this window yet. Ask something in the chat (Esc goes back) or compare "
                "models with F5; spend per day and per model are plotted here. A longer window may show more.")
    requests = counted(stats.requests, "request")
    unpriced = stats.unpriced_requests
    why = "local models are free" if not unpriced else \
        f"{unpriced} had no known price: not plotted, never counted as $0" + \
        ("; the rest were free" if unpriced < stats.requests else "")
    return (f"No spend to plot: {requests} in this window ({why}). Spend appears once a priced model answers: "
            "set its key in the environment (e.g. OPENAI_API_KEY), then ask it or compare it with F5.")


def unpriced_note(unpriced: int) -> str:
    """What a spend figure or plot leaves out: "; 3 unpriced requests left out"."""
    return f"; {counted(unpriced, 'unpriced request')} left out" if unpriced else ""


def empty_board_note(category: str | None) -> str:
    """What to do for the leaderboard to have anything to rank."""
    where = f" in category {category} (c shows the next)" if category else ""
    return (f"No votes yet{where}. Press F5 in the chat to put one prompt to 2–6 models, then vote: 1–6 picks "
            "the winner, t a tie, b all bad. Without an API key, compare one model with itself: type "
            "smollm2@temperature=1.2 in the picker to add a variant.")


def stats_summary(stats: Stats) -> list[str]:
    """The headline figures: volume and spend, reliability and latency, savings."""
    lines = [
        f"since {stats.since.strftime('%Y-%m-%d %H:%M') if stats.since else 'the beginning'}: "
        f"{counted(stats.turns, 'prompt')}, {counted(stats.requests, 'request')}, "
        f"{stats.input_tokens:,} tokens in / {stats.output_tokens:,} out, {dollars(stats.cost)}"
        + (f" ({counted(stats.unpriced_requests, 'request')} had no known price)" if stats.unpriced_requests else ""),
        f"errors {percent(stats.error_rate)} · failovers {percent(stats.fallback_rate)} of replies · "
        f"{counted(stats.retries, 'retry', 'retries')} · "
        f"TTFT p50 {milliseconds(stats.ttft.p50_ms)} p95 {milliseconds(stats.ttft.p95_ms)} · "
        f"total p50 {milliseconds(stats.latency.p50_ms)} p95 {milliseconds(stats.latency.p95_ms)}",
    ]
    votes = stats.votes
    if votes.shown:
        lines.append(f"votes: {counted(votes.wins, 'win')}, {counted(votes.ties, 'tie')}, {votes.all_bad} all bad "
                     f"over {counted(votes.shown, 'model showing')}")
    checked = sum(r.escalations.checked for r in stats.by_route)
    if checked:
        failed = sum(r.escalations.failed for r in stats.by_route)
        lines.append(f"cascades: {failed} of {checked} first answers failed their checks and were escalated "
                     f"({percent(failed / checked)})")
    if stats.savings:
        saved = stats.savings
        verb = "saved" if saved.saved_usd >= 0 else "cost an extra"
        lines.append(f"against {saved.baseline} for everything: {dollars(saved.baseline_usd)}; the router "
                     f"{verb} {dollars(abs(saved.saved_usd))}")
    return lines
