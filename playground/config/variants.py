"""A model to compare, with its own settings: `smollm2@temperature=1.2`, `llama3.2@http://host:11434/v1`.

The same model twice, as two variants, is what lets a user with no API key compare anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

SETTINGS = ("temperature", "max_tokens", "system")
_SETTING_START = re.compile(r"(?:^|,)(?=(?:" + "|".join(SETTINGS) + r")=)")
_BASE_END = re.compile(r"@(?=\w+=)")


class VariantError(ValueError):
    """The variant text is malformed; the message names the text and what is wrong, on one line."""


@dataclass(frozen=True)
class Variant:
    model: str
    """A profile alias or a LiteLLM model string."""
    api_base: str | None = None
    """An OpenAI-compatible server for this model alone."""
    temperature: float | None = None
    max_tokens: int | None = None
    system: str | None = None
    """A system prompt sent before the conversation."""

    @property
    def target(self) -> str:
        """The catalog alias that serves this variant (Session.add_model names a model with a base so)."""
        return f"{self.model}@{self.api_base}" if self.api_base else self.model

    def on(self, alias: str) -> Variant:
        """The same settings on the catalog entry `alias` (what Session.add_model returned for `target`)."""
        return replace(self, model=alias, api_base=None)

    @property
    def settings(self) -> str:
        """`temperature=1.2,max_tokens=64,system=…` in that order; empty for the model as configured."""
        parts = []
        if self.temperature is not None:
            parts.append(f"temperature={self.temperature:g}")
        if self.max_tokens is not None:
            parts.append(f"max_tokens={self.max_tokens}")
        if self.system is not None:
            parts.append(f"system={self.system}")  # last: it may hold commas
        return ",".join(parts)

    @property
    def label(self) -> str:
        """What the user typed, normalised: parse_variant(v.label) == v."""
        return f"{self.target}@{self.settings}" if self.settings else self.target


def parse_variant(text: str) -> Variant:
    """`model`, `model@URL`, `model@k=v,k=v` or `model@URL@k=v`; keys are temperature, max_tokens and
    system, and system takes the rest of the text (commas included). Raises VariantError."""
    text = text.strip()
    model, _, rest = text.partition("@")
    if not model:
        raise VariantError(f"{text!r}: no model before '@'")
    if not _:
        return Variant(model)
    api_base = None
    if rest.startswith(("http://", "https://")):
        found = _BASE_END.search(rest)
        api_base, rest = (rest[:found.start()], rest[found.end():]) if found else (rest, "")
        if not rest:
            return Variant(model, api_base)
    if not rest:
        raise VariantError(f"{text!r}: nothing after '@' (give key=value settings or an http(s) URL)")
    return _with_settings(text, Variant(model, api_base), rest)


def _with_settings(text: str, base: Variant, rest: str) -> Variant:
    values: dict[str, object] = {}
    system_at = next((m.end() for m in _SETTING_START.finditer(rest) if rest[m.end():].startswith("system=")), None)
    head, system = (rest[:system_at].rstrip(","), rest[system_at + len("system="):]) if system_at is not None \
        else (rest, None)
    for pair in [p for p in head.split(",") if p] if head else []:
        key, equals, value = pair.partition("=")
        key = key.strip()
        if not equals:
            raise VariantError(f"{text!r}: {pair!r} is not key=value (keys: {', '.join(SETTINGS)})")
        if key not in SETTINGS or key == "system":
            raise VariantError(f"{text!r}: unknown setting {key!r} (use {', '.join(SETTINGS)})")
        if key in values:
            raise VariantError(f"{text!r}: {key} given twice")
        values[key] = _number(text, key, value.strip())
    if system is not None:
        if not system.strip():
            raise VariantError(f"{text!r}: system= needs a prompt")
        values["system"] = system
    return Variant(base.model, base.api_base, **values)  # type: ignore[arg-type]


def _number(text: str, key: str, value: str) -> float | int:
    try:
        if key == "temperature":
            number: float | int = float(value)
            if not 0 <= number <= 2:
                raise ValueError
        else:
            number = int(value)
            if number < 1:
                raise ValueError
    except ValueError:
        wanted = "a number from 0 to 2" if key == "temperature" else "a whole number of at least 1"
        raise VariantError(f"{text!r}: {key} must be {wanted}, not {value!r}") from None
    return number
