"""One prompt to several models at once: each streams on its own, every attempt and reply is recorded."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

from playground.base import tokens
from playground.base.records import Attempt, Column, Comparison, LiveStats, Outcome, Vote
from playground.base.safetext import environment_secrets
from playground.config.catalog import LOCAL_PREFIX, ModelInfo
from playground.config.profile import is_loopback
from playground.config.variants import Variant, VariantError, parse_variant
from playground.history.store import Store
from playground.providers.stream import AttemptStream
from playground.router import NoModelAvailable, RouteRequest, decide, route_for
from playground.services.events import (
    FLUSH_INTERVAL_S,
    ColumnDelta,
    ColumnEnded,
    ColumnProgress,
    ColumnWaiting,
    CompareDone,
    CompareEvent,
    CompareStarted,
    EmptyPrompt,
)
from playground.services.routing_state import RoutingState

MIN_MODELS, MAX_MODELS = 2, 6
PROGRESS_INTERVAL_S = 0.1
"""Live lines change at most ten times a second per column: often enough to read, cheap to draw."""


def _one_at_a_time(info: ModelInfo) -> str | None:
    """What serves this model on this machine: the embedded llama.cpp, or a server on loopback."""
    if info.spec.model.startswith(LOCAL_PREFIX):
        return LOCAL_PREFIX
    if info.spec.api_base and is_loopback(info.spec.api_base):
        return f"{info.spec.api_base} {info.spec.model}"
    return None


Queued = tuple[int, asyncio.Event, tuple[int, ...]]
"""Where a column queues for a one-at-a-time model: the column just ahead, the event that says it ended, and
every column ahead on that model."""


class CompareError(ValueError):
    """The comparison cannot start; the message says why in one line."""


class CompareService:
    """Knows nothing of the UI: callers iterate `run()` and render the events, tagged by column."""

    def __init__(self, state: RoutingState, store: Store, *, incognito: bool = False) -> None:
        self.state = state
        self.store = store
        self.incognito = incognito
        """Comparisons keep no text (prompt, title, replies), only their figures: `playground --incognito`,
        or a comparison opened from an incognito chat (the chat sets this before opening it)."""

    def check(self, models: Sequence[str]) -> list[tuple[Variant, ModelInfo]]:
        """Each of `models` is a variant (`alias` or `alias@temperature=1.2`, see parse_variant)."""
        if not MIN_MODELS <= len(models) <= MAX_MODELS:
            raise CompareError(f"compare needs {MIN_MODELS} to {MAX_MODELS} models, got {len(models)}")
        try:
            variants = [parse_variant(text) for text in models]
        except VariantError as exc:
            raise CompareError(str(exc)) from None
        labels = [v.label for v in variants]
        if repeated := next((v for v in variants if labels.count(v.label) > 1), None):
            raise CompareError(f"{repeated.label} is given twice: to compare a model with itself, give one "
                               f"other settings, e.g. {repeated.target}@temperature=1.2")
        checked = []
        for variant in variants:
            alias = variant.target
            if alias not in self.state.catalog:
                raise CompareError(f"unknown model {alias!r} (not in profile {self.state.profile.name!r})")
            info = self.state.catalog[alias]
            if not info.available:
                raise CompareError(f"{alias} is unavailable: {info.unavailable_reason}")
            limit = self.state.monitor.budget(self.state.profile).reached(alias)
            if limit is not None and not (info.is_local or info.cost(1, 1) == 0):
                raise CompareError(f"{alias}: budget reached: {limit.describe()} (compare free or local models, "
                                   f"or raise `budget:` in the profile)")
            if variant.max_tokens is not None:
                info = dataclasses.replace(info, spec=info.spec.model_copy(update={"max_output_tokens":
                                                                                   variant.max_tokens}))
            checked.append((variant, info))
        return checked

    def suggest(self, prompt: str, limit: int = 3) -> list[str]:
        """The models the router would try for this prompt, best first: its route's top candidates."""
        try:
            decision = decide(RouteRequest(prompt, tokens.count_text(prompt)), self.state.profile, self.state.catalog,
                              drift=self.state.monitor.drift(), budget=self.state.monitor.budget(self.state.profile))
        except NoModelAvailable:
            return []
        return [decision.model, *decision.fallbacks][:limit]

    def _context(self, conversation_id: str, prompt_message_id: int, prompt: str) -> list[dict]:
        # Re-asking an earlier prompt must not show the models the reply it already got. An incognito
        # prompt has no stored text: the text the caller holds stands in for it; other unstored text is
        # left out rather than sent empty.
        context = []
        for m in self.store.messages(conversation_id):
            if m.status != "complete" or m.id > prompt_message_id:
                continue
            content = prompt if m.id == prompt_message_id else m.content
            if content:
                context.append({"role": m.role, "content": content})
        return context

    async def run(self, prompt: str, models: Sequence[str], conversation_id: str | None = None,
                  prompt_message_id: int | None = None) -> AsyncIterator[CompareEvent]:
        """Compare `models` on `prompt`; pass `prompt_message_id` (and its conversation) to re-ask a saved prompt."""
        checked = self.check(models)
        if not prompt.strip():
            raise EmptyPrompt("the prompt is empty")
        incognito = self.incognito
        if prompt_message_id is None:
            conversation_id, prompt_message_id = await asyncio.to_thread(
                self.store.start_turn, conversation_id, prompt, self.state.profile.name, incognito)
        assert conversation_id is not None and prompt_message_id is not None, "re-asked within its conversation"
        messages = await asyncio.to_thread(self._context, conversation_id, prompt_message_id, prompt)
        prompt_tokens = await asyncio.to_thread(tokens.count_messages, messages)
        # The route the chat would take, semantic stage included (an encode: off the event loop).
        route, _ = await asyncio.to_thread(route_for, RouteRequest(prompt, prompt_tokens), self.state.profile,
                                           self.state.catalog, self.state.semantic)
        columns = [Column(info.alias, await asyncio.to_thread(self.store.start_reply, conversation_id, incognito),
                          variant.label) for variant, info in checked]
        # No classifier yet: the route a prompt takes is its category.
        comparison = Comparison(conversation_id, prompt_message_id, prompt, route.name, route.name, columns)
        yield CompareStarted(comparison)

        queue: asyncio.Queue = asyncio.Queue()
        secrets = environment_secrets(self.state.profile.key_envs())
        tasks = set()
        last: dict[str, Queued] = {}
        for index, (variant, info) in enumerate(checked):
            # Columns on one local model queue, each behind the one before: run together, they would share
            # its cores (or wait inside it) and every column's TTFT and tok/s would be the queue's.
            done, behind = asyncio.Event(), None
            if (server := _one_at_a_time(info)) is not None:
                behind = last.get(server)
                last[server] = (index, done, (*behind[2], index) if behind else (index,))
            task = asyncio.create_task(self._column(comparison, index, variant, info, messages, prompt_tokens,
                                                    secrets, queue, behind, done))
            # A finished task joins the queue after its last event, so the loop below knows when all are done.
            task.add_done_callback(queue.put_nowait)
            tasks.add(task)
        try:
            while tasks:
                item = await queue.get()
                if isinstance(item, asyncio.Task):
                    tasks.discard(item)
                    item.result()  # a column's bug surfaces here instead of hanging the comparison
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        yield CompareDone(comparison)
        # Its attempts count towards spend and drift, for the next routing decision.
        await asyncio.to_thread(self.state.refresh_monitor, self.store)

    async def _column(self, comparison: Comparison, index: int, variant: Variant, info: ModelInfo,
                      messages: list[dict], prompt_tokens: int, secrets: list[str], queue: asyncio.Queue,
                      behind: Queued | None, done: asyncio.Event) -> None:
        try:
            await self._stream_column(comparison, index, variant, info, messages, prompt_tokens, secrets, queue,
                                      behind)
        finally:
            done.set()

    async def _wait(self, comparison: Comparison, index: int, behind: Queued,
                    queue: asyncio.Queue) -> float:
        """Wait for the column ahead on the same model to end; returns the seconds the model was busy with the
        columns ahead meanwhile (from the first one's request on): the set-up before it (loading LiteLLM or
        the weights) is not a queue, this column would have waited for it on its own too."""
        ahead, ended, earlier = behind
        started, began = time.perf_counter(), time.time()
        while not ended.is_set():
            queue.put_nowait(ColumnWaiting(index, ahead, time.perf_counter() - started))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROGRESS_INTERVAL_S * 5):
                    await ended.wait()
        # Columns on one model run in turn, so every earlier one on it has ended by now.
        sent = [attempt.started_at for i in earlier if (attempt := comparison.columns[i].attempt) is not None]
        return time.time() - max([began, min(sent)] if sent else [began])

    async def _stream_column(self, comparison: Comparison, index: int, variant: Variant, info: ModelInfo,
                             messages: list[dict], prompt_tokens: int, secrets: list[str], queue: asyncio.Queue,
                             behind: Queued | None) -> None:
        column = comparison.columns[index]
        others = ", ".join(label for label in comparison.models if label != column.label)
        if variant.system is not None:
            messages = [{"role": "system", "content": variant.system}, *messages]

        def open_stream() -> AttemptStream:
            # Opened once the model is free, so the attempt's TTFT is the model's own, not the queue's.
            return AttemptStream(info, messages, route=comparison.route, hop=0,
                                 timeouts=self.state.profile.timeouts, temperature=variant.temperature,
                                 reason=" · ".join(filter(None, [variant.settings, f"compared with {others}"])),
                                 secrets=secrets)

        if behind is not None:
            try:
                column.waited_s = await self._wait(comparison, index, behind, queue)
            except asyncio.CancelledError:
                attempt = open_stream().cancelled()
                self._record(comparison, column, attempt, "cancelled", self.store.start_attempt(
                    attempt, comparison.conversation_id, comparison.prompt_message_id, column.message_id, None))
                raise
        stream = open_stream()
        row = asyncio.ensure_future(asyncio.to_thread(
            self.store.start_attempt, stream.attempt, comparison.conversation_id, comparison.prompt_message_id,
            column.message_id, None))
        started = time.perf_counter()
        shown = flushed = started
        output_tokens = 0
        try:
            async with aclosing(aiter(stream)) as pieces:
                async for piece in pieces:
                    queue.put_nowait(ColumnDelta(index, piece))
                    output_tokens += tokens.count_text(piece)
                    now = time.perf_counter()
                    if now - shown >= PROGRESS_INTERVAL_S:
                        shown = now
                        live = LiveStats(stream.attempt.ttft_s, now - started, output_tokens,
                                         info.cost(prompt_tokens, output_tokens))
                        queue.put_nowait(ColumnProgress(index, live))
                    if now - flushed > FLUSH_INTERVAL_S:
                        # Keep the partial reply on disk so a crash mid-stream loses at most half a second.
                        await asyncio.to_thread(self.store.save_reply, column.message_id, stream.text, "streaming",
                                                info.alias)
                        flushed = time.perf_counter()
        except asyncio.CancelledError:
            attempt = stream.cancelled()
            if row.done():
                self._record(comparison, column, attempt, "cancelled", row.result())
            else:  # its insert is still on its thread: finish the row once written
                def finish(inserted: asyncio.Future[int]) -> None:
                    if not inserted.cancelled() and inserted.exception() is None:
                        self._record(comparison, column, attempt, "cancelled", inserted.result())

                row.add_done_callback(finish)
            raise
        attempt = stream.attempt
        status = "compared" if attempt.ok else "failed"
        await asyncio.to_thread(self._record, comparison, column, attempt, status, await row)
        queue.put_nowait(ColumnEnded(index, attempt, status, column.waited_s))

    def _record(self, comparison: Comparison, column: Column, attempt: Attempt, status: str,
                attempt_id: int) -> None:
        # A finished reply is 'compared', not 'complete': it joins the conversation only if chosen.
        self.store.record_attempt(attempt, comparison.conversation_id, comparison.prompt_message_id,
                                  column.message_id, None, attempt_id)
        self.store.save_reply(column.message_id, attempt.text, status, attempt.model_alias)
        column.attempt, column.status = attempt, status

    def vote(self, comparison: Comparison, outcome: Outcome, winner: int | None = None, blind: bool = False) -> Vote:
        """Record the user's judgement; `winner` is a column index, required for a win only."""
        if (outcome is Outcome.WIN) != (winner is not None):
            raise ValueError("a win needs a winner, a tie or 'all bad' has none")
        vote = Vote(comparison.conversation_id, comparison.prompt_message_id, outcome,
                    comparison.columns[winner].label if winner is not None else None, comparison.models,
                    tuple(c.message_id for c in comparison.columns), comparison.route, comparison.category, blind)
        self.store.record_vote(vote)
        return vote

    def continue_with(self, comparison: Comparison, column: int) -> None:
        """Make this column's reply the conversation's answer to the prompt."""
        chosen = comparison.columns[column]
        if chosen.status != "compared":
            raise CompareError(f"{chosen.label} has no finished reply to continue with")
        self.store.choose_reply(comparison.prompt_message_id, chosen.message_id)
