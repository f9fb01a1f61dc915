"""Routing profiles: YAML in, a validated and typed Profile out, or one clear error with file:line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from playground.yamlsource import SourceError, YamlDocument, load_yaml

ProfileError = SourceError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Strict):
    """Dollars per million tokens; overrides LiteLLM's price map for this model."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class ModelSpec(_Strict):
    """One model the router may send prompts to."""

    model: str = Field(min_length=1)
    """LiteLLM model string, e.g. `openai/gpt-4o-mini`, or `local/smollm2` for the embedded model."""
    key_env: str | None = None
    """Name of the environment variable holding the API key. The key itself never goes in a profile."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server (Ollama, vLLM, LM Studio) or a provider proxy."""
    price: Price | None = None
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    tags: tuple[str, ...] = ()
    label: str | None = None
    """A short human name shown in the UI."""

    @field_validator("key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable (letters, digits, _), not a key")
        return value


class Condition(_Strict):
    """All given conditions must hold for a route to match."""

    code: bool | None = None
    """The prompt contains code (a fenced block or code-like lines)."""
    min_prompt_tokens: int | None = Field(default=None, ge=0)
    max_prompt_tokens: int | None = Field(default=None, ge=0)


class Route(_Strict):
    name: str = Field(min_length=1)
    when: Condition | None = None
    """No condition: the route always matches (use it last, as the default)."""
    tier: str
    select: Literal["cheapest", "first"] = "cheapest"
    """cheapest: lowest estimated cost among available models; first: the tier's order (strongest first)."""


class Timeouts(_Strict):
    first_token: float = Field(default=30.0, gt=0)
    idle: float = Field(default=30.0, gt=0)
    """Longest silence between two chunks of a stream."""
    total: float = Field(default=300.0, gt=0)


class Profile(_Strict):
    version: Literal[1] = 1
    name: str
    description: str = ""
    models: dict[str, ModelSpec]
    tiers: dict[str, tuple[str, ...]]
    """Named sets of candidate models. A member is a model alias or `tag:NAME` (every model with that tag)."""
    routes: tuple[Route, ...]
    fallbacks: tuple[str, ...] = ()
    """Tried in order after the chosen tier's other candidates."""
    timeouts: Timeouts = Timeouts()
    expected_output_tokens: int = Field(default=300, gt=0)
    """Used to estimate a reply's cost before it is made."""

    @model_validator(mode="after")
    def _references(self) -> "Profile":
        for tier, members in self.tiers.items():
            for member in members:
                if not member.startswith("tag:") and member not in self.models:
                    raise ValueError(f"tier {tier!r} names unknown model {member!r}")
        for route in self.routes:
            if route.tier not in self.tiers:
                raise ValueError(f"route {route.name!r} names unknown tier {route.tier!r}")
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError("route names must be unique")
        for alias in self.fallbacks:
            if alias not in self.models:
                raise ValueError(f"fallbacks name unknown model {alias!r}")
        if not self.routes or self.routes[-1].when is not None:
            raise ValueError("the last route must have no `when` so that every prompt has a route")
        return self

    def key_envs(self) -> set[str]:
        return {m.key_env for m in self.models.values() if m.key_env}


def load_profile(path: Path) -> Profile:
    document = load_yaml(path)
    if not isinstance(document.data, dict):
        raise ProfileError(f"{path}:1:1: a profile is a mapping with `name`, `models`, `tiers` and `routes`")
    data = dict(document.data)
    data.setdefault("name", path.stem)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_describe(exc, document)) from None


_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
}


def _describe(exc: ValidationError, document: YamlDocument) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    field = ".".join(str(p) for p in loc) or "profile"
    message = _FRIENDLY.get(first["type"], first["msg"])
    message = message.removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "missing":
        loc = loc[:-1]
    return f"{document.where(loc)}: {field}: {message}{more}"
