"""`playground route` as text: one line per prompt, then accuracy and a confusion table."""

from __future__ import annotations

from playground.base.safetext import one_line
from playground.services.route_preview import RoutedPrompt, Scorecard


def route_line(result: RoutedPrompt, width: int = 60) -> str:
    """route · stage · model · score (runner-up, margin) · why · the prompt's start."""
    d = result.decision
    parts = [result.route, result.stage, d.model if d else f"no model: {result.problem}"]
    if d is not None and d.score is not None:
        parts.append(f"score {d.score:.2f}")
    if d is not None and d.runner_up is not None:
        parts.append(f"runner-up {d.runner_up} (margin {d.margin:.2f})")
    if result.why:
        parts.append(result.why)
    mark = "" if result.correct is None else ("✓ " if result.correct else f"✗ (expected {result.case.expected}) ")
    return f"{mark}{' · '.join(parts)} — {one_line(result.case.prompt, width)}"


def scorecard_lines(card: Scorecard) -> list[str]:
    labels = card.labels
    width = max(len(label) for label in labels + ["expected ↓ / routed →"])
    cells = [max(len(label), 3) for label in labels]
    lines = [f"accuracy {card.accuracy:.1%} ({card.correct}/{card.total})", "",
             f"{'expected ↓ / routed →':<{width}}  " + "  ".join(f"{label:>{c}}" for label, c in zip(labels, cells))]
    for expected in labels:
        counts = [card.confusion.get((expected, routed), 0) for routed in labels]
        if not any(counts):
            continue
        lines.append(f"{expected:<{width}}  " + "  ".join(f"{n or '.':>{c}}" for n, c in zip(counts, cells)))
    return lines
