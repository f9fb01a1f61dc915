"""Targeted edits of a profile file that keep its comments and layout: the text changes only where the
value does, and the result is validated before it replaces the file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import yaml

from playground.config.profile import ProfileError, load_profile


def set_experiment_winner(path: Path, experiment: str, winner: str) -> None:
    """Set `winner:` in the named experiment's mapping: its value replaced if present, else a line (or, in
    a flow mapping, an entry) inserted before the mapping's first key. Raises ProfileError, leaving the
    file as it was, when the experiment is not found or the edited profile does not load."""
    try:
        text = path.read_text(encoding="utf-8")
        node = _experiment_node(yaml.compose(text, Loader=yaml.SafeLoader), experiment)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        load_profile(path)  # says where the file went wrong, file:line
        raise
    if node is None:
        raise ProfileError(f"{path}: no experiment {experiment!r} in the file")
    value = json.dumps(winner, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
    existing = next((v for k, v in node.value if k.value == "winner"), None)
    if existing is not None:
        start, end = existing.start_mark.index, existing.end_mark.index
        edited = text[:start] + value + text[end:]
    else:
        first = node.value[0][0]
        at = first.start_mark.index
        insert = f"winner: {value}, " if node.flow_style else f"winner: {value}\n{' ' * first.start_mark.column}"
        edited = text[:at] + insert + text[at:]
    _replace_checked(path, edited)


def _experiment_node(root: yaml.Node | None, name: str) -> yaml.MappingNode | None:
    routes = _get(root, "routes")
    if not isinstance(routes, yaml.SequenceNode):
        return None
    for route in routes.value:
        found = _get(route, "experiment")
        if isinstance(found, yaml.MappingNode) and found.value and \
                getattr(_get(found, "name"), "value", None) == name:
            return found
    return None


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _replace_checked(path: Path, text: str) -> None:
    """Write beside the file, validate that copy as a profile, then move it over the file in one step."""
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot write beside it: {exc.strerror}") from None
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            load_profile(temporary)
        except ProfileError as exc:
            raise ProfileError(f"{path}: the edit would not load ({str(exc).replace(str(temporary), 'edited')}); "
                               "the file was left unchanged") from None
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
