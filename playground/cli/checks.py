"""`playground doctor`, `profile check` and `prices`: is this machine, this profile and this price list sound?"""

from __future__ import annotations

import click

from playground.cli.common import db_option, fail, option, print_json, profile_option


@click.command(short_help="Check keys, models, Ollama, the store; say what to fix.")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of checks")
@profile_option
@db_option
def doctor(as_json: bool) -> int:
    """Check keys, the local model, Ollama, the store and versions; say what to do about each problem.

    The exit status is 1 when something needs fixing.
    """
    from playground.services.doctor import run_checks, to_dicts

    checks = run_checks(option("profile"), option("db"))
    if as_json:
        print_json(to_dicts(checks))
    else:
        for check in checks:
            click.echo(f"{'✓' if check.ok else '○' if check.optional else '✗'} {check.name}: {check.detail}")
            if check.fix:
                click.echo(f"    → {check.fix}")
    return 1 if any(not c.ok and not c.optional for c in checks) else 0


@click.group()
def profile() -> None:
    """Work with routing profiles."""


@profile.command()
@click.argument("files", nargs=-1, required=True, metavar="PROFILE...")
def check(files: tuple[str, ...]) -> int:
    """Validate profiles (YAML files or bundled names); one line per problem."""
    from playground.base.paths import resolve_profile
    from playground.config.profile import ProfileError, load_profile

    failed = 0
    for name in files:
        path = resolve_profile(name)
        try:
            loaded = load_profile(path)
        except ProfileError as exc:
            click.echo(str(exc), err=True)
            failed += 1
        else:
            click.echo(f"{path}: ok ({loaded.name}: {len(loaded.models)} models, {len(loaded.routes)} routes)")
            _semantic_warnings(path, loaded)
    return 1 if failed else 0


@click.group()
def prices() -> None:
    """Model prices used for routing and cost figures."""


@prices.command()
@click.option("--source", type=click.Choice(["litellm", "openrouter"]), default="litellm", show_default=True)
@click.option("--url", help="fetch from this URL instead of the source's public one (a mirror)")
def refresh(source: str, url: str | None) -> int:
    """Download current prices (needs network) into a dated cache."""
    from playground.config import prices as price_list

    try:
        count, path = price_list.refresh(source, url)
    except price_list.PriceError as exc:
        fail(str(exc), 1)
    click.echo(f"{count:,} models priced from {source}; saved to {path}")
    return 0


@prices.command()
def show() -> int:
    """Say which prices are in use."""
    from playground.config import prices as price_list

    table = price_list.load_prices()
    click.echo(f"{len(table.entries):,} models priced; source: {table.source}; cache: {price_list.cache_path()}")
    return 0


def _semantic_warnings(path, loaded) -> None:
    """A warning per semantic route whose set threshold its own utterances rarely reach; not a failure."""
    if not loaded.semantic_routes:
        return
    from playground.router.embeddings import EmbeddingError
    from playground.services.route_preview import threshold_warnings

    try:
        warnings = threshold_warnings(loaded)
    except EmbeddingError as exc:
        click.echo(f"{path}: note: semantic thresholds not checked: {exc}", err=True)
        return
    for warning in warnings:
        click.echo(f"{path}: warning: {warning}", err=True)
