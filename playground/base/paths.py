"""Where the playground keeps its data: one directory, overridable per run."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DB = "PLAYGROUND_DB"
ENV_HOME = "PLAYGROUND_HOME"
ENV_MODELS = "PLAYGROUND_MODELS"


def data_dir() -> Path:
    if home := os.environ.get(ENV_HOME):
        return Path(home).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "llm-playground"


def models_dir() -> Path:
    """Models the playground derives from installed ones (built once, rebuilt when missing): in the data
    directory unless PLAYGROUND_MODELS says where, so that many homes (tests, sandboxes) can share one build."""
    if models := os.environ.get(ENV_MODELS):
        return Path(models).expanduser()
    return data_dir() / "models"


def default_db_path() -> Path:
    """--db flag beats PLAYGROUND_DB, which beats PLAYGROUND_HOME/history.db."""
    if db := os.environ.get(ENV_DB):
        return Path(db).expanduser()
    return data_dir() / "history.db"


def bundled_profiles_dir() -> Path:
    return Path(__file__).parent.parent / "profiles"


def resolve_profile(name_or_path: str | None) -> Path:
    """A profile is a path to a YAML file or the name of a bundled one ("default", "local-only")."""
    if not name_or_path:
        return bundled_profiles_dir() / "default.yaml"
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return bundled_profiles_dir() / f"{name_or_path}.yaml"


def missing_profile(path: Path) -> str | None:
    """A one-line error when `path` names a bundled profile that does not exist, listing those that do."""
    bundled = bundled_profiles_dir()
    if path.exists() or path.parent != bundled:
        return None
    names = ", ".join(sorted(p.stem for p in bundled.glob("*.yaml")))
    return f"no profile named {path.stem!r}: bundled ones are {names}; or give the path of a YAML file"


def known_profiles(current: Path | None = None) -> list[Path]:
    """Profiles to offer in a picker: the bundled ones, the user's (data dir), the working directory's."""
    found: dict[Path, None] = {}
    if current is not None:
        found[current.resolve()] = None
    for folder, pattern in ((bundled_profiles_dir(), "**/*.yaml"), (data_dir() / "profiles", "*.yaml"),
                            (Path.cwd(), "*.yaml")):
        if folder.is_dir():
            for path in sorted(folder.glob(pattern)):
                found[path.resolve()] = None
    return list(found)


def preferences_path() -> Path:
    return data_dir() / "preferences.json"
