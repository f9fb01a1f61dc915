"""Experiment reports as text: a header, one row per arm with its intervals, and the verdict."""

from __future__ import annotations

import math

from playground.base.safetext import one_line
from playground.services.experiments import ArmReport, ExperimentReport

ARM_COLUMNS = ("arm", "replies", "won/judged", "success (95%)", "$/success (95%)")

INTERVAL_NOTE = ("Intervals are 95%: Wilson for success rates; a normal approximation (delta method) for cost "
                 "per success. \"Better\" is a two-sided z test of the leader against each other arm at 95% "
                 "(Fisher's exact test too when counts are small); under Thompson sampling it needs |z| ≥ 3, "
                 "since adaptive traffic makes the plain test call equal arms different too often.")


def heading(report: ExperimentReport) -> str:
    what = report.outcome if report.outcome != "cost_per_success" else f"cost per success ({report.success_source})"
    how = "Thompson sampling" if report.strategy == "thompson" else \
        "fixed weights " + ":".join(f"{a.weight:g}" for a in report.arms)
    return f"experiment {report.name} · route {report.route} · {how} · outcome {what}"


def arm_cells(report: ExperimentReport, arm: ArmReport) -> tuple[str, ...]:
    rate = f"{arm.rate.estimate:.0%} ({arm.rate.low * 100:.0f}–{arm.rate.high:.0%})" if arm.rate else "–"
    if arm.unpriced:
        cost = f"unknown ({arm.unpriced} unpriced)"
    elif arm.cost_per_success:
        cps = arm.cost_per_success
        # The normal interval is symmetric unless cut at $0: say so rather than print a ± it does not have.
        cost = f"${_figures(cps.estimate)} ±{_figures(cps.high - cps.estimate)}" if cps.low > 0 \
            else f"${_figures(cps.estimate)} ($0–{_figures(cps.high)})"
    else:
        cost = "–"
    label = one_line(arm.label, 40) + (" ★" if arm.winner else "")
    return (label, str(arm.replies), f"{arm.successes}/{arm.judged}", rate, cost)


def _figures(value: float, significant: int = 2) -> str:
    """Two significant figures, never in exponent form: an interval's width says how many are worth showing."""
    if value <= 0:
        return "0"
    return f"{value:.{max(0, significant - 1 - math.floor(math.log10(value)))}f}"


def report_lines(reports: list[ExperimentReport]) -> list[str]:
    if not reports:
        return ["no experiments in this profile (add `experiment:` to a route)"]
    lines: list[str] = []
    for report in reports:
        rows = [ARM_COLUMNS, *(arm_cells(report, arm) for arm in report.arms)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(ARM_COLUMNS))]
        lines += ["", heading(report)] if lines else [heading(report)]
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                          for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        lines.append(f"  {report.verdict}")
    return [*lines, "", INTERVAL_NOTE]
