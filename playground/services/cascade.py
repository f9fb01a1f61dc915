"""One prompt's cascade (a route's `escalate:`): which models to ask in turn, the checks on each answer, the
judge's calls, and the reason the next stage was asked. ChatService streams each attempt; this decides."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

from playground.base.records import Attempt
from playground.config.escalation import Escalation
from playground.config.profile import Route
from playground.history.store import Store
from playground.providers.stream import AttemptStream
from playground.router import Decision
from playground.router.checks import CONFIDENCE_INSTRUCTION, Verdict, check, judge_prompt, judge_verdict
from playground.router.escalation import step_chain
from playground.services.events import Checked
from playground.services.routing_state import RoutingState


class Cascade:
    """Iterate `aliases()` for the models to try; after each answer, `check()` says whether to go on."""

    def __init__(self, state: RoutingState, route: Route, spec: Escalation, decision: Decision, question: str,
                 tokens: int, secrets: list[str], rng: random.Random) -> None:
        self.state = state
        self.route = route
        self.spec = spec
        self.decision = decision
        self.question = question
        self.tokens = tokens
        self.secrets = secrets
        self.rng = rng
        self.stage = 0
        self._steps = list(spec.to)
        self._next: tuple[str, ...] | None = None
        self._reason: str | None = None
        self._asked: set[str] = set()

    @classmethod
    def of(cls, state: RoutingState, decision: Decision, question: str, tokens: int, secrets: list[str],
           rng: random.Random) -> Cascade | None:
        """The cascade of the decision's route, or None (no `escalate:`, or a model the user chose)."""
        route = next((r for r in state.profile.routes if r.name == decision.route), None)
        if route is None or route.escalate is None or decision.stage == "manual":
            return None
        return cls(state, route, route.escalate, decision, question, tokens, secrets, rng)

    @property
    def wants_logprobs(self) -> bool:
        return self.spec.logprob is not None

    def messages(self, messages: list[dict]) -> list[dict]:
        """The conversation every stage is asked, the same for each: with the confidence check, the model is
        asked to state its confidence."""
        if self.spec.confidence is None:
            return messages
        if messages and messages[0]["role"] == "system":
            first = {"role": "system", "content": f"{messages[0]['content']}\n\n{CONFIDENCE_INSTRUCTION}"}
            return [first, *messages[1:]]
        return [{"role": "system", "content": CONFIDENCE_INSTRUCTION}, *messages]

    def aliases(self) -> Iterator[str]:
        """The route's chain (its model, then fallbacks); after a failed check, the next stage's chain. A stage
        whose every model failed to answer ends the cascade: escalating is for answers that fall short."""
        chain: tuple[str, ...] | None = (self.decision.model, *self.decision.fallbacks)
        while chain:
            for alias in chain:
                self._asked.add(alias)
                yield alias
                if self._next is not None:
                    break
            else:
                return
            chain, self._next = self._next, None

    def take_reason(self) -> str | None:
        """Why the next attempt is asked, once, when it starts a new stage."""
        reason, self._reason = self._reason, None
        return reason

    async def check(self, attempt: Attempt, logprobs: list[float] | None, store: Store, conversation_id: str,
                    prompt_id: int, attempt_id: int) -> Checked:
        """Check the answer, record the verdict (and the judge's call), and line up the next stage if it failed."""
        verdict = check(self.spec, attempt.text, logprobs)
        judged: list[Attempt] = []
        if verdict.passed and self.spec.judge is not None:
            verdict, judge_attempt = await self._judge(attempt, verdict)
            judged.append(judge_attempt)
            await asyncio.to_thread(store.record_attempt, judge_attempt, conversation_id, prompt_id, None, None)
        attempt.verdict, attempt.check_detail = ("pass" if verdict.passed else "fail"), verdict.reason
        await asyncio.to_thread(store.record_verdict, attempt_id, attempt.verdict, attempt.check_detail)
        skipped: list[str] = []
        next_model = None if verdict.passed else self._line_up(attempt, verdict, skipped)
        return Checked(attempt, verdict, next_model, tuple(judged), tuple(skipped))

    def _line_up(self, attempt: Attempt, verdict: Verdict, skipped: list[str]) -> str | None:
        """The first model of the next stage that has one, or None: the cascade ends with this answer. Steps
        with no usable model are passed over, and `skipped` says why."""
        while self._steps:
            step = self._steps.pop(0)
            chain, dropped = step_chain(step, self.route, self.state.profile, self.state.catalog, self.tokens,
                                  exclude=self._asked, health=self.state.health.snapshot(),
                                  now=self.state.health.clock(), rng=self.rng,
                                  budget=self.state.monitor.budget(self.state.profile))
            if not chain:
                skipped.append(f"{step}: " + ("; ".join(dropped) or "no model not already asked"))
            else:
                self.stage += 1
                self._next = chain
                # The check's name only: its detail can quote the answer, and the reason is stored even incognito.
                self._reason = f"escalated: {attempt.model_alias}'s answer failed {verdict.failed}"
                return chain[0]
        return None

    async def _judge(self, attempt: Attempt, verdict: Verdict) -> tuple[Verdict, Attempt]:
        judge = self.spec.judge
        assert judge is not None
        prompt = judge_prompt(judge, self.question, attempt.text)
        stream = AttemptStream(self.state.catalog[judge.model], [{"role": "user", "content": prompt}],
                               route=self.decision.route, reason=f"judge of {attempt.model_alias}'s answer",
                               hop=attempt.hop, timeouts=self.state.profile.timeouts, secrets=self.secrets,
                               temperature=0.0)
        stream.attempt.stage, stream.attempt.purpose = attempt.stage, "judge"
        async for _ in stream:
            pass
        graded = stream.attempt
        self.state.health.record(graded)
        ran = (*verdict.ran, "judge")
        passed = judge_verdict(graded.text) if graded.ok else None
        if passed is None:
            # A judge that could not grade is no evidence against the answer: it stands, and the record says why.
            why = graded.error if not graded.ok else "neither PASS nor FAIL"
            return Verdict(True, None, "", ran[:-1] + (f"judge (no verdict: {why})",)), graded
        if passed:
            return Verdict(True, ran=ran), graded
        return Verdict(False, "judge", f"{judge.model} graded it FAIL", ran), graded
