"""One chat turn end to end: save the prompt, route it, stream with fallbacks, record every attempt."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

from playground import tokens
from playground.catalog import Catalog
from playground.events import (AttemptEnded, AttemptStarted, Event, ReplyDone, Routed, TextDelta, TurnFailed,
                               TurnStarted)
from playground.profile import Profile
from playground.providers.stream import AttemptStream
from playground.records import Attempt, Reply
from playground.router import NoModelAvailable, RouteRequest, decide
from playground.safetext import environment_secrets
from playground.store import Store

FLUSH_INTERVAL_S = 0.5


class EmptyPrompt(ValueError):
    pass


class ChatService:
    """Knows nothing of the UI: callers iterate `send()` and render the events."""

    def __init__(self, profile: Profile, catalog: Catalog, store: Store) -> None:
        self.profile = profile
        self.catalog = catalog
        self.store = store
        # Incognito text, by message id: the store never sees it, yet the conversation needs it as
        # context for as long as this process runs.
        self._unstored: dict[int, str] = {}

    def _history(self, conversation_id: str) -> list[dict]:
        # Only finished exchanges are context: a failed or cancelled partial reply would mislead the model.
        # Incognito text from an earlier run is gone, so those messages are left out.
        turns = [(m.role, self._unstored.get(m.id, m.content)) for m in self.store.messages(conversation_id)
                 if m.status == "complete"]
        return [{"role": role, "content": content} for role, content in turns if content]

    async def send(self, prompt: str, conversation_id: str | None = None,
                   model: str | None = None, incognito: bool = False) -> AsyncIterator[Event]:
        """With `incognito`, the store keeps this turn's metadata (tokens, cost, latency, model) but
        none of its text."""
        if not prompt.strip():
            raise EmptyPrompt("the prompt is empty")
        conversation_id, prompt_id = await asyncio.to_thread(
            self.store.start_turn, conversation_id, prompt, self.profile.name, incognito)
        if incognito:
            self._unstored[prompt_id] = prompt
        yield TurnStarted(conversation_id, prompt_id)
        messages = await asyncio.to_thread(self._history, conversation_id)
        prompt_tokens = await asyncio.to_thread(tokens.count_messages, messages)
        try:
            decision = decide(RouteRequest(prompt, prompt_tokens), self.profile, self.catalog, forced=model)
        except NoModelAvailable as exc:
            yield TurnFailed(conversation_id, str(exc))
            return
        yield Routed(decision)

        reply_id = await asyncio.to_thread(self.store.start_reply, conversation_id, incognito)
        secrets = environment_secrets(self.profile.key_envs())
        attempts: list[Attempt] = []
        chain = (decision.model, *decision.fallbacks)
        stream: AttemptStream | None = None
        try:
            for hop, alias in enumerate(chain):
                if hop == 0:
                    reason = decision.reason
                else:
                    previous = attempts[-1]
                    reason = f"fallback after {previous.model_alias} failed ({previous.failure})"
                yield AttemptStarted(alias, hop, reason)
                stream = AttemptStream(self.catalog[alias], messages, route=decision.route, reason=reason, hop=hop,
                                       timeouts=self.profile.timeouts, secrets=secrets)
                flushed = time.monotonic()
                async for piece in stream:
                    yield TextDelta(piece)
                    if time.monotonic() - flushed > FLUSH_INTERVAL_S:
                        # Keep the partial reply on disk so a crash mid-stream loses at most half a second.
                        await asyncio.to_thread(self.store.save_reply, reply_id, stream.text,
                                                "streaming", alias)
                        flushed = time.monotonic()
                attempt = stream.attempt
                stream = None
                attempts.append(attempt)
                await asyncio.to_thread(self.store.record_attempt, attempt, conversation_id, prompt_id, reply_id,
                                        decision.to_dict() if hop == 0 else None)
                yield AttemptEnded(attempt)
                if attempt.ok:
                    break
        except asyncio.CancelledError:
            if stream is not None:
                attempt = stream.cancelled()
                attempts.append(attempt)
                self.store.record_attempt(attempt, conversation_id, prompt_id, reply_id,
                                          decision.to_dict() if attempt.hop == 0 else None)
            last = attempts[-1] if attempts else None
            self.store.save_reply(reply_id, last.text if last else "", "cancelled",
                                  last.model_alias if last else None)
            raise

        final = attempts[-1]
        if final.ok:
            text, status = final.text, "complete"
        else:
            # Keep the longest partial answer the user saw; it is marked failed, never passed off as complete.
            text, status = max((a.text for a in attempts), key=len), "failed"
        await asyncio.to_thread(self.store.save_reply, reply_id, text, status, final.model_alias)
        if incognito:
            self._unstored[reply_id] = text
        conversation_cost = await asyncio.to_thread(self.store.conversation_cost, conversation_id)
        day_cost = await asyncio.to_thread(self.store.today_cost)
        yield ReplyDone(Reply(conversation_id, reply_id, text, status, attempts), conversation_cost, day_cost)
