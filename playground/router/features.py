"""Cheap numeric features of a prompt, for the learned route's classifier."""

from __future__ import annotations

import math
import re

from playground.router.rules import PromptFacts

_REASONING = re.compile(r"\b(prove|derive|why|step by step|explain|calculate|solve|compute|how many|"
                        r"analy[sz]e|compare|design|optimi[sz]e)\b", re.IGNORECASE)
_CHOICES = re.compile(r"^\s*[A-D][.)]\s", re.MULTILINE)
_MATH = re.compile(r"[=+\-*/^%<>]|\d+\s*[x×]\s*\d+")

FEATURES = ("log_tokens", "code", "question", "digit_share", "math_share", "log_lines", "reasoning_words",
            "choices", "log_conversation")


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


def cheap_probability(features: dict[str, float], weights: dict[str, float], bias: float) -> float:
    z = bias + sum(weights.get(name, 0.0) * value for name, value in features.items())
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
