"""Records that flow from the providers to the store and the UI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Failure(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    CONTEXT_WINDOW = "context_window"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    STREAM_CUT = "stream_cut"
    """The stream ended without a finish reason: LiteLLM reports this as a normal "stop"."""
    STREAM_ERROR = "stream_error"
    BAD_RESPONSE = "bad_response"
    """HTTP 200 whose body was not a completion (an HTML page, invalid JSON)."""
    EMPTY = "empty"
    CANCELLED = "cancelled"
    UNAVAILABLE = "unavailable"
    INTERRUPTED = "interrupted"
    """The process ended (killed, crashed) before the attempt did: what it had streamed is kept."""
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Cost:
    """What several calls cost when some may have no known price: the priced part and how many
    calls are unpriced. An unknown part is never counted as $0 (`usd` is None then)."""

    known_usd: float = 0.0
    unknown: int = 0

    @property
    def usd(self) -> float | None:
        """The total, or None when any part is unknown (as JSON: null)."""
        return None if self.unknown else self.known_usd

    @classmethod
    def of(cls, costs) -> Cost:
        """From per-call costs, None meaning unpriced."""
        costs = list(costs)
        return cls(sum(c for c in costs if c is not None), sum(1 for c in costs if c is None))

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.known_usd + other.known_usd, self.unknown + other.unknown)


@dataclass
class Attempt:
    """One call to one model. Failed and cancelled attempts are kept too."""

    model_alias: str
    model: str
    route: str
    reason: str
    hop: int
    started_at: float
    """When the request was sent (epoch seconds); TTFT and latency count from here."""
    text: str = ""
    ttft_s: float | None = None
    latency_s: float | None = None
    setup_s: float | None = None
    """Our side before the request left: loading LiteLLM, building the request and its client."""
    input_tokens: int | None = None
    """Every prompt token, cached ones included."""
    output_tokens: int | None = None
    tokens_estimated: bool = False
    cached_input_tokens: int | None = None
    """Prompt tokens the provider read from its cache (billed at its cache-read rate)."""
    cache_write_tokens: int | None = None
    """Prompt tokens the provider wrote to its cache (billed at its cache-write rate)."""
    cost_usd: float | None = None
    price_source: str | None = None
    finish_reason: str | None = None
    failure: Failure | None = None
    error: str | None = None
    retry_after_s: float | None = None
    stage: int = 0
    """Which step of the route's cascade asked: 0 is the route's own choice, 1 the first escalation."""
    verdict: str | None = None
    """The cascade's checks on this answer: pass, fail, or None when none ran."""
    check_detail: str | None = None
    """Which check failed and why, or which checks passed."""
    purpose: str | None = None
    """None for an answer; `judge` for a call that graded another attempt's answer."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def tokens_per_s(self) -> float | None:
        if not self.output_tokens or self.latency_s is None:
            return None
        generating = self.latency_s - (self.ttft_s or 0.0)
        return self.output_tokens / generating if generating > 0 else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["failure"] = self.failure.value if self.failure else None
        data["tokens_per_s"] = self.tokens_per_s
        return data


@dataclass
class Reply:
    """What the user got for one prompt: the final text and every attempt that led to it."""

    conversation_id: str
    message_id: int
    text: str
    status: str  # complete | failed | cancelled
    attempts: list[Attempt] = field(default_factory=list)
    judged: list[Attempt] = field(default_factory=list)
    """Calls made to grade the answers (a cascade's judge): not answers, but paid for all the same."""

    @property
    def final(self) -> Attempt | None:
        """The attempt whose answer the reply is: the last one that answered (an escalation that failed keeps the
        answer before it), else the last one tried."""
        return next((a for a in reversed(self.attempts) if a.ok), self.attempts[-1] if self.attempts else None)

    @property
    def escalated(self) -> bool:
        return any(a.stage for a in self.attempts)

    @property
    def cost(self) -> Cost:
        return Cost.of(a.cost_usd for a in (*self.attempts, *self.judged))

    @property
    def cost_usd(self) -> float | None:
        """Every attempt's cost, failed hops included; None when any of them has no known price."""
        return self.cost.usd


class Outcome(StrEnum):
    WIN = "win"
    TIE = "tie"
    ALL_BAD = "all_bad"


@dataclass(frozen=True)
class Vote:
    """A judgement on one comparison: which of the compared replies was best, if any."""

    conversation_id: str
    prompt_message_id: int
    outcome: Outcome
    winner_model_alias: str | None
    models: tuple[str, ...]
    reply_message_ids: tuple[int, ...]
    """Parallel to `models`: the reply each model gave in this comparison."""
    route: str
    category: str
    blind: bool


@dataclass(frozen=True)
class TurnSettings:
    """What the user set for a conversation: sent with each of its turns."""

    system: str = ""
    temperature: float | None = None

    def describe(self) -> str:
        parts = []
        if self.system:
            parts.append("system prompt")
        if self.temperature is not None:
            parts.append(f"temperature {self.temperature:g}")
        return " · ".join(parts)


@dataclass(frozen=True)
class LiveStats:
    """A reply still streaming, for its live line: tokens are counted locally until usage arrives."""

    ttft_s: float | None
    elapsed_s: float
    output_tokens: int
    cost_usd: float | None

    @property
    def tokens_per_s(self) -> float | None:
        generating = self.elapsed_s - (self.ttft_s or 0.0)
        return self.output_tokens / generating if self.output_tokens and generating > 0 else None


@dataclass
class Column:
    """One model's side of a comparison; `attempt` is set once its stream has ended."""

    model_alias: str
    message_id: int
    variant: str = ""
    """The model with the settings it was asked with (`smollm2@temperature=1.2`); empty: the alias alone."""
    attempt: Attempt | None = None
    status: str = "streaming"  # compared | failed | cancelled once ended
    waited_s: float = 0.0
    """Queued behind another column on the same one-at-a-time model before its request was sent."""

    @property
    def label(self) -> str:
        return self.variant or self.model_alias


@dataclass
class Comparison:
    """One prompt sent to several models at once, and each model's reply."""

    conversation_id: str
    prompt_message_id: int
    prompt: str
    route: str
    category: str
    columns: list[Column]

    @property
    def models(self) -> tuple[str, ...]:
        """What was compared: variants of one model count as different contenders."""
        return tuple(c.label for c in self.columns)
