"""Every screen's stylesheet applies to the whole app once loaded: each rule must name its screen first."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import playground.tui.screens as screens_package

SCREENS = Path(screens_package.__file__).parent


def _owners() -> dict[str, set[str]]:
    """tcss file name → the screen classes that load it (found in the screens' CSS_PATH lines)."""
    owners: dict[str, set[str]] = {}
    for module in SCREENS.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.Assign) and [t.id for t in item.targets if isinstance(t, ast.Name)] \
                            == ["CSS_PATH"] and isinstance(item.value, ast.Constant):
                        owners.setdefault(item.value.value, set()).add(node.name)
    return owners


def _selectors(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    heads = re.findall(r"^([^\s{}][^{}]*?)\s*\{", css, flags=re.M)
    return [selector.strip() for head in heads for selector in head.split(",")]


def test_every_screen_stylesheet_has_an_owner():
    owners = _owners()
    assert set(owners) == {path.name for path in SCREENS.glob("*.tcss")}


@pytest.mark.parametrize("name", sorted(path.name for path in SCREENS.glob("*.tcss")))
def test_every_rule_is_scoped_to_its_screen(name):
    # An unscoped `#models { display: none }` in the chat's file hid the compare picker's list.
    owners = _owners()[name]
    selectors = _selectors((SCREENS / name).read_text())
    unscoped = [s for s in selectors if re.split(r"[ .:#>]", s, maxsplit=1)[0] not in owners]
    assert unscoped == [], f"{name}: rules that would style other screens: {unscoped}"
