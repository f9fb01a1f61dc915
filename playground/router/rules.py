"""Rule conditions on a prompt: code, task tags, regex, keywords, language, sizes, and combinators."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from functools import cached_property

from playground.config.profile import Condition

_FENCE = re.compile(r"```|~~~")
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |#include|function |const |let |var |public |private |"
    r"fn |func |package |SELECT |INSERT |UPDATE |CREATE TABLE|<\w+[^>]*>|\}|[\w.]+\(.*\)\s*[;{]?\s*$)"
)
_TAG = re.compile(r"#([A-Za-z][\w-]{0,31})\s+")


def has_code(prompt: str) -> bool:
    if _FENCE.search(prompt):
        return True
    return sum(1 for line in prompt.splitlines() if _CODE_LINE.match(line)) >= 2


def split_tags(prompt: str, known: frozenset[str] | set[str]) -> tuple[frozenset[str], str]:
    """Leading `#tag` words that the profile routes on are hints for us, not words for the model.

    Only known tags are taken, so `#include <stdio.h>` stays part of a C prompt.
    """
    tags = []
    rest = prompt.lstrip()
    while (match := _TAG.match(rest)) and match.group(1).lower() in known:
        tags.append(match.group(1).lower())
        rest = rest[match.end():]
    return frozenset(tags), rest if tags else prompt


@functools.cache
def _language_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language (py3langid, offline, ~70 µs; 0.7 s to load once)."""
    return language_and_confidence(text)[0]


def language_and_confidence(text: str) -> tuple[str, float]:
    """The text's language and py3langid's probability for it (0 to 1)."""
    language, probability = _language_identifier().classify(text)
    return language, float(probability)


def _word(text: str, at: int) -> bool:
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")


def find_keyword(lowered: str, keywords: tuple[str, ...]) -> str | None:
    """The leftmost keyword found as whole words (as `\b(?:k1|k2)\b` would, case-insensitive) in the
    lower-cased text. str.find runs at memory speed; the regex took ~6 ms on a 16k-token prompt."""
    best: tuple[int, str] | None = None
    for keyword in keywords:
        key = keyword.lower()
        if not key:
            continue
        start = lowered.find(key)
        while start != -1 and (best is None or start < best[0]):
            end = start + len(key)
            if _word(lowered, start - 1) != _word(key, 0) and _word(lowered, end) != _word(key, len(key) - 1):
                best = (start, key)
                break
            start = lowered.find(key, start + 1)
    return best[1] if best else None


@functools.cache
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


@dataclass
class PromptFacts:
    """What rules look at; the costly facts (code, language) are computed only if a rule asks."""

    prompt: str
    prompt_tokens: int
    conversation_tokens: int
    tags: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def lowered(self) -> str:
        return self.prompt.lower()

    @cached_property
    def code(self) -> bool:
        return has_code(self.prompt)

    @cached_property
    def language(self) -> str:
        return detect_language(self.prompt)


def matches(condition: Condition, facts: PromptFacts) -> tuple[bool, list[str]]:
    """(matched, reasons): every reason names a condition that held, for the decision trace."""
    reasons: list[str] = []
    if condition.code is not None:
        if facts.code != condition.code:
            return False, []
        reasons.append("code in prompt" if condition.code else "no code")
    if condition.tags is not None:
        hit = sorted(facts.tags & set(condition.tags))
        if not hit:
            return False, []
        reasons.append("tag #" + ", #".join(hit))
    if condition.keywords is not None:
        keyword = find_keyword(facts.lowered, condition.keywords)
        if keyword is None:
            return False, []
        reasons.append(f"keyword {keyword!r}")
    if condition.regex is not None:
        found = _regex(condition.regex).search(facts.prompt)
        if not found:
            return False, []
        reasons.append(f"regex /{condition.regex}/")
    for name, value, op in (("prompt", facts.prompt_tokens, "min"), ("prompt", facts.prompt_tokens, "max"),
                            ("conversation", facts.conversation_tokens, "min"),
                            ("conversation", facts.conversation_tokens, "max")):
        bound = getattr(condition, f"{op}_{name}_tokens")
        if bound is None:
            continue
        if (value < bound) if op == "min" else (value > bound):
            return False, []
        reasons.append(f"{name} {value} tokens {'≥' if op == 'min' else '≤'} {bound}")
    if condition.language is not None:
        if facts.language not in condition.language:
            return False, []
        reasons.append(f"language {facts.language}")
    if condition.all is not None:
        for part in condition.all:
            ok, why = matches(part, facts)
            if not ok:
                return False, []
            reasons.extend(why)
    if condition.any is not None:
        for part in condition.any:
            ok, why = matches(part, facts)
            if ok:
                reasons.extend(why)
                break
        else:
            return False, []
    if condition.not_ is not None:
        ok, _ = matches(condition.not_, facts)
        if ok:
            return False, []
        reasons.append("not excluded")
    return True, reasons
