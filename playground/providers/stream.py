"""One streamed call to one model through LiteLLM, measured and checked, as an Attempt record."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from playground.base import tokens
from playground.base.records import Attempt, Failure
from playground.base.safetext import clean, one_line, redact
from playground.config.catalog import LOCAL_PREFIX, ModelInfo
from playground.config.profile import Timeouts
from playground.providers import engine
from playground.providers.failures import classify, retry_after


class _Watchdog:
    """The stream's time limits with one timer for the whole stream, not one per chunk: each chunk only
    notes when the wait for it began. Only time spent waiting on the provider counts; the caller's
    own time between chunks does not, and the task is cancelled only while it waits on the provider."""

    __slots__ = ("at", "deadline", "expired", "handle", "limit", "loop", "since", "task", "waiting")

    def __init__(self, total_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.deadline = self.loop.time() + total_s
        self.expired = self.waiting = False
        self.limit = total_s
        self.since = self.loop.time()
        self.at = self.deadline
        self.handle = self.loop.call_at(self.at, self._check)

    def wait(self, limit: float) -> None:
        """Waiting on the provider from now, for at most `limit` seconds."""
        self.since = self.loop.time()
        self.limit = limit
        self.waiting = True
        if self.since + limit < self.at:  # a shorter limit than the timer's: only then is it moved
            self._schedule(self.since + limit)

    def _schedule(self, at: float) -> None:
        self.handle.cancel()
        self.at = at
        self.handle = self.loop.call_at(at, self._check)

    def _check(self) -> None:
        due = min(self.deadline, self.since + self.limit) if self.waiting else self.deadline
        now = self.loop.time()
        if now >= due and (self.waiting or now >= self.deadline):
            self.expired = True
            if self.task is not None:
                self.task.cancel()
        else:
            self._schedule(max(due, now + 0.001))

    def close(self) -> None:
        self.handle.cancel()


class _OneIterator:
    """A provider stream that is its own iterator.

    LiteLLM's wrapper reads the provider's stream with a fresh `async for` for each chunk it hands over, and
    the OpenAI client's stream answers each with a new async generator. Left suspended when the chunk is
    handed over, each of those is finalised by asyncio through a task of its own: some 200 tasks for a
    200-chunk reply, run on the event loop while the reply streams. The same stream as its own iterator
    gives no generator to finalise.
    """

    __slots__ = ("_next", "_stream")

    def __init__(self, stream) -> None:
        self._stream = stream
        self._next = stream.__anext__

    def __aiter__(self) -> _OneIterator:
        return self

    def __anext__(self):
        return self._next()

    async def close(self) -> None:
        # LiteLLM closes its provider stream with aclose() or close(), whichever it has.
        await self._stream.close()


def _one_iterator(response) -> None:
    raw = getattr(response, "completion_stream", None)
    if raw is not None and hasattr(raw, "__anext__") and hasattr(raw, "close") and \
            inspect.isasyncgenfunction(getattr(type(raw), "__aiter__", None)):
        response.completion_stream = _OneIterator(raw)


def _provider_tail(response) -> AsyncIterator | None:
    """The rest of the provider's stream after its finish reason, read from under LiteLLM's wrapper: None when
    the wrapper is not one whose raw stream and chunk parser are there to read.

    Only the usage chunk (include_usage) and the end of the body follow the finish reason. Read through the
    wrapper, the end of the body first starts LiteLLM's end-of-stream work: it assembles the whole reply from
    its chunks (in a thread: some 15 ms for 200 chunks) and schedules its logging and caching, none of which
    the playground uses, before it hands over the usage it already holds. Read here, each chunk goes through the
    wrapper's own parser, and a chunk carrying usage is kept in `chunks`, where LiteLLM keeps it and
    `_account` reads it. The body is still read to its last byte, so the latency ends where it did.
    """
    raw = getattr(response, "completion_stream", None)
    parse = getattr(response, "chunk_creator", None)
    kept = getattr(response, "chunks", None)
    if parse is None or not isinstance(kept, list) or not hasattr(raw, "__aiter__"):
        return None
    return _read_tail(raw, parse, kept)


async def _read_tail(raw, parse: Callable, kept: list) -> AsyncGenerator:
    import httpx

    try:
        async for piece in raw:
            if piece is None or piece == "None":
                continue
            chunk = parse(chunk=piece)
            if chunk is not None:
                if getattr(chunk, "usage", None) is not None:
                    kept.append(chunk)
                yield chunk
    except (httpx.ReadError, httpx.RemoteProtocolError):
        # After the finish reason LiteLLM too takes a broken connection for the end of a complete reply.
        return


def _warm_local_model() -> None:
    with contextlib.suppress(Exception):  # a model that cannot load fails in the call, with its reason
        engine.warm_local_model()


class AttemptStream:
    """Iterate to get the reply's text pieces; `attempt` holds the record, complete once iteration ends.

    Provider failures do not raise: they end the iteration and set `attempt.failure`. Cancellation
    marks the attempt cancelled (keeping the partial text) and propagates.
    """

    def __init__(self, info: ModelInfo, messages: list[dict], *, route: str, reason: str, hop: int,
                 timeouts: Timeouts, secrets: list[str], api_key: str | None = None,
                 temperature: float | None = None, logprobs: bool = False) -> None:
        self.info = info
        self.messages = messages
        self.timeouts = timeouts
        self.secrets = secrets
        self.api_key = api_key
        self.temperature = temperature
        self.attempt = Attempt(model_alias=info.alias, model=info.spec.model, route=route, reason=reason,
                               hop=hop, started_at=time.time(), price_source=info.price_source)
        self._pieces: list[str] = []
        self._response = None
        self.logprobs: list[float] | None = [] if logprobs else None
        """With `logprobs`, each token's log-probability, when the provider returns them (a cascade checks them)."""

    @property
    def text(self) -> str:
        """The reply so far."""
        return "".join(self._pieces)

    def cancelled(self) -> Attempt:
        """The record of an attempt whose consumer was cancelled between two pieces."""
        attempt = self.attempt
        if attempt.failure is None:
            attempt.failure = Failure.CANCELLED
            attempt.error = "cancelled by the user"
            attempt.latency_s = time.time() - attempt.started_at
            attempt.text = self.text
            self._account()
        return attempt

    def _call_args(self) -> dict:
        spec = self.info.spec
        args: dict = {
            "model": spec.model,
            "messages": self.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            # Retries and fallbacks are the router's decision, so each hop is visible and recorded.
            "max_retries": 0,
            "num_retries": 0,
            "timeout": self.timeouts.total,
        }
        key = self.api_key or (os.environ.get(spec.key_env) if spec.key_env else None)
        if key:
            args["api_key"] = key
        elif spec.api_base:
            args["api_key"] = "no-key"  # OpenAI-compatible local servers want some key
        if spec.api_base:
            args["api_base"] = spec.api_base
        if spec.max_output_tokens:
            args["max_tokens"] = spec.max_output_tokens
        if self.temperature is not None:
            args["temperature"] = self.temperature
        if self.logprobs is not None:
            args["logprobs"] = True
        return args

    async def __aiter__(self) -> AsyncGenerator[str, None]:
        # The first import takes seconds: never on the caller's event loop.
        attempt = self.attempt
        began_wall, began = time.time(), time.perf_counter()
        if self.info.spec.model.startswith(LOCAL_PREFIX) and not engine.local_model_loaded():
            # Reading the weights (a second or more) is set-up too, not the model's time to first token; it
            # overlaps LiteLLM's import (llama.cpp reads them without holding the GIL).
            await asyncio.gather(asyncio.to_thread(_warm_local_model), asyncio.to_thread(engine.load))
        litellm = engine.load() if engine.is_loaded() else await asyncio.to_thread(engine.load)
        # Until the client's hook reports the request sent, time from the call (providers whose
        # client LiteLLM does not share have no hook: their set-up counts as latency).
        clock = engine.watch_send()
        started = called = time.perf_counter()
        response = None

        def sent() -> float:
            nonlocal started
            if clock.sent is not None and started == called:
                started = clock.sent
                attempt.setup_s = started - began
                attempt.started_at = began_wall + attempt.setup_s
            return started

        attempt.setup_s = called - began
        attempt.started_at = began_wall + attempt.setup_s
        watchdog = _Watchdog(self.timeouts.total)
        logprobs = self.logprobs
        try:
            try:
                watchdog.wait(self.timeouts.first_token)
                response = self._response = await litellm.acompletion(**self._call_args())
                sent()
                _one_iterator(response)
                iterator = response.__aiter__()
                tail = None
                while True:
                    # One timer for the stream (see _Watchdog): this loop is the hot path.
                    watchdog.wait(self.timeouts.first_token if attempt.ttft_s is None else self.timeouts.idle)
                    try:
                        chunk = await iterator.__anext__()
                    except StopAsyncIteration:
                        break
                    finally:
                        watchdog.waiting = False
                    text = None
                    if chunk.choices:
                        if logprobs is not None and (found := getattr(chunk.choices[0], "logprobs", None)):
                            logprobs.extend(t.logprob for t in found.content or ())
                        text = chunk.choices[0].delta.content
                    if text:
                        text = clean(text)
                        if attempt.ttft_s is None:
                            # The bytes that carried it, when the client reports them: LiteLLM's own work on
                            # the chunk is ours, not the provider's.
                            attempt.ttft_s = (clock.received or time.perf_counter()) - started
                        self._pieces.append(text)
                        yield text
                    elif tail is None and getattr(chunk, "usage", None) is not None:
                        # A stream whose end LiteLLM read (see _provider_tail): with include_usage it yields the
                        # usage once more, on a response it assembled after the provider's last byte. All that
                        # follows is a second assembly of the whole reply and its logging; the provider's own
                        # usage is already in `chunks`, so stop here.
                        break
                    if tail is None and chunk.choices and chunk.choices[0].finish_reason and \
                            (tail := _provider_tail(response)) is not None:
                        iterator = tail
            except asyncio.CancelledError:
                if not watchdog.expired:
                    raise
                self._uncancel()
                raise TimeoutError from None
            finally:
                watchdog.close()
            attempt.latency_s = (clock.received or time.perf_counter()) - sent()
            self._finish()
        except asyncio.CancelledError:
            attempt.latency_s = time.perf_counter() - sent()
            attempt.failure = Failure.CANCELLED
            attempt.error = "cancelled by the user"
            self._account()
            raise
        except Exception as exc:  # every provider failure becomes a record, never a crash
            attempt.latency_s = time.perf_counter() - sent()
            failure, status = classify(exc)
            attempt.failure = failure
            attempt.retry_after_s = retry_after(exc)
            detail = str(exc) or type(exc).__name__
            if failure is Failure.TIMEOUT and not str(exc):
                waited = "first token" if attempt.ttft_s is None else "next chunk"
                detail = f"no {waited} within the time limit"
            # LiteLLM gives stream errors a stand-in 500 that no server sent: show only real statuses.
            http = {Failure.RATE_LIMITED, Failure.SERVER_ERROR, Failure.AUTH, Failure.BAD_REQUEST,
                    Failure.CONTEXT_WINDOW}
            prefix = f"HTTP {status}: " if status and failure in http else ""
            attempt.error = redact(one_line(prefix + detail), self.secrets)
            self._account()
        finally:
            attempt.text = self.text
            if response is not None and hasattr(response, "aclose"):
                # Closing a broken stream can fail; the record is already complete.
                with contextlib.suppress(Exception):
                    await asyncio.shield(response.aclose())

    @staticmethod
    def _uncancel() -> None:
        """Our own watchdog cancelled the task: take that back, so the caller is not cancelled too."""
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()

    def _finish(self) -> None:
        attempt = self.attempt
        text = self.text
        # LiteLLM turns a stream cut before its end into a normal "stop" with made-up usage, and a 200
        # with a non-completion body into an empty answer; only the raw finish reason tells them apart.
        received = getattr(self._response, "received_finish_reason", None)
        attempt.finish_reason = received
        if received is None:
            attempt.failure = Failure.STREAM_CUT if text else Failure.BAD_RESPONSE
            attempt.error = ("the stream ended before the model finished" if text
                             else "the response was not a valid completion")
        elif not text.strip():
            attempt.failure = Failure.EMPTY
            attempt.error = f"the model returned no text (finish reason {received!r})"
        self._account()

    def _account(self) -> None:
        """Tokens from the provider's usage when it sent any, else counted here and marked estimated."""
        attempt = self.attempt
        response = self._response
        if response is None:
            # Refused before any reply (HTTP error, timeout): providers do not bill these.
            attempt.cost_usd = 0.0
            return
        # The last usage the provider sent (usually on the last chunk: read from the end).
        usage = next((found for chunk in reversed(getattr(response, "chunks", None) or ())
                      if (found := getattr(chunk, "usage", None))), None)
        text = self.text
        if usage is not None and attempt.failure is None:
            attempt.input_tokens = usage.prompt_tokens
            attempt.output_tokens = usage.completion_tokens
            details = getattr(usage, "prompt_tokens_details", None)
            attempt.cached_input_tokens = getattr(details, "cached_tokens", None) or \
                getattr(usage, "cache_read_input_tokens", None)
            attempt.cache_write_tokens = getattr(usage, "cache_creation_input_tokens", None) or \
                getattr(details, "cache_creation_tokens", None)
        else:
            attempt.input_tokens = tokens.count_messages(self.messages, tokens.template_for(self.info.spec.model))
            attempt.output_tokens = tokens.count_text(text) if text else 0
            attempt.tokens_estimated = True
        attempt.cost_usd = self.info.cost(attempt.input_tokens or 0, attempt.output_tokens or 0,
                                          attempt.cached_input_tokens or 0, attempt.cache_write_tokens or 0)
