"""Live evaluation: route every prompt of a file for real, check each answer, record it in history.

Resumable: results are appended to a JSONL file as they come, and prompts already there are skipped.
Concurrency is limited per provider, so one slow or rate-limited provider does not starve the others.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from playground.base import tokens
from playground.base.errors import SourceError
from playground.base.jsonl import read_objects
from playground.base.records import Cost
from playground.router import NoModelAvailable, RouteRequest, decide
from playground.router.checks import JUDGE_PROMPT, json_problem, judge_verdict
from playground.services.events import ReplyDone, TurnFailed
from playground.services.session import Session

CHECKS = ("exact", "contains", "regex", "json", "judge")


@dataclass(frozen=True)
class LivePrompt:
    id: str
    prompt: str
    check: str | None
    expected: str | None


@dataclass
class LiveResult:
    id: str
    status: str
    model: str | None
    route: str | None
    passed: bool | None
    cost_usd: float | None
    """None when a call behind it had no known price."""
    latency_s: float | None
    conversation_id: str | None
    detail: str = ""
    escalated: bool = False
    """A cascade replaced the first answer."""
    first_verdict: bool | None = None
    """A cascade's checks on the first answer (None: the route does not escalate)."""
    first_correct: bool | None = None
    """The prompt's own check on that same first answer: what the cascade's checks are measured against."""


def read_prompts(path: Path) -> list[LivePrompt]:
    prompts = []
    for number, where, data in read_objects(path):
        if not isinstance(data.get("prompt"), str) or not data["prompt"].strip():
            raise SourceError(f"{where}: each line needs a non-empty string `prompt`")
        check = data.get("check")
        if check is not None and check not in CHECKS:
            raise SourceError(f"{where}: check {check!r} is not one of {', '.join(CHECKS)}")
        expected = data.get("expected")
        if check in ("exact", "contains", "regex", "judge") and not isinstance(expected, str):
            raise SourceError(f"{where}: check {check!r} needs a string `expected`")
        if check == "regex":
            try:
                re.compile(str(expected))
            except re.error as exc:
                raise SourceError(f"{where}: invalid regular expression: {exc}") from None
        prompts.append(LivePrompt(str(data.get("id", number)), data["prompt"], check, expected))
    return prompts


def check_answer(item: LivePrompt, answer: str) -> bool | None:
    """True/False for the mechanical checks; None when there is no check (or it needs the judge)."""
    text = answer.strip()
    if item.check == "json":
        return json_problem(text) is None
    expected = item.expected
    if expected is None:  # read_prompts demands `expected` for every other check
        return None
    if item.check == "exact":
        return text == expected.strip()
    if item.check == "contains":
        return expected.lower() in text.lower()
    if item.check == "regex":
        return re.search(expected, text) is not None
    return None


def done_ids(results: Path) -> set[str]:
    if not results.exists():
        return set()
    found = set()
    for line in results.read_text().splitlines():
        try:
            found.add(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by an interruption: that prompt runs again
    return found


def _plus(a: float | None, b: float | None) -> float | None:
    """A sum that stays unknown when a part is."""
    return None if a is None or b is None else a + b


async def _judge(session: Session, judge: str, item: LivePrompt, answer: str) -> tuple[bool | None, float | None]:
    prompt = JUDGE_PROMPT.format(question=item.prompt, answer=answer, criterion=item.expected)
    async for event in session.chat.send(prompt, model=judge):
        if isinstance(event, ReplyDone):
            return judge_verdict(event.reply.text), event.reply.cost_usd
        if isinstance(event, TurnFailed):
            return None, 0.0
    return None, 0.0


async def run_live(session: Session, prompts: list[LivePrompt], results: Path, *, per_provider: int = 2,
                   judge: str | None = None, progress: Callable[[int, int], None] | None = None) -> list[LiveResult]:
    """Run the prompts not yet in `results`; returns every result in the file, old and new."""
    skip = done_ids(results)
    todo = [p for p in prompts if p.id not in skip]
    limits: dict[str, asyncio.Semaphore] = {}
    lock = asyncio.Lock()
    finished = 0

    def provider(alias: str) -> str:
        return session.catalog[alias].spec.model.split("/", 1)[0] if alias in session.catalog else alias

    async def one(item: LivePrompt) -> None:
        nonlocal finished
        # Routing is cheap and pure: decide first so the call waits on its own provider's slot only.
        result = LiveResult(item.id, "failed", None, None, None, 0.0, None, None)
        n = tokens.count_text(item.prompt)
        try:
            first = decide(RouteRequest(item.prompt, n, n + 7), session.profile, session.catalog,
                           semantic=session.state.semantic).model
        except NoModelAvailable:  # send() will say so and record it
            first = "none"
        gate = limits.setdefault(provider(first), asyncio.Semaphore(per_provider))
        async with gate:
            async for event in session.chat.send(item.prompt):
                if isinstance(event, TurnFailed):
                    result.conversation_id, result.detail = event.conversation_id, event.message
                elif isinstance(event, ReplyDone):
                    reply, final = event.reply, event.reply.final
                    result.status, result.conversation_id = reply.status, reply.conversation_id
                    if final is not None:
                        result.model, result.route, result.latency_s = final.model_alias, final.route, final.latency_s
                    result.cost_usd = reply.cost_usd
                    checked = [a for a in reply.attempts if a.verdict is not None]
                    if checked:
                        result.escalated = reply.escalated
                        result.first_verdict = checked[0].verdict == "pass"
                        result.first_correct = check_answer(item, checked[0].text)
                    if reply.status == "complete":
                        result.passed = check_answer(item, reply.text)
                        if item.check == "judge" and judge:
                            result.passed, judge_cost = await _judge(session, judge, item, reply.text)
                            result.cost_usd = _plus(result.cost_usd, judge_cost)
        async with lock:
            with results.open("a") as handle:
                handle.write(json.dumps(asdict(result)) + "\n")
            finished += 1
            if progress:
                progress(len(skip) + finished, len(prompts))

    await asyncio.gather(*(one(item) for item in todo))
    wanted = {p.id for p in prompts}
    rows = []
    for line in results.read_text().splitlines():
        try:
            rows.append(LiveResult(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return [r for r in rows if r.id in wanted]


def summarise(results: list[LiveResult]) -> dict:
    checked = [r for r in results if r.passed is not None]
    by_model: dict[str, dict] = {}
    for r in results:
        m = by_model.setdefault(r.model or "(none)", {"prompts": 0, "passed": 0, "checked": 0, "cost_usd": 0.0})
        m["prompts"] += 1
        m["cost_usd"] = _plus(m["cost_usd"], r.cost_usd)
        if r.passed is not None:
            m["checked"] += 1
            m["passed"] += int(r.passed)
    # How often a cascade's checks got the first answer right, by the prompts' own checks: passing right
    # answers and failing wrong ones, the accuracy to give replay evaluation (`eval --check-accuracy`).
    right = [r for r in results if r.first_verdict is not None and r.first_correct is True]
    wrong = [r for r in results if r.first_verdict is not None and r.first_correct is False]
    cascaded = [r for r in results if r.first_verdict is not None]
    return {"prompts": len(results), "answered": sum(r.status == "complete" for r in results),
            "cascaded": len(cascaded), "escalated": sum(r.escalated for r in cascaded),
            "right_first": len(right), "wrong_first": len(wrong),
            "check_pass_right": sum(bool(r.first_verdict) for r in right) / len(right) if right else None,
            "check_fail_wrong": sum(not r.first_verdict for r in wrong) / len(wrong) if wrong else None,
            "checked": len(checked), "passed": sum(bool(r.passed) for r in checked),
            "pass_rate": (sum(bool(r.passed) for r in checked) / len(checked)) if checked else None,
            "cost_usd": Cost.of(r.cost_usd for r in results).usd, "by_model": by_model}
