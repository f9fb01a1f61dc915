"""One chat turn end to end: save the prompt, route it, stream with retries and fallbacks, record every attempt."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

from playground.base import tokens
from playground.base.records import Attempt, Failure, Reply, TurnSettings
from playground.base.safetext import environment_secrets
from playground.history.store import Store
from playground.providers.stream import AttemptStream
from playground.router import Decision, NoModelAvailable, RouteRequest, decide
from playground.router.rules import split_tags
from playground.services import experiments
from playground.services.cascade import Cascade
from playground.services.events import (
    FLUSH_INTERVAL_S,
    AttemptEnded,
    AttemptStarted,
    EmptyPrompt,
    Event,
    ReplyDone,
    Routed,
    TextDelta,
    TurnFailed,
    TurnStarted,
)
from playground.services.routing_state import RoutingState

T = TypeVar("T")


class _TurnWrites:
    """One turn's history writes, run on the service's writer thread in the order they were made. A write
    whose result the turn needs is awaited (`wait`, `last`); the others run while the reply streams, and
    one that failed fails the turn when it closes."""

    def __init__(self, writer: ThreadPoolExecutor) -> None:
        self._writer = writer
        self._made: list[Future] = []

    def submit(self, write: Callable[..., T], *args) -> Future[T]:
        future = self._writer.submit(write, *args)
        self._made.append(future)
        return future

    async def wait(self, write: Callable[..., T], *args) -> T:
        return await asyncio.wrap_future(self.submit(write, *args))

    async def last(self, write: Callable[[], T]) -> T:
        """The turn's closing write, once every earlier one has succeeded (it runs after them)."""
        earlier = list(self._made)

        def close() -> T:
            for future in earlier:
                future.result()
            return write()

        return await self.wait(close)

    def settle(self) -> None:
        """Block until every write made so far has run (the cancellation path then writes directly)."""
        wait(self._made)


def _start_attempt(store: Store, attempt: Attempt, conversation_id: str, prompt_id: int, reply: Future[int],
                   decision: Decision | None, free: bool) -> int:
    # A free model's call costs nothing however it ends; a priced one's is unknown until it does.
    pending = dataclasses.replace(attempt, cost_usd=0.0) if free else attempt
    return store.start_attempt(pending, conversation_id, prompt_id, reply.result(),
                               decision.to_dict() if decision else None)


def _record_attempt(store: Store, attempt: Attempt, conversation_id: str, prompt_id: int, reply: Future[int],
                    row: Future[int]) -> None:
    store.record_attempt(attempt, conversation_id, prompt_id, reply.result(), None, row.result())


def _record_verdict(store: Store, row: Future[int], verdict: str, detail: str) -> None:
    store.record_verdict(row.result(), verdict, detail)


def _save_reply(store: Store, reply: Future[int], text: str, status: str, author: str | None) -> None:
    store.save_reply(reply.result(), text, status, author)


class ChatService:
    """Knows nothing of the UI: callers iterate `send()` and render the events."""

    def __init__(self, state: RoutingState, store: Store, *, rng: random.Random | None = None,
                 sleep=asyncio.sleep) -> None:
        self.state = state
        self.store = store
        self.rng = rng or random.Random()
        self._sleep = sleep
        # Incognito text, by message id: the store never sees it, yet the conversation needs it as
        # context for as long as this process runs.
        self._unstored: dict[int, str] = {}
        # One thread for this service's history writes: they stay off the event loop and land in order.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-writes")

    def _history(self, conversation_id: str) -> list[dict]:
        # Only finished exchanges are context: a failed or cancelled partial reply would mislead the model.
        # Routing tags (#code) are hints for us, not words for the model. Incognito text from an earlier
        # run is gone, so those messages are left out.
        known = self.state.profile.task_tags
        turns = [(m.role, self._unstored.get(m.id, m.content)) for m in self.store.messages(conversation_id)
                 if m.status == "complete"]
        return [{"role": role, "content": split_tags(content, known)[1] if role == "user" else content}
                for role, content in turns if content]

    def _retries_for(self, failure: Failure | None) -> int:
        return getattr(self.state.profile.retries, failure.value, 0) if failure else 0

    async def send(self, prompt: str, conversation_id: str | None = None, model: str | None = None,
                   tags: frozenset[str] = frozenset(), incognito: bool = False, *, replacing: int | None = None,
                   settings: TurnSettings | None = None) -> AsyncIterator[Event]:
        """With `incognito`, the store keeps this turn's metadata (tokens, cost, latency, model) but
        none of its text. `replacing` is the id of the conversation's last prompt: that turn (edited, or
        asked again of another model) stays in history but leaves the context."""
        settings = settings or TurnSettings()
        if not prompt.strip():
            raise EmptyPrompt("the prompt is empty")
        prompt_tags, text = split_tags(prompt, self.state.profile.task_tags)
        if not text.strip():
            raise EmptyPrompt("the prompt has tags but no text")

        def open_turn():
            # One trip to the writer and one transaction: the prompt is saved before anything else can fail.
            with self.store.transaction():
                if replacing is not None and conversation_id is not None:
                    self.store.replace_turn(conversation_id, replacing)
                conversation, prompt_id = self.store.start_turn(conversation_id, prompt, self.state.profile.name,
                                                                incognito)
                self.store.save_settings(conversation, settings, incognito)
            if incognito:
                self._unstored[prompt_id] = prompt
            history = self._history(conversation)
            if settings.system:
                history.insert(0, {"role": "system", "content": settings.system})
            return (conversation, prompt_id, history, tokens.count_text(text), tokens.count_messages(history),
                    experiments.tallies(self.store, self.state.profile))

        writes = _TurnWrites(self._writer)
        conversation_id, prompt_id, messages, prompt_tokens, request_tokens, tallies = await writes.wait(open_turn)
        yield TurnStarted(conversation_id, prompt_id)
        request = RouteRequest(text, prompt_tokens, request_tokens, prompt_tags | tags)
        try:
            decision = decide(request, self.state.profile, self.state.catalog, health=self.state.health.snapshot(),
                              semantic=self.state.semantic, forced=model, rng=self.rng, now=self.state.health.clock(),
                              drift=self.state.monitor.drift(), budget=self.state.monitor.budget(self.state.profile),
                              tallies=tallies)
        except NoModelAvailable as exc:
            yield TurnFailed(conversation_id, str(exc))
            return
        yield Routed(decision)

        # From here on no write is awaited until the turn closes: each runs on the writer thread, in order,
        # while the request goes out and the reply streams.
        reply = writes.submit(self.store.start_reply, conversation_id, incognito)
        if decision.assigned and decision.experiment and decision.arm:
            experiment, arm = decision.experiment, decision.arm

            def assign() -> None:
                self.store.record_assignment(reply.result(), conversation_id, prompt_id, experiment, arm,
                                             decision.route, self.state.profile.name)

            writes.submit(assign)
        secrets = environment_secrets(self.state.profile.key_envs())
        attempts: list[Attempt] = []
        judged: list[Attempt] = []
        stream: AttemptStream | None = None
        row: Future[int] | None = None
        flush: Future[None] | None = None
        hop = 0
        cascade = Cascade.of(self.state, decision, text, request_tokens, secrets, self.rng)
        if cascade is not None:
            messages = cascade.messages(messages)
        try:
            for _position, alias in enumerate(cascade.aliases() if cascade else (decision.model, *decision.fallbacks)):
                tries = 0
                while True:
                    if hop == 0:
                        reason = decision.reason
                    elif tries:
                        reason = f"retry {tries} after {attempts[-1].failure}"
                    elif cascade is not None and (escalation := cascade.take_reason()):
                        reason = escalation
                    else:
                        # "Failover", as stats count it; "fallback" is a route's pick from the fallbacks list.
                        reason = f"failover after {attempts[-1].model_alias} failed ({attempts[-1].failure})"
                    yield AttemptStarted(alias, hop, reason)
                    # An experiment arm's model goes with the arm's settings.
                    info, sent, temperature = experiments.arm_request(decision.arm, self.state.catalog[alias],
                                                                      messages, settings.temperature)
                    stream = AttemptStream(info, sent, route=decision.route, reason=reason, hop=hop,
                                           timeouts=self.state.profile.timeouts, secrets=secrets,
                                           temperature=temperature,
                                           logprobs=cascade is not None and cascade.wants_logprobs)
                    if cascade is not None:
                        stream.attempt.stage = cascade.stage
                    # Written while the request goes out, not before it: the row is for a crash's sake.
                    row = writes.submit(_start_attempt, self.store, stream.attempt, conversation_id, prompt_id,
                                        reply, decision if hop == 0 else None, info.cost(1000, 1000) == 0)
                    flushed = time.monotonic()
                    async for piece in stream:
                        yield TextDelta(piece)
                        if time.monotonic() - flushed > FLUSH_INTERVAL_S and (flush is None or flush.done()):
                            # Keep the partial reply on disk so a crash mid-stream loses at most half a second.
                            flush = writes.submit(_save_reply, self.store, reply, stream.text, "streaming", alias)
                            flushed = time.monotonic()
                    attempt, logprobs = stream.attempt, stream.logprobs
                    stream = None
                    attempts.append(attempt)
                    self.state.health.record(attempt)
                    # A copy: the cascade's check sets the verdict on `attempt` while the writer may still read it.
                    writes.submit(_record_attempt, self.store, dataclasses.replace(attempt), conversation_id,
                                  prompt_id, reply, row)
                    answered, row = row, None
                    yield AttemptEnded(attempt)
                    hop += 1
                    if attempt.ok or tries >= self._retries_for(attempt.failure):
                        break
                    tries += 1
                    # Retry-After (capped when parsed) beats our own exponential backoff.
                    delay = attempt.retry_after_s if attempt.retry_after_s is not None else \
                        self.state.profile.retries.backoff_s * 2 ** (tries - 1)
                    await self._sleep(delay)
                if attempts[-1].ok:
                    if cascade is None:
                        break
                    checked = await cascade.check(attempts[-1], logprobs)
                    for judge_attempt in checked.judged:
                        writes.submit(self.store.record_attempt, judge_attempt, conversation_id, prompt_id, None, None)
                    writes.submit(_record_verdict, self.store, answered, attempts[-1].verdict or "",
                                  attempts[-1].check_detail or "")
                    judged.extend(checked.judged)
                    yield checked
                    if checked.next_model is None:
                        break
        except (asyncio.CancelledError, GeneratorExit):
            # Cancelled, or the caller stopped listening (aclose): either way the reply is final now. Written
            # here and now, after every write already made (none of those can land after these).
            writes.settle()
            if stream is not None:
                attempt = stream.cancelled()
                attempts.append(attempt)
                if row is not None and row.exception() is None:
                    _record_attempt(self.store, attempt, conversation_id, prompt_id, reply, row)
            last = attempts[-1] if attempts else None
            _save_reply(self.store, reply, last.text if last else "", "cancelled", last.model_alias if last else None)
            raise

        # The last answer stands (an escalation that failed to answer keeps the answer before it).
        final = next((a for a in reversed(attempts) if a.ok), attempts[-1])
        if final.ok:
            text, status, author = final.text, "complete", final.model_alias
        else:
            # Keep the longest partial answer the user saw, under the model that wrote it; it is marked
            # failed, never passed off as complete.
            longest = max(attempts, key=lambda a: len(a.text))
            text, status, author = longest.text, "failed", longest.model_alias

        def close_turn():
            if incognito:
                self._unstored[reply.result()] = text
            _save_reply(self.store, reply, text, status, author)
            self.state.refresh_monitor(self.store, drift=False)  # the spend this turn added, for the next one
            return self.store.conversation_cost(conversation_id), self.store.today_cost()

        # The reply is on disk before the turn reports it done.
        conversation_cost, day_cost = await writes.last(close_turn)
        yield ReplyDone(Reply(conversation_id, reply.result(), text, status, attempts, judged), conversation_cost,
                        day_cost)
        # After the reply is out (a caller that stops reading at ReplyDone skips it): the drift figures
        # with this turn's attempts, for the next decision.
        await writes.wait(self.state.refresh_monitor, self.store)
