"""`playground route`: the routing decision for prompts, without calling a model; with expected routes,
accuracy and a confusion table. The profile, catalog and semantic index are loaded once for any number
of prompts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from playground.base.errors import SourceError
from playground.base.jsonl import read_objects
from playground.base.tokens import count_text
from playground.config.profile import Profile
from playground.router import Decision, NoModelAvailable, RouteRequest, decide, route_for
from playground.router.rules import split_tags
from playground.services.session import Session


@dataclass(frozen=True)
class PromptCase:
    prompt: str
    expected: str | None = None
    where: str = ""
    """file:line the prompt came from, when it came from a file."""


@dataclass(frozen=True)
class RoutedPrompt:
    case: PromptCase
    route: str
    stage: str
    why: str
    decision: Decision | None
    """None when no model can take the prompt (the route is still known); `problem` says why."""
    problem: str | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.case.expected is None else self.route == self.case.expected

    def to_dict(self) -> dict:
        d = self.decision
        return {"prompt": self.case.prompt, "expected": self.case.expected, "route": self.route, "stage": self.stage,
                "why": self.why, "model": d.model if d else None, "tier": d.tier if d else None,
                "score": d.score if d else None, "threshold": d.threshold if d else None,
                "runner_up": d.runner_up if d else None, "margin": d.margin if d else None,
                "similarities": d.similarities if d else {}, "problem": self.problem,
                "where": self.case.where or None}


@dataclass
class Scorecard:
    """Accuracy over the prompts that name an expected route; confusion[(expected, routed)] = count."""

    total: int = 0
    correct: int = 0
    confusion: Counter = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def labels(self) -> list[str]:
        return sorted({name for pair in self.confusion for name in pair})

    def to_dict(self) -> dict:
        return {"total": self.total, "correct": self.correct, "accuracy": self.accuracy,
                "confusion": [{"expected": e, "routed": r, "count": n} for (e, r), n in sorted(self.confusion.items())]}


def read_cases(path: Path) -> list[PromptCase]:
    """JSON Lines with `prompt` and optional `expected`, or plain text with one prompt a line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from None
    lines = text.splitlines()
    if not next((line for line in lines if line.strip()), "").lstrip().startswith("{"):
        return [PromptCase(line, None, f"{path}:{number}") for number, line in enumerate(lines, start=1)
                if line.strip()]
    cases = []
    for _, where, data in read_objects(path):
        prompt, expected = data.get("prompt"), data.get("expected")
        if not isinstance(prompt, str) or not prompt.strip():
            raise SourceError(f"{where}: `prompt` must be a non-empty string")
        if expected is not None and not isinstance(expected, str):
            raise SourceError(f"{where}: `expected` must be a route name (a string)")
        cases.append(PromptCase(prompt, expected, where))
    return cases


def check_expected(session: Session, cases: list[PromptCase]) -> None:
    """An expected route the profile does not have is a typo, not a miss."""
    names = [r.name for r in session.profile.routes]
    for case in cases:
        if case.expected is not None and case.expected not in names:
            raise SourceError(f"{case.where}: expected route {case.expected!r} is not in profile "
                              f"{session.profile.name!r} (routes: {', '.join(names)})")


def route_prompts(session: Session, cases: list[PromptCase]) -> list[RoutedPrompt]:
    """One decision per prompt, as the chat would make it for a new conversation (no history)."""
    profile, catalog, semantic = session.profile, session.catalog, session.state.semantic
    split = [split_tags(case.prompt, profile.task_tags) for case in cases]
    if semantic is not None and len(cases) > 1:
        semantic.prefetch([text for _, text in split])
    results = []
    for case, (tags, text) in zip(cases, split):
        n = count_text(text)
        request = RouteRequest(text, n, n, tags)
        try:
            decision = decide(request, profile, catalog, semantic=semantic, now=0.0)
        except NoModelAvailable as exc:
            route, why = route_for(request, profile, catalog, semantic)
            results.append(RoutedPrompt(case, route.name, route.stage, why, None, str(exc)))
        else:
            results.append(RoutedPrompt(case, decision.route, decision.stage, decision.match, decision))
    return results


def score(results: list[RoutedPrompt]) -> Scorecard | None:
    """None when no prompt names an expected route."""
    card = Scorecard()
    for result in results:
        if result.case.expected is None:
            continue
        card.total += 1
        card.correct += bool(result.correct)
        card.confusion[(result.case.expected, result.route)] += 1
    return card if card.total else None


def threshold_warnings(profile: Profile) -> list[str]:
    """Semantic routes whose set threshold is above what their own utterances reach (embeds them, through
    the on-disk cache)."""
    from playground.router.semantic import build_index

    index = build_index(profile)
    return index.warnings() if index else []
