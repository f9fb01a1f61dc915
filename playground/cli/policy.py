"""`playground eval`, `tune` and `export`: decide a routing policy on recorded outcomes and serve it elsewhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from playground.cli.common import announce_encoder_build, db_option, fail, opened_session, print_json, progress


@click.command("eval", short_help="Replay recorded outcomes through profiles.")
@click.argument("profile_file", metavar="PROFILE")
@click.argument("data", metavar="DATA.jsonl")
@click.argument("more_profiles", metavar="[PROFILE2]...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--plot", metavar="FILE.svg", help="also write the cost–quality curves as SVG")
@click.option("--live", is_flag=True,
              help="DATA is a prompt file: call the routed models for real, check each answer, record it in history "
                   "(lines: {prompt, check: exact|contains|regex|json|judge, expected})")
@click.option("--results", metavar="FILE", help="with --live: where results go (default DATA.results.jsonl); prompts "
                                                "already there are skipped, so an interrupted run resumes")
@click.option("--per-provider", type=int, default=2, show_default=True,
              help="with --live: concurrent calls per provider")
@click.option("--judge", metavar="ALIAS", help="with --live: the model that grades `judge` checks")
@click.option("--check-accuracy", metavar="P[:Q]", callback=lambda _ctx, _param, value: _accuracy(value),
              help="for a profile that escalates: how often its checks agree with the data's correctness label "
                   "(score ≥ 0.5): P on right and wrong answers alike, or P on right ones and Q on wrong ones "
                   "(e.g. 0.9 or 0.95:0.7; `eval --live` measures both)")
@click.option("--seed", type=int, default=0, show_default=True, help="seeds the simulated checks of --check-accuracy")
@db_option
def evaluate(profile_file, data, more_profiles, as_json, plot, live, results, per_provider, judge, check_accuracy,
             seed) -> int:
    """Replay recorded outcomes through profiles: quality, cost, metrics.

    PROFILE is a profile name or YAML file, DATA.jsonl replay data (one prompt with per-model outcomes a
    line); further profiles are evaluated side by side.
    """
    if live:
        return _eval_live(profile_file, Path(data), more_profiles, as_json, results, per_provider, judge)
    from playground.base.paths import resolve_profile
    from playground.config.profile import ProfileError, load_profile
    from playground.policy.evaluation import EvalError, evaluate
    from playground.policy.replay import load_replay
    from playground.router.embeddings import EmbeddingError
    from playground.router.semantic import build_index

    try:
        profiles = [load_profile(resolve_profile(p)) for p in [profile_file, *more_profiles]]
        items = load_replay(Path(data))
        reports = []
        for profile in profiles:
            announce_encoder_build(profile)
            index = build_index(profile)
            reports.append(evaluate(profile, items, semantic=index, progress=progress(f"routing with {profile.name}"),
                                    check_accuracy=check_accuracy, seed=seed))
    except (ProfileError, EvalError, EmbeddingError) as exc:
        fail(str(exc))
    if plot:
        from playground.base.files import write_private
        from playground.present.plots import svg_plot
        from playground.present.report import curve_series

        write_private(Path(plot), svg_plot(curve_series(reports), f"cost vs quality on {Path(data).name}"))
    if as_json:
        print_json({"data": data, "profiles": [r.to_dict() for r in reports]})
        return 0
    from playground.present.report import eval_text

    click.echo(eval_text(reports, Path(data).name))
    return 0


def _accuracy(value: str | None):
    from playground.policy.evaluation import CheckAccuracy

    if value is None:
        return None
    try:
        return CheckAccuracy.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _eval_live(profile_file, data: Path, more_profiles, as_json, results, per_provider, judge) -> int:
    from playground.base.errors import SourceError
    from playground.base.money import dollars
    from playground.services.live_eval import read_prompts, run_live, summarise

    if more_profiles:
        fail("--live evaluates one profile at a time")
    if per_provider < 1:
        fail("--per-provider must be at least 1")
    results_path = Path(results) if results else data.with_suffix(".results.jsonl")
    try:
        prompts = read_prompts(data)
    except SourceError as exc:
        fail(str(exc))
    with opened_session(profile_file) as session:
        if judge and judge not in session.catalog:
            fail(f"--judge {judge!r} is not a model of profile {session.profile.name!r}")
        session.refresh_local_models()
        session.seed_health()
        try:
            rows = asyncio.run(run_live(session, prompts, results_path, per_provider=per_provider, judge=judge,
                                        progress=progress(f"live eval of {session.profile.name}")))
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: finished prompts are in {results_path}; run again to resume", err=True)
            return 130
    summary = summarise(rows)
    if as_json:
        print_json(summary | {"results": str(results_path)})
        return 0
    rate = "–" if summary["pass_rate"] is None else f"{summary['pass_rate']:.1%}"
    click.echo(f"{summary['prompts']} prompts · {summary['answered']} answered · passed {summary['passed']}/"
               f"{summary['checked']} checked ({rate}) · {dollars(summary['cost_usd'])} · results in {results_path}")
    if summary["cascaded"]:
        def share(key: str) -> str:
            return "–" if summary[key] is None else f"{summary[key]:.2f}"

        click.echo(f"cascades: {summary['escalated']} of {summary['cascaded']} escalated · on the first answers, by "
                   f"the prompts' own checks, the cascade's checks passed {share('check_pass_right')} of "
                   f"{summary['right_first']} right ones and failed {share('check_fail_wrong')} of "
                   f"{summary['wrong_first']} wrong ones (replay with --check-accuracy "
                   f"{share('check_pass_right')}:{share('check_fail_wrong')})")
    for model, m in sorted(summary["by_model"].items()):
        click.echo(f"  {model:30} {m['prompts']:4} prompts  {m['passed']}/{m['checked']} passed  "
                   f"{dollars(m['cost_usd'])}")
    return 0


@click.command(short_help="Learn a profile's learned route (replay data, history).")
@click.argument("profile_file", metavar="PROFILE")
@click.option("--data", metavar="DATA.jsonl", help="replay data to learn the learned route from")
@click.option("--history", "use_history", is_flag=True,
              help="also adjust selection weights from observed errors and latency, and per-route model preferences "
                   "from votes and good/bad marks, in your history (--db)")
@click.option("--target-quality", type=float, default=0.95,
              help="keep this fraction of the strong model's quality (default 0.95)")
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--embedding/--no-embedding", default=False, show_default=True,
              help="also weigh each prompt's sentence embedding (the profile's `embeddings` encoder, as semantic "
                   "routes read prompts; cached on disk), beside its hashed words. Off by default: on held-out "
                   "RouteLLM GSM8K and MMLU it did not beat hashed words (benchmarks/learned_routing.py), and a "
                   "route that uses it embeds every prompt it decides")
@click.option("--output", "-o", required=True, metavar="FILE", help="where to write the tuned profile")
@click.option("--json", "as_json", is_flag=True, help="print the cross-validated report as JSON")
@db_option
def tune(profile_file, data, use_history, target_quality, folds, seed, embedding, output, as_json) -> int:
    """Learn a profile's learned route from replay data and/or history.

    PROFILE is the profile name or YAML file to start from.
    """
    from playground.base.files import write_private
    from playground.base.money import dollars
    from playground.base.paths import resolve_profile
    from playground.config.profile import ProfileError, load_profile
    from playground.policy.evaluation import EvalError
    from playground.policy.export import to_profile_yaml
    from playground.policy.replay import load_replay
    from playground.policy.tune import tune
    from playground.router.embeddings import EmbeddingError

    if folds < 2:
        fail("--folds must be at least 2")
    if not data and not use_history:
        fail("tune needs --data DATA.jsonl, --history, or both")

    def show(stage: str, done: int, total: int) -> None:
        click.echo(f"{stage} {done}/{total}", err=True)

    report = history_report = None
    try:
        tuned = load_profile(resolve_profile(profile_file))
        if data:
            encoder = cache = None
            if embedding:
                from playground.router.embeddings import EmbeddingCache
                from playground.router.semantic import encoder_for

                encoder, cache = encoder_for(tuned), EmbeddingCache()
            tuned, report = tune(tuned, load_replay(Path(data)), target_quality=target_quality, folds=folds,
                                 seed=seed, data_name=Path(data).name, progress=show, encoder=encoder, cache=cache)
        if use_history:
            from playground.cli.common import opened_store
            from playground.policy.tune_history import tune_from_history

            with opened_store() as store:
                tuned, history_report = tune_from_history(tuned, store)
    except (ProfileError, EvalError, EmbeddingError) as exc:
        fail(str(exc))
    sources = " and ".join(filter(None, [Path(data).name if data else "", "history" if use_history else ""]))
    header = f"# Tuned by `playground tune` from {profile_file} on {sources}.\n"
    try:
        write_private(Path(output), header + to_profile_yaml(tuned))
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror}")
    if as_json:
        print_json({"replay": report.to_dict() if report else None, "history": history_report})
        return 0
    if history_report is not None:
        weights = history_report["selection"]
        click.echo(f"history: {history_report['attempts']:,} attempts → selection weights cost {weights['cost']} · "
                   f"latency {weights['latency']} · health {weights['health']}; preferences: "
                   + (", ".join(f"{route}: {', '.join(models)}"
                                for route, models in history_report["preferences"].items())
                      or "none yet (vote in compare, or mark replies with Ctrl+G/Ctrl+F)"))
    if report is None:
        click.echo(f"wrote {output}")
        return 0

    def pct(value):
        return "–" if value is None else f"{value:.1%}"

    click.echo(f"tuned {report.n:,} prompts · {report.folds}-fold cross-validation (every figure on held-out folds)")
    click.echo(f"  cheap {report.cheap_model}: quality {report.cheap_quality:.3f} · strong {report.strong_model}: "
               f"quality {report.strong_quality:.3f}")
    click.echo(f"  routed at the calibrated threshold: quality {report.cv_quality:.3f} "
               f"({report.cv_quality / report.strong_quality:.1%} of strong) · cost {dollars(report.cv_cost)} vs "
               f"{dollars(report.strong_cost)} all-strong · strong share {pct(report.cv_strong_share)}")
    click.echo(f"  cost saved at {report.target_quality:.0%} of strong quality: {pct(report.cost_saved_at_target)} · "
               f"CPT(50%) {pct(report.cpt50)} · CPT(80%) {pct(report.cpt80)} · APGR {report.apgr:.3f}")
    click.echo(f"  threshold {report.threshold:.4f} · wrote {output}")
    return 0


@click.command(short_help="Write a profile as a LiteLLM proxy config or YAML.")
@click.argument("profile_file", metavar="PROFILE")
@click.option("--format", "form", type=click.Choice(["litellm", "yaml"]), default="litellm", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="file to write (created 0600); default: standard output. For "
                                                     "litellm, the routing module and the profile it runs go beside it")
@click.option("--local-url", metavar="URL", help="serve the embedded local model from this OpenAI-compatible server "
                                                 "(llama.cpp server, Ollama /v1) instead of leaving it out")
def export(profile_file, form, output, local_url) -> int:
    """Write a profile as a LiteLLM proxy config (that routes `model: PROFILE` as the playground does) or as
    normalised YAML."""
    import sys

    from playground.base.files import write_private
    from playground.base.paths import resolve_profile
    from playground.config.catalog import build_catalog
    from playground.config.profile import ProfileError, load_profile
    from playground.policy.export import ExportError, to_litellm, to_profile_yaml, write_export

    try:
        profile = load_profile(resolve_profile(profile_file))
    except ProfileError as exc:
        fail(str(exc))
    target = Path(output) if output else None
    exported = None
    if form == "litellm":
        try:
            exported = to_litellm(profile, build_catalog(profile, env={}), local_url=local_url,
                                  routing=target is not None)
        except ExportError as exc:
            fail(str(exc))
        for line in exported.changes:
            click.echo(f"playground: changed: {line}", err=True)
        for line in exported.unmapped:
            click.echo(f"playground: not exported: {line}", err=True)
    text = exported.to_yaml() if exported else to_profile_yaml(profile)
    if target is None:
        sys.stdout.write(text)
        return 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if exported:
            written = write_export(exported, target)
        else:
            write_private(target, text)
            written = [target]
    except OSError as exc:
        fail(f"{exc.filename or output}: cannot write: {exc.strerror}")
    click.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)
    return 0


@click.group("import", short_help="Turn another tool's config into a profile.")
def import_() -> None:
    """Turn another tool's config into a profile."""


@import_.command("litellm", short_help="A LiteLLM proxy config as a profile.")
@click.argument("config", metavar="CONFIG.yaml")
@click.option("--output", "-o", metavar="PROFILE.yaml", required=True, help="the profile to write")
def import_litellm(config, output) -> int:
    """A LiteLLM proxy config (model_list, fallbacks, router_settings) as a profile; on a config written by
    `playground export`, the exported profile back."""
    from playground.policy.export import to_profile_yaml
    from playground.policy.litellm_import import ImportProblem, import_litellm

    try:
        imported = import_litellm(Path(config), name=Path(output).stem)
    except ImportProblem as exc:
        fail(str(exc))
    for note in imported.notes:
        click.echo(f"playground: note: {note}", err=True)
    try:
        Path(output).write_text(to_profile_yaml(imported.profile))
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror}")
    click.echo(f"wrote {output} (profile {imported.profile.name!r}, {len(imported.profile.models)} models)", err=True)
    return 0
