"""Cheap numeric features of a prompt, for the learned route's classifier."""

from __future__ import annotations

import itertools
import math
import operator
import re
import zlib
from collections.abc import Sequence

from playground.config.profile import Head, LearnedSpec
from playground.router.rules import PromptFacts

_REASONING = re.compile(r"\b(prove|derive|why|step by step|explain|calculate|solve|compute|how many|"
                        r"analy[sz]e|compare|design|optimi[sz]e)\b", re.IGNORECASE)
_CHOICES = re.compile(r"^\s*[A-D][.)]\s", re.MULTILINE)
_MATH = re.compile(r"[=+\-*/^%<>]|\d+\s*[x×]\s*\d+")



def prompt_features(facts: PromptFacts) -> dict[str, float]:
    text = facts.prompt
    length = max(1, len(text))
    return {
        "log_tokens": math.log1p(facts.prompt_tokens),
        "code": float(facts.code),
        "question": float("?" in text),
        "digit_share": sum(c.isdigit() for c in text) / length,
        "math_share": len(_MATH.findall(text)) / length * 10,
        "log_lines": math.log1p(text.count("\n")),
        "reasoning_words": float(len(_REASONING.findall(text))),
        "choices": float(len(_CHOICES.findall(text)) >= 2),
        "log_conversation": math.log1p(max(0, facts.conversation_tokens - facts.prompt_tokens)),
    }


_WORD = re.compile(r"[a-z0-9]+")


def hashed_features(text: str, buckets: int) -> dict[int, float]:
    """Words and word pairs hashed into buckets: log counts, L2-normalised (stable across runs: crc32)."""
    words = _WORD.findall(text.lower())
    counts: dict[int, float] = {}
    for gram in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
        bucket = zlib.crc32(gram.encode()) % buckets
        counts[bucket] = counts.get(bucket, 0.0) + 1.0
    values = {b: math.log1p(c) for b, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in values.values())) or 1.0
    return {b: v / norm for b, v in values.items()}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def head_probability(head: Head, named: dict[str, float], hashed: dict[int, float],
                     embedding: Sequence[float] = ()) -> float:
    z = head.bias + sum(head.weights.get(name, 0.0) * value for name, value in named.items())
    z += sum(head.hashed_weights.get(bucket, 0.0) * value for bucket, value in hashed.items())
    # Pure Python on purpose: 384 products take microseconds, and the router must not import numpy to start.
    z += sum(map(operator.mul, head.embedding_weights, embedding))
    return _sigmoid(z)


def combine(p_cheap: float, p_strong: float, cost_gap: float | None, cost_scale: float | None) -> float:
    """The cheap-enough score from the heads' probabilities (and the tiers' price gap, when cost-aware)."""
    if cost_scale is None or cost_gap is None:
        return (1.0 + p_cheap - p_strong) / 2.0
    if cost_gap <= 0:  # the "cheap" tier saves nothing here: quality alone decides
        return 1.0 if p_cheap >= p_strong else 0.0
    loss_per_dollar = max(0.0, p_strong - p_cheap) / cost_gap
    return 1.0 / (1.0 + cost_scale * loss_per_dollar)


def cheap_score(spec: LearnedSpec, facts: PromptFacts, cost_gap: float | None = None,
                embedding: Sequence[float] = ()) -> float:
    """In [0, 1]: high when the cheap tier is likely enough for this prompt (or saves enough money).
    `embedding` is the prompt's sentence embedding, required when the spec weighs it."""
    if spec.uses_embedding and len(embedding) != len(spec.cheap.embedding_weights):
        raise ValueError(f"the learned route weighs a {len(spec.cheap.embedding_weights)}-dimensional prompt "
                         f"embedding; got {len(embedding)} dimensions")
    named = prompt_features(facts)
    hashed = hashed_features(facts.prompt, spec.hash_buckets) if (
        spec.cheap.hashed_weights or (spec.strong and spec.strong.hashed_weights)) else {}
    cheap = head_probability(spec.cheap, named, hashed, embedding)
    if spec.strong is None:
        return cheap
    return combine(cheap, head_probability(spec.strong, named, hashed, embedding), cost_gap, spec.cost_scale)
