"""Experiment reports as text: a header, one row per arm with its intervals, and the verdict."""

from __future__ import annotations

from playground.base.safetext import one_line
from playground.present.format import dollars
from playground.services.experiments import ArmReport, ExperimentReport

ARM_COLUMNS = ("arm", "share", "replies", "judged", "successes", "success rate (95%)", "$/success (95%)")

INTERVAL_NOTE = ("Intervals are 95%: Wilson for success rates; a normal approximation (delta method) for cost "
                 "per success. \"Better\" is a two-sided z test at 95%, the leader against each other arm.")


def heading(report: ExperimentReport) -> str:
    what = report.outcome if report.outcome != "cost_per_success" else f"cost per success ({report.success_source})"
    return f"experiment {report.name} · route {report.route} · {report.strategy} · outcome {what}"


def arm_cells(report: ExperimentReport, arm: ArmReport) -> tuple[str, ...]:
    total = sum(a.weight for a in report.arms)
    share = f"{arm.weight / total:.0%}" if report.strategy == "fixed" else "adaptive"
    rate = (f"{arm.rate.estimate:.0%} ({arm.rate.low:.0%}–{arm.rate.high:.0%})" if arm.rate else "–")
    if arm.unpriced:
        cost = f"unknown ({arm.unpriced} unpriced)"
    elif arm.cost_per_success:
        cps = arm.cost_per_success
        cost = f"{dollars(cps.estimate)} ({dollars(cps.low)}–{dollars(cps.high)})"
    else:
        cost = "–"
    label = arm.label + (" ★ winner" if arm.winner else " ◆ leads" if arm.label == report.leader else "")
    return (one_line(label, 48), share, str(arm.replies), str(arm.judged), str(arm.successes), rate, cost)


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
