"""Checks of an answer that decide whether a cascade escalates: pure functions of the text and its token
log-probabilities. The LLM judge needs a model call, so only its prompt and the reading of its verdict are here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from playground.config.escalation import Escalation, Judge

CONFIDENCE_INSTRUCTION = ("After your answer, add one last line `Confidence: N%` saying how likely it is that your "
                          "answer is correct.")
JUDGE_PROMPT = ("You grade answers. Question:\n{question}\n\nAnswer:\n{answer}\n\nCriterion: {criterion}\n"
                "Reply with exactly one word: PASS if the answer meets the criterion, FAIL otherwise.")

_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```$", re.DOTALL)
# Refusals open the answer; looking only there keeps "I can't stress enough…" in a real answer from counting.
_REFUSAL = re.compile(
    r"^\W*(?:(?:i'?m|i am)\s+(?:sorry|afraid)\b.{0,40}?\b(?:can(?:no|')?t|cannot|unable|won'?t|not able)\b"
    r"|i\s+(?:can(?:no|')?t|cannot|won'?t|will not|am unable to|'m unable to|am not able to)\s+"
    r"(?:help|assist|provide|do|comply|answer|fulfil|fulfill|support|share|create|write|generate)"
    r"|(?:sorry|unfortunately),?\s+(?:but\s+)?i\s+(?:can(?:no|')?t|cannot|won'?t|am unable)"
    r"|as an ai\b)", re.IGNORECASE | re.DOTALL)
_CONFIDENCE = re.compile(r"confidence\W{0,3}\s*(\d+(?:\.\d+)?)\s*(%|/\s*10\b|/\s*100\b)?", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """What the checks made of one answer: passed, or the first check that failed and why."""

    passed: bool
    failed: str | None = None
    """The name of the check that failed (json, regex, length, refusal, confidence, logprob, judge)."""
    detail: str = ""
    ran: tuple[str, ...] = ()
    """The checks that ran, in order (logprob is skipped when the provider returned none)."""

    @property
    def reason(self) -> str:
        return f"{self.failed}: {self.detail}" if self.failed else "passed " + ", ".join(self.ran)


def unfenced(text: str) -> str:
    """The answer without a Markdown code fence around all of it."""
    text = text.strip()
    found = _FENCE.match(text)
    return found[1].strip() if found else text


def json_problem(text: str, schema: dict[str, Any] | None = None) -> str | None:
    """Why the answer is not JSON (satisfying `schema`, when given); None when it is."""
    try:
        value = json.loads(unfenced(text))
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if schema:
        import jsonschema

        error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            return f"does not match the schema{' at ' + where if where else ''}: {error.message}"
    return None


def is_refusal(text: str) -> bool:
    return _REFUSAL.match(text[:300]) is not None


def stated_confidence(text: str) -> float | None:
    """The last confidence the answer states, as 0..1 ("Confidence: 80%", "confidence 0.8", "8/10")."""
    found = _CONFIDENCE.findall(text)
    if not found:
        return None
    number, unit = found[-1]
    value = float(number)
    unit = unit.replace(" ", "")
    if unit == "/10":
        value /= 10
    elif unit in ("%", "/100") or value > 1:
        value /= 100
    return min(value, 1.0)


def mean_logprob(logprobs: list[float] | None) -> float | None:
    return sum(logprobs) / len(logprobs) if logprobs else None


def check(spec: Escalation, text: str, logprobs: list[float] | None = None) -> Verdict:
    """Every check of `spec` but the judge, cheapest first; stops at the first that fails."""
    ran: list[str] = []

    def fail(name: str, detail: str) -> Verdict:
        return Verdict(False, name, detail, (*ran, name))

    if spec.json_ not in (None, False):
        if problem := json_problem(text, spec.json_ if isinstance(spec.json_, dict) else None):
            return fail("json", problem)
        ran.append("json")
    if spec.regex is not None:
        if re.search(spec.regex, text) is None:
            return fail("regex", f"no match for /{spec.regex}/")
        ran.append("regex")
    if spec.min_chars is not None or spec.max_chars is not None:
        length = len(text.strip())
        if spec.min_chars is not None and length < spec.min_chars:
            return fail("length", f"{length} characters < {spec.min_chars}")
        if spec.max_chars is not None and length > spec.max_chars:
            return fail("length", f"{length} characters > {spec.max_chars}")
        ran.append("length")
    if spec.refusal:
        if is_refusal(text):
            return fail("refusal", "the model declined to answer")
        ran.append("refusal")
    if spec.confidence is not None:
        stated = stated_confidence(text)
        if stated is None:
            return fail("confidence", "no stated confidence")
        if stated < spec.confidence:
            return fail("confidence", f"stated {stated:.0%} < {spec.confidence:.0%}")
        ran.append("confidence")
    if spec.logprob is not None and (mean := mean_logprob(logprobs)) is not None:
        if mean < spec.logprob:
            return fail("logprob", f"mean token log-probability {mean:.2f} < {spec.logprob:.2f}")
        ran.append("logprob")
    return Verdict(True, ran=tuple(ran))


def judge_prompt(judge: Judge, question: str, answer: str) -> str:
    return JUDGE_PROMPT.format(question=question, answer=answer, criterion=judge.criterion)


def judge_verdict(reply: str) -> bool | None:
    """PASS → True, FAIL → False, anything else → None (the judge did not follow the format)."""
    word = reply.strip().strip("*`'\".").upper()[:4]
    return {"PASS": True, "FAIL": False}.get(word)
