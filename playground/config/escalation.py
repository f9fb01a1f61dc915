"""A route's `escalate:` section: which checks an answer must pass, and whom to ask next when it does not."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_CRITERION = "The answer is correct, complete and does what the question asks."


def valid_regex(value: str | None) -> str | None:
    """A profile's regular expression, refused with the reason when it does not compile."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Judge(_Strict):
    """A profile model that grades the answer PASS or FAIL against a criterion."""

    model: str
    """A model alias of the profile (its call is recorded and priced like any other)."""
    criterion: str = DEFAULT_CRITERION


class Escalation(_Strict):
    """Answer with the route's own choice, check the answer, and when a check fails ask the next step of `to`
    with the conversation unchanged (and so on). Checks run cheapest first; the judge runs last."""

    to: tuple[str, ...] = Field(min_length=1)
    """Tiers or model aliases, asked in this order after the route's own tier."""
    json_: bool | dict[str, Any] | None = Field(default=None, alias="json")
    """`true`: the answer must be JSON (a ```json fence around it is allowed); a mapping: a JSON Schema it must
    also satisfy."""
    regex: str | None = None
    """Python regular expression the answer must contain a match of."""
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, gt=0)
    refusal: bool = False
    """Fail answers that refuse ("I can't help with that")."""
    confidence: float | None = Field(default=None, ge=0, le=1)
    """The model is asked to end with a line `Confidence: N%`; a stated confidence below this (or none) fails."""
    logprob: float | None = Field(default=None, le=0)
    """Mean token log-probability the answer must reach, where the provider returns them (else not checked)."""
    judge: Judge | None = None
    """An LLM judge: a model alias, or {model, criterion}."""

    @field_validator("judge", mode="before")
    @classmethod
    def _judge_alias(cls, value: object) -> object:
        return {"model": value} if isinstance(value, str) else value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return valid_regex(value)

    @field_validator("json_")
    @classmethod
    def _schema(cls, value: bool | dict | None) -> bool | dict | None:
        if isinstance(value, dict):
            import jsonschema

            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return value

    @model_validator(mode="after")
    def _some_check(self) -> Escalation:
        checks = (self.json_, self.regex, self.min_chars, self.max_chars, self.confidence, self.logprob, self.judge)
        if not self.refusal and all(c is None or c is False for c in checks):
            raise ValueError("escalate needs at least one check: json, regex, min_chars, max_chars, refusal, "
                             "confidence, logprob or judge")
        if self.min_chars is not None and self.max_chars is not None and self.min_chars > self.max_chars:
            raise ValueError(f"min_chars {self.min_chars} is above max_chars {self.max_chars}")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The checks this section runs, in the order they run."""
        found = [("json", self.json_ not in (None, False)), ("regex", self.regex is not None),
                 ("length", self.min_chars is not None or self.max_chars is not None), ("refusal", self.refusal),
                 ("confidence", self.confidence is not None), ("logprob", self.logprob is not None),
                 ("judge", self.judge is not None)]
        return tuple(name for name, on in found if on)


def unknown_step(escalation: Escalation, tiers: set[str], models: set[str]) -> tuple[str, tuple] | None:
    """The first reference that names nothing in the profile, as (message, place within `escalate`)."""
    for i, step in enumerate(escalation.to):
        if step not in tiers and step not in models:
            return f"{step!r} is neither a tier nor a model (tiers: {', '.join(sorted(tiers))})", ("to", i)
    if escalation.judge is not None and escalation.judge.model not in models:
        return (f"unknown model {escalation.judge.model!r} (models: {', '.join(sorted(models))})",
                ("judge", "model"))
    return None
