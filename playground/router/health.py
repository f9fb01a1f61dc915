"""Observed latency and reliability per model, fed by every attempt: medians of the latest measured
TTFT, speed and reply length; an error-rate EWMA; cooldowns."""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from playground.base.records import Attempt, Failure
from playground.config.profile import Cooldown

ALPHA = 0.3
"""Weight of the newest observation in the error rate's moving average."""
SAMPLES = 50
"""Successful replies per model whose TTFT, speed and length make the latency estimate: medians, so one
cold start or stall does not swing it."""

NOT_THE_MODELS_FAULT = {Failure.CANCELLED, Failure.CONTEXT_WINDOW, Failure.BAD_REQUEST, Failure.INTERRUPTED}
CARRIED_OVER = " (carried over from an earlier run)"


@dataclass(frozen=True)
class ModelHealth:
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    error_rate: float = 0.0
    requests: int = 0
    cooldown_until: float | None = None
    cooldown_reason: str | None = None
    samples: int = 0
    """Measured replies behind `ttft_s` and `tokens_per_s`."""
    output_tokens: float | None = None
    """The model's median reply length, in tokens."""

    def cooling(self, now: float) -> float:
        """Seconds of cooldown left (0 when the model is in rotation)."""
        return max(0.0, self.cooldown_until - now) if self.cooldown_until else 0.0

    def expected_latency(self, output_tokens: int) -> float | None:
        """TTFT plus the time to write a reply of this model's usual length (`output_tokens` until it
        has one); None with no measured reply."""
        if self.ttft_s is None or not self.tokens_per_s:
            return None
        return self.ttft_s + (self.output_tokens or output_tokens) / self.tokens_per_s


class HealthTracker:
    def __init__(self, cooldown: Cooldown, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self._health: dict[str, ModelHealth] = {}
        self._streak: dict[str, list[float]] = {}
        """When each failure of a model's current run of failures happened, on `clock`."""
        self._measured: dict[str, deque[tuple[float, float, int]]] = {}
        """(TTFT, tokens/s, output tokens) of each model's latest successful replies."""
        self._lock = threading.Lock()

    def _ewma(self, old: float | None, new: float) -> float:
        return new if old is None else (1 - ALPHA) * old + ALPHA * new

    def record(self, attempt: Attempt, at: float | None = None, note: str = "") -> None:
        """`at`: when the attempt ended on `clock` (now, unless replayed from history)."""
        if attempt.failure in NOT_THE_MODELS_FAULT:
            return
        alias = attempt.model_alias
        with self._lock:
            h = self._health.get(alias, ModelHealth())
            failed = attempt.failure is not None
            ttft, tps, samples, length = h.ttft_s, h.tokens_per_s, h.samples, h.output_tokens
            if not failed and attempt.ttft_s is not None and attempt.tokens_per_s and attempt.output_tokens:
                measured = self._measured.setdefault(alias, deque(maxlen=SAMPLES))
                measured.append((attempt.ttft_s, attempt.tokens_per_s, attempt.output_tokens))
                ttft, tps, length = (statistics.median(column) for column in zip(*measured))
                samples = len(measured)
            now = self.clock() if at is None else at
            earlier = self._streak.get(alias, [])
            if at is not None:  # replayed from history: only failures inside the window count
                earlier = [t for t in earlier if t > now - self.cooldown.seconds]
            failures = [*earlier, now] if failed else []
            self._streak[alias] = failures
            streak = len(failures)
            until, reason = h.cooldown_until, h.cooldown_reason
            if attempt.failure is Failure.RATE_LIMITED:
                wait = attempt.retry_after_s if attempt.retry_after_s is not None else self.cooldown.seconds
                until, reason = now + wait, f"rate limited (429), cooling {wait:.0f} s{note}"
            elif failed and streak >= self.cooldown.after_failures:
                until, reason = now + self.cooldown.seconds, f"{streak} failures in a row{note}"
            elif not failed:
                until, reason = None, None
            self._health[alias] = ModelHealth(ttft, tps, self._ewma(h.error_rate, float(failed)) if h.requests
                                              else float(failed), h.requests + 1, until, reason, samples, length)

    def seed(self, attempts: Iterable[Attempt], now_wall: float | None = None) -> None:
        """Start from history (oldest first), so separate runs behave like one session: latencies and
        error rates, a cooldown still running (a Retry-After not yet over, failures in a row), and the
        failures of a run that ended inside the cooldown window, which count towards the next one."""
        now_wall = time.time() if now_wall is None else now_wall
        now = self.clock()
        for attempt in attempts:
            ended = attempt.started_at + (attempt.latency_s or 0.0)
            self.record(attempt, at=now - (now_wall - ended), note=CARRIED_OVER)
        with self._lock:
            self._health = {a: h if h.cooling(now) else replace(h, cooldown_until=None, cooldown_reason=None)
                            for a, h in self._health.items()}
            window = now - self.cooldown.seconds
            self._streak = {a: [t for t in times if t > window] for a, times in self._streak.items()}

    def snapshot(self) -> Mapping[str, ModelHealth]:
        with self._lock:
            return dict(self._health)
