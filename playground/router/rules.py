"""Rule conditions on a prompt: code present, prompt size."""

from __future__ import annotations

import re

from playground.profile import Condition

_FENCE = re.compile(r"```|~~~")
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |#include|function |const |let |var |public |private |"
    r"fn |func |package |SELECT |INSERT |UPDATE |CREATE TABLE|<\w+[^>]*>|\}|[\w.]+\(.*\)\s*[;{]?\s*$)"
)


def has_code(prompt: str) -> bool:
    if _FENCE.search(prompt):
        return True
    return sum(1 for line in prompt.splitlines() if _CODE_LINE.match(line)) >= 2


def matches(condition: Condition | None, prompt: str, prompt_tokens: int) -> tuple[bool, str]:
    """(matched, why) — `why` names each condition that held, for the decision trace."""
    if condition is None:
        return True, "default route"
    reasons = []
    if condition.code is not None:
        if has_code(prompt) != condition.code:
            return False, ""
        reasons.append("code in prompt" if condition.code else "no code")
    if condition.min_prompt_tokens is not None:
        if prompt_tokens < condition.min_prompt_tokens:
            return False, ""
        reasons.append(f"{prompt_tokens} tokens ≥ {condition.min_prompt_tokens}")
    if condition.max_prompt_tokens is not None:
        if prompt_tokens > condition.max_prompt_tokens:
            return False, ""
        reasons.append(f"{prompt_tokens} tokens ≤ {condition.max_prompt_tokens}")
    return True, ", ".join(reasons)
