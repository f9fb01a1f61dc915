"""Evaluation reports as text tables for the terminal."""

from __future__ import annotations

from playground.base.money import dollars
from playground.policy.evaluation import EvalReport
from playground.present.plots import terminal_plot


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _row(name: str, summary: dict) -> str:
    return (f"  {name:34} {summary['quality']:8.3f} {dollars(summary['cost_usd']):>11} "
            f"{_pct(summary['strong_share']):>8}")


def eval_text(reports: list[EvalReport], data_name: str) -> str:
    first = reports[0]
    lines = [f"{data_name}: {first.n:,} prompts ({first.skipped} without outcomes for every model) · "
             f"strong {first.strong_model} · weak {first.weak_model}", "",
             f"  {'policy':34} {'quality':>8} {'cost':>11} {'strong':>8}"]
    for report in reports:
        lines.append(_row(f"{report.profile} (profile)", report.router.total.summary()))
    for alias, result in first.baselines.items():
        lines.append(_row(f"{alias} alone", result.total.summary()))
    lines.append(_row("oracle (cheapest correct)", first.oracle.total.summary()))
    lines.append("")
    for report in reports:
        if (cascade := report.cascade) is not None:
            lines.append(f"  {report.profile}: cascades on {cascade.prompts:,} prompts · "
                         f"{_pct(cascade.escalation_rate)} escalated · {cascade.calls / max(cascade.prompts, 1):.2f} "
                         f"answers paid per prompt · simulated checks {cascade.check_accuracy} (seed "
                         f"{cascade.seed}): {cascade.wrong_kept} wrong answers kept, {cascade.right_escalated} right "
                         f"ones escalated" + (f" · judge calls {dollars(cascade.judge_usd)} (est.)"
                                              if cascade.judge_usd else ""))
    for report in reports:
        m = report.metrics()
        apgr = "–" if m["apgr"] is None else f"{m['apgr']:.3f}"
        lines.append(f"  {report.profile}: CPT(50%) {_pct(m['cpt50'])} · CPT(80%) {_pct(m['cpt80'])} · "
                     f"APGR {apgr} · cost saved at 95% of {report.strong_model}'s quality "
                     f"{_pct(m['cost_saved_at_95'])}")
    lines += ["", f"  per category ({first.profile}):",
              f"  {'category':34} {'n':>5} {'quality':>8} {'strong q':>9} {'weak q':>7} {'cost':>11} {'strong':>7}"]
    strong, weak = first.baselines[first.strong_model], first.baselines[first.weak_model]
    for category, tally in sorted(first.router.categories.items()):
        s = tally.summary()
        lines.append(f"  {category[:34]:34} {s['n']:5} {s['quality']:8.3f} "
                     f"{strong.categories[category].summary()['quality']:9.3f} "
                     f"{weak.categories[category].summary()['quality']:7.3f} {dollars(s['cost_usd']):>11} "
                     f"{_pct(s['strong_share']):>7}")
    lines += ["", terminal_plot(curve_series(reports))]
    return "\n".join(lines)


def curve_series(reports: list[EvalReport]) -> list:
    """Each profile's cost–quality curve, and the single models and the oracle as points."""
    first = reports[0]
    series = [(report.profile, [(p.cost_usd, p.quality) for p in report.curve]) for report in reports]
    for alias, result in first.baselines.items():
        summary = result.total.summary()
        series.append((f"{alias} alone", [(summary["cost_usd"], summary["quality"])]))
    oracle = first.oracle.total.summary()
    series.append(("oracle", [(oracle["cost_usd"], oracle["quality"])]))
    return series
