"""`playground experiment stop`: end an experiment and write its winner into the profile."""

from __future__ import annotations

import click

from playground.cli.common import db_option, fail, opened_session, profile_option


@click.group()
def experiment() -> None:
    """Experiments: routes that split traffic between variants (see `stats --experiments`)."""


@experiment.command()
@click.argument("name")
@click.option("--winner", "-w", metavar="ARM", help="the arm to promote (default: the one leading on its outcome)")
@profile_option
@db_option
def stop(name: str, winner: str | None) -> int:
    """Stop experiment NAME: its winner answers every prompt on the route from now on."""
    from playground.config.profile import ProfileError
    from playground.services.experiments import ExperimentError
    from playground.services.experiments import stop as stop_experiment

    with opened_session() as session:
        try:
            chosen = stop_experiment(session.profile_path, session.profile, session.store, name, winner)
        except (ExperimentError, ProfileError) as exc:
            fail(str(exc))
    click.echo(f"experiment {name} stopped: {chosen} is the winner, written to {session.profile_path}")
    return 0


def render_experiments(session, as_json: bool) -> str:
    """`stats --experiments`: each arm's outcomes with their intervals, and whether one is better."""
    import dataclasses
    import json

    from playground.present.experiments import report_lines
    from playground.services.experiments import report

    reports = report(session.store, session.profile)
    if as_json:
        return json.dumps([dataclasses.asdict(r) | {"verdict": r.verdict} for r in reports], indent=2)
    return "\n".join(report_lines(reports))
