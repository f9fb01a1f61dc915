"""Replay data: recorded per-prompt outcomes of real models, for judging a routing policy offline."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from playground.base.errors import SourceError
from playground.base.jsonl import read_objects


@dataclass(frozen=True)
class Outcome:
    score: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    response: str | None = None


@dataclass(frozen=True)
class ReplayItem:
    id: str
    category: str
    prompt: str
    outcomes: dict[str, Outcome]


def _outcome(raw: object, where: str) -> Outcome:
    if not isinstance(raw, dict) or not isinstance(raw.get("score"), (int, float)) or isinstance(raw["score"], bool):
        raise SourceError(f"{where}: an outcome needs a numeric `score` (1 = correct)")
    score = float(raw["score"])
    # Scores are meant to lie in [0, 1], but some sources' metrics dip slightly below 0 (RouterArena's
    # NarrativeQA); averages stay meaningful, so only non-finite values are refused.
    if not math.isfinite(score):
        raise SourceError(f"{where}: score is not a finite number")

    def number(key: str, kind: type):
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise SourceError(f"{where}: `{key}` must be a non-negative number")
        return kind(value)

    response = raw.get("response")
    return Outcome(score, number("input_tokens", int), number("output_tokens", int), number("cost_usd", float),
                   response if isinstance(response, str) else None)


def read_replay(path: Path) -> Iterator[ReplayItem]:
    """Items in file order; a malformed line raises SourceError naming file:line."""
    for number, where, data in read_objects(path):
        if not isinstance(data.get("prompt"), str):
            raise SourceError(f"{where}: each line is an object with a string `prompt` and `outcomes`")
        outcomes = data.get("outcomes")
        if not isinstance(outcomes, dict) or not outcomes:
            raise SourceError(f"{where}: `outcomes` must map model names to {{score, ...}}")
        yield ReplayItem(str(data.get("id", number)), str(data.get("category") or "uncategorised"),
                         data["prompt"], {str(m): _outcome(o, f"{where}: outcomes.{m}") for m, o in outcomes.items()})


def load_replay(path: Path) -> list[ReplayItem]:
    items = list(read_replay(path))
    if not items:
        raise SourceError(f"{path}: no replay items")
    return items
