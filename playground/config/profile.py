"""Routing profiles: YAML in, a validated and typed Profile out, or one clear error with file:line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from playground.base.errors import SourceError
from playground.base.paths import missing_profile
from playground.base.yamlsource import YamlDocument, load_yaml
from playground.config.escalation import Escalation, unknown_step, valid_regex
from playground.config.variants import Variant, VariantError, parse_variant

ProfileError = SourceError

FEATURES = ("log_tokens", "code", "question", "digit_share", "math_share", "log_lines", "reasoning_words",
            "choices", "log_conversation")
"""Named prompt features a learned route may weigh (computed by playground.router.features)."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ReferenceProblem(ValueError):
    """A cross-reference error, with the place in the profile it concerns."""

    def __init__(self, message: str, *loc: str | int) -> None:
        super().__init__(message)
        self.loc = loc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Price(_Strict):
    """Dollars per million tokens; overrides LiteLLM's price map for this model."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class ModelSpec(_Strict):
    """One model the router may send prompts to."""

    model: str = Field(min_length=1)
    """LiteLLM model string, e.g. `openai/gpt-4o-mini`, or `local/smollm2` for the embedded model."""
    key_env: str | None = None
    """Name of the environment variable holding the API key. The key itself never goes in a profile."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server (Ollama, vLLM, LM Studio) or a provider proxy."""
    allow_key_to_api_base: bool = False
    """Send the key named by key_env to an api_base that is not the provider's own. Off: refused at load."""
    price: Price | None = None
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    tags: tuple[str, ...] = ()
    label: str | None = None
    """A short human name shown in the UI."""
    weight: float = Field(default=1.0, gt=0)
    """Share of traffic under `select: balance`."""

    @field_validator("key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable (letters, digits, _), not a key")
        return value

    @model_validator(mode="after")
    def _key_goes_home(self) -> ModelSpec:
        if self.key_env and self.api_base and not self.allow_key_to_api_base and not is_loopback(self.api_base):
            raise ValueError(f"would send ${self.key_env} to {self.api_base}; if that server is meant to receive "
                             f"it, add `allow_key_to_api_base: true`")
        return self


def is_loopback(url: str) -> bool:
    host = re.sub(r"^[a-z]+://", "", url).split("/")[0].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


class Condition(_Strict):
    """A rule. Every condition given must hold; `any`/`all`/`not` combine nested rules."""

    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    code: bool | None = None
    """The prompt contains code (a fenced block or several code-like lines)."""
    tags: tuple[str, ...] | None = None
    """Any of these task tags is set: a `#tag` prefix on the prompt, or a tag picked in the UI."""
    regex: str | None = None
    """Python regular expression searched in the prompt."""
    keywords: tuple[str, ...] | None = None
    """Any of these words or phrases appears in the prompt (case-insensitive, whole words)."""
    language: tuple[str, ...] | None = None
    """The prompt's detected language is one of these ISO 639-1 codes (en, fr, de, …)."""
    min_prompt_tokens: int | None = Field(default=None, ge=0)
    max_prompt_tokens: int | None = Field(default=None, ge=0)
    min_conversation_tokens: int | None = Field(default=None, ge=0)
    max_conversation_tokens: int | None = Field(default=None, ge=0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return valid_regex(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("an empty condition; give at least one of code, tags, regex, keywords, language, "
                             "min/max_prompt_tokens, min/max_conversation_tokens, all, any, not")
        return self


class SemanticSpec(_Strict):
    """Match prompts similar to example utterances."""

    utterances: tuple[str, ...] = Field(min_length=1)
    threshold: float | None = Field(default=None, ge=-1, le=1)
    """Cosine similarity (top-k mean) a prompt needs to take this route when it is the most similar one.
    Left out, it is fitted when the index is built: above what generic text reaches, below what the
    route's own utterances reach (leave-one-out). A less similar route never wins over a more similar one."""
    top_k: int | None = Field(default=None, ge=1)
    """A route's score is the mean similarity to its top_k closest utterances; left out, half of them and at
    least 5. Chosen on development data (MT-Bench's first turns with ten utterances a route: best route
    68.8% at 3, 75.0% at 5; with twenty, 72.5% at 5, 77.5% at 10; data/intents.jsonl 96.3% at 3, 98.5% at
    5): the closer half reads a route's spread, the nearest few read one lucky example."""

    @property
    def k(self) -> int:
        return self.top_k or max(5, len(self.utterances) // 2)


class Head(_Strict):
    """A logistic model: P = sigmoid(bias + named feature weights + hashed word weights)."""

    bias: float = 0.0
    weights: dict[str, float] = Field(default_factory=dict)
    """Named prompt features (FEATURES)."""
    hashed_weights: dict[int, float] = Field(default_factory=dict)
    """Weights of hashed words and word pairs (bucket → weight); absent buckets weigh 0."""
    embedding_weights: tuple[float, ...] = ()
    """Weights of the prompt's sentence embedding, one per dimension (the spec's `embedding_model`), as the
    semantic stage reads the prompt; empty: the embedding is not used."""

    @field_validator("weights")
    @classmethod
    def _known_features(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown feature {unknown[0]!r}; features are {', '.join(FEATURES)}")
        return value


class LearnedSpec(_Strict):
    """A classifier scoring whether the cheap tier is enough for a prompt (`playground tune` writes it)."""

    cheap_tier: str
    threshold: float = Field(default=0.5, ge=0, le=1.01)
    """A score at or above this sends the prompt to `cheap_tier`; below, to the route's own tier
    (scores lie in [0, 1], so a threshold above 1 never chooses the cheap tier)."""
    cheap: Head
    """P(the cheap tier answers well)."""
    strong: Head | None = None
    """P(the route's tier answers well). With both heads the score is (1 + P_cheap − P_strong) / 2."""
    hash_buckets: int = Field(default=4096, ge=1, le=1 << 20)
    cost_scale: float | None = Field(default=None, gt=0)
    """Make the score cost-aware (needs both heads): score = 1 / (1 + cost_scale × quality lost per dollar
    saved), where the dollars are the estimated price gap between the two tiers for this prompt."""
    embedding_model: str | None = None
    """The encoder whose sentence embeddings the heads' `embedding_weights` were learned on; the profile's
    `embeddings` must name the same encoder."""
    provenance: dict[str, str | float | int | None] = Field(default_factory=dict)
    """Where the classifier came from (data, date, cross-validated metrics, target), written by `tune`."""

    @model_validator(mode="after")
    def _buckets_in_range(self) -> LearnedSpec:
        if self.cost_scale is not None and self.strong is None:
            raise ValueError("cost_scale needs the `strong` head: it weighs the quality gap between the tiers")
        heads = [h for h in (self.cheap, self.strong) if h]
        for head in heads:
            if any(not 0 <= b < self.hash_buckets for b in head.hashed_weights):
                raise ValueError(f"hashed_weights buckets must lie in 0..{self.hash_buckets - 1}")
        sizes = {len(h.embedding_weights) for h in heads}
        if len(sizes) > 1:
            raise ValueError(f"the heads' embedding_weights differ in length ({', '.join(map(str, sorted(sizes)))})")
        if self.uses_embedding and not self.embedding_model:
            raise ValueError("embedding_weights need `embedding_model`: the encoder they were learned on")
        return self

    @property
    def uses_embedding(self) -> bool:
        return any(h and h.embedding_weights for h in (self.cheap, self.strong))


SUCCESS_SOURCES = ("marks", "votes", "check")
"""What can say an experiment's reply succeeded: a good/bad mark on it, its arm winning a compare vote, or
the route's cascade passing its first answer. Each names a source in playground.services.experiments."""

OUTCOMES = (*SUCCESS_SOURCES, "cost_per_success")


class Arm(_Strict):
    """One variant of an experiment: a profile model, optionally with its own settings. Also written as
    text, as compare takes it: `fast@temperature=1.2`."""

    model: str = Field(min_length=1)
    """A profile model alias."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    system: str | None = Field(default=None, min_length=1)
    """A system prompt sent before the conversation (instead of the conversation's own)."""
    weight: float = Field(default=1.0, gt=0)
    """Share of traffic under `strategy: fixed`."""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            variant = parse_variant(value)
        except VariantError as exc:
            raise ValueError(str(exc)) from None
        if variant.api_base:
            raise ValueError(f"{value!r}: an experiment arm is a profile model; give its api_base in `models`")
        settings = {"temperature": variant.temperature, "max_tokens": variant.max_tokens, "system": variant.system}
        return {"model": variant.model} | {k: v for k, v in settings.items() if v is not None}

    @property
    def variant(self) -> Variant:
        return Variant(self.model, temperature=self.temperature, max_tokens=self.max_tokens, system=self.system)

    @property
    def label(self) -> str:
        """`fast` or `fast@temperature=1.2`: how stats, votes and the reply's trace name this arm."""
        return self.variant.label


class Experiment(_Strict):
    """Split a route's traffic between variants and measure which does better."""

    name: str = Field(min_length=1)
    variants: tuple[Arm, ...] = Field(min_length=2)
    strategy: Literal["fixed", "thompson"] = "fixed"
    """`fixed`: each variant gets its `weight` share. `thompson`: traffic shifts towards the variant whose
    outcomes look better (Thompson sampling on the recorded outcomes)."""
    outcome: str = "marks"
    """What is measured: `marks` (good/bad marks on replies), `votes` (compare votes naming the variant) or
    `cost_per_success` (dollars per reply that `success` counts as a success)."""
    success: str = "marks"
    """For `outcome: cost_per_success`: which source says a reply succeeded (marks or votes)."""
    winner: str | None = None
    """Set when the experiment is stopped (`playground experiment stop`): every prompt on the route goes to
    this variant (its label), and no more replies are assigned."""

    @field_validator("outcome")
    @classmethod
    def _known_outcome(cls, value: str) -> str:
        if value not in OUTCOMES:
            raise ValueError(f"unknown outcome {value!r}; outcomes are {', '.join(OUTCOMES)}")
        return value

    @field_validator("success")
    @classmethod
    def _known_success(cls, value: str) -> str:
        if value not in SUCCESS_SOURCES:
            raise ValueError(f"unknown success source {value!r}; sources are {', '.join(SUCCESS_SOURCES)}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Experiment:
        labels = [arm.label for arm in self.variants]
        if repeated := next((label for label in labels if labels.count(label) > 1), None):
            raise ValueError(f"variant {repeated} is given twice: give one other settings")
        if self.winner is not None and self.winner not in labels:
            raise ValueError(f"winner {self.winner!r} is not one of the variants ({', '.join(labels)})")
        return self

    @property
    def success_source(self) -> str:
        """The source whose successes and failures are counted."""
        return self.success if self.outcome == "cost_per_success" else self.outcome

    def arm(self, label: str) -> Arm:
        return next(arm for arm in self.variants if arm.label == label)


class Route(_Strict):
    name: str = Field(min_length=1)
    tier: str
    when: Condition | None = None
    semantic: SemanticSpec | None = None
    learned: LearnedSpec | None = None
    prefer: tuple[str, ...] = ()
    """Models tried first on this route, in this order, when usable (`tune --history` learns it from votes
    and good/bad marks)."""
    select: Literal["cheapest", "first", "fastest", "weighted", "balance"] = "weighted"
    """How to pick among the tier's available models: cheapest estimated cost, the tier's order
    (strongest first), lowest expected latency, the profile's `selection` weights, or a weighted
    random share by each model's `weight`."""
    experiment: Experiment | None = None
    """Answer with one of these variants first (the tier's models remain the fallbacks), recording which."""
    escalate: Escalation | None = None
    """Check each answer; when a check fails, ask the next tier or model (see config.escalation)."""

    @model_validator(mode="after")
    def _one_stage(self) -> Route:
        stages = [s for s in ("when", "semantic", "learned") if getattr(self, s) is not None]
        if len(stages) > 1:
            raise ValueError(f"a route has at most one of when, semantic, learned (got {', '.join(stages)})")
        if self.experiment is not None and self.experiment.success_source == "check" and self.escalate is None:
            raise ValueError("an experiment judged by `check` needs the route's `escalate:` checks")
        return self

    @property
    def stage(self) -> str:
        if self.when is not None:
            return "rules"
        if self.semantic is not None:
            return "semantic"
        if self.learned is not None:
            return "learned"
        return "default"


class Selection(_Strict):
    """Weights of `select: weighted`: each term is normalised to 0..1 across the candidates."""

    cost: float = Field(default=1.0, ge=0)
    latency: float = Field(default=0.3, ge=0)
    health: float = Field(default=1.0, ge=0)


class Timeouts(_Strict):
    first_token: float = Field(default=30.0, gt=0)
    idle: float = Field(default=30.0, gt=0)
    """Longest silence between two chunks of a stream."""
    total: float = Field(default=300.0, gt=0)


class Retries(_Strict):
    """Retries of the same model per failure class, before moving down the fallback chain."""

    rate_limited: int = Field(default=1, ge=0, le=5)
    server_error: int = Field(default=1, ge=0, le=5)
    timeout: int = Field(default=0, ge=0, le=5)
    connection: int = Field(default=1, ge=0, le=5)
    stream_cut: int = Field(default=0, ge=0, le=5)
    backoff_s: float = Field(default=0.5, ge=0, le=30)
    """First retry waits this long, doubling each time (a Retry-After header wins, capped at 60 s)."""


class Cooldown(_Strict):
    """Take a model out of rotation after repeated failures, or after a 429."""

    after_failures: int = Field(default=3, ge=1)
    seconds: float = Field(default=30.0, ge=0)


class BudgetLimit(_Strict):
    """Spend limits in US dollars, counted from history over local calendar days and months. Unpriced
    replies cannot be counted: the figures say how many were left out."""

    daily_usd: float | None = Field(default=None, gt=0)
    monthly_usd: float | None = Field(default=None, gt=0)


class Budget(BudgetLimit):
    """What may be spent, in all and per model. Past 80% of the profile's limit the router prefers cheaper
    models and steps down to cheaper tiers; past the limit it refuses, unless a free or local model can answer."""

    models: dict[str, BudgetLimit] = Field(default_factory=dict)
    """Limits of single models, by alias; each counts that model's spend under `scope`."""
    scope: Literal["profile", "all"] = "profile"
    """What counts against the limits: `profile`, conversations routed by a profile of this name (from any
    process); `all`, everything in this history database, whichever profile (one provider bill)."""
    step_down: bool = True
    """Near the profile's limit, answer from a cheaper tier: with k tiers cheaper than the route's (by the
    cheapest priced model's estimate for the prompt), one step down per 1/(k+1) of the last 20% spent, so
    with one cheaper tier from 90% on. False keeps each route's tier and only ranks cheaper models first."""

    @model_validator(mode="after")
    def _some_limit(self) -> Budget:
        limits = [self, *self.models.values()]
        if not any(limit.daily_usd or limit.monthly_usd for limit in limits):
            raise ValueError("a budget needs daily_usd or monthly_usd (for the profile or under models)")
        return self


class Embeddings(_Strict):
    model: str = "local"
    """`local` (all-MiniLM-L6-v2, offline, English), `local-multilingual` (multilingual-e5-small, offline,
    ~100 languages, slower; needs the `multilingual` extra) or any LiteLLM embedding model string."""
    non_english: Literal["multilingual", "same"] = "multilingual"
    """With `model: local`, semantic routes read a prompt that is confidently not English with
    `local-multilingual` when the `multilingual` extra is installed (about 3x slower per prompt); `same`
    reads every prompt with `model`. A learned route always reads the embedding it was tuned on."""
    key_env: str | None = None
    api_base: str | None = None


class Profile(_Strict):
    version: Literal[1] = 1
    name: str
    description: str = ""
    models: dict[str, ModelSpec]
    tiers: dict[str, tuple[str, ...]]
    """Named sets of candidate models. A member is a model alias or `tag:NAME` (every model with that tag)."""
    routes: tuple[Route, ...]
    """Tried in order; the first confident match wins. The last route has no condition: the default."""
    fallbacks: tuple[str, ...] = ()
    """Tried in order after the chosen tier's other candidates."""
    selection: Selection = Selection()
    retries: Retries = Retries()
    cooldown: Cooldown = Cooldown()
    timeouts: Timeouts = Timeouts()
    embeddings: Embeddings = Embeddings()
    expected_output_tokens: int = Field(default=300, gt=0)
    """Used to estimate a reply's cost and duration before it is made."""
    provenance: dict[str, str | float | int | None] = Field(default_factory=dict)
    """What `playground tune --history` based its selection weights and preferences on."""
    budget: Budget | None = None

    @model_validator(mode="after")
    def _references(self) -> Profile:
        known = ", ".join(self.models)
        for tier, members in self.tiers.items():
            for i, member in enumerate(members):
                if not member.startswith("tag:") and member not in self.models:
                    raise ReferenceProblem(f"unknown model {member!r} (models: {known})", "tiers", tier, i)
        tiers = ", ".join(self.tiers)
        seen: set[str] = set()
        experiments: set[str] = set()
        for i, route in enumerate(self.routes):
            if route.tier not in self.tiers:
                raise ReferenceProblem(f"unknown tier {route.tier!r} (tiers: {tiers})", "routes", i, "tier")
            if route.learned and route.learned.cheap_tier not in self.tiers:
                raise ReferenceProblem(f"unknown tier {route.learned.cheap_tier!r} (tiers: {tiers})",
                                       "routes", i, "learned", "cheap_tier")
            for j, alias in enumerate(route.prefer):
                if alias not in self.models:
                    raise ReferenceProblem(f"unknown model {alias!r} (models: {known})", "routes", i, "prefer", j)
            if route.escalate and (problem := unknown_step(route.escalate, set(self.tiers), set(self.models))):
                raise ReferenceProblem(problem[0], "routes", i, "escalate", *problem[1])
            if route.name in seen:
                raise ReferenceProblem(f"route name {route.name!r} is used twice", "routes", i, "name")
            seen.add(route.name)
            if route.experiment is not None:
                for j, arm in enumerate(route.experiment.variants):
                    if arm.model not in self.models:
                        raise ReferenceProblem(f"unknown model {arm.model!r} (models: {known})", "routes", i,
                                               "experiment", "variants", j)
                if route.experiment.name in experiments:
                    raise ReferenceProblem(f"experiment name {route.experiment.name!r} is used twice", "routes", i,
                                           "experiment", "name")
                experiments.add(route.experiment.name)
        for i, alias in enumerate(self.fallbacks):
            if alias not in self.models:
                raise ReferenceProblem(f"unknown model {alias!r} (models: {known})", "fallbacks", i)
            if alias in self.fallbacks[:i]:
                raise ReferenceProblem(f"{alias!r} is named twice: the chain would loop", "fallbacks", i)
        if not self.routes or self.routes[-1].stage not in ("default", "learned"):
            raise ReferenceProblem("the last route must have no condition (or be learned) so every prompt has "
                                   "a route", "routes", len(self.routes) - 1)
        return self

    @model_validator(mode="after")
    def _budgeted_models_exist(self) -> Profile:
        for alias in self.budget.models if self.budget else ():
            if alias not in self.models:
                raise ReferenceProblem(f"unknown model {alias!r} (models: {', '.join(self.models)})",
                                       "budget", "models", alias)
        return self

    def key_envs(self) -> set[str]:
        return {m.key_env for m in self.models.values() if m.key_env} | (
            {self.embeddings.key_env} if self.embeddings.key_env else set())

    @property
    def task_tags(self) -> frozenset[str]:
        """Every tag a rule routes on: a `#tag` prefix with one of these names steers the prompt."""
        found: set[str] = set()

        def walk(condition: Condition | None) -> None:
            if condition is None:
                return
            found.update(t.lower() for t in condition.tags or ())
            for part in (*(condition.all or ()), *(condition.any or ()), condition.not_):
                walk(part)

        for route in self.routes:
            walk(route.when)
        return frozenset(found)

    @property
    def experiments(self) -> dict[str, Route]:
        """Each experiment's route, by experiment name."""
        return {r.experiment.name: r for r in self.routes if r.experiment is not None}

    @property
    def semantic_routes(self) -> list[Route]:
        return [r for r in self.routes if r.semantic is not None]

    @property
    def uses_embeddings(self) -> bool:
        """Routing embeds prompts: semantic routes, or a learned route that weighs the prompt's embedding."""
        return bool(self.semantic_routes) or any(r.learned and r.learned.uses_embedding for r in self.routes)


def load_profile(path: Path) -> Profile:
    if (problem := missing_profile(path)) is not None:
        raise ProfileError(problem)
    document = load_yaml(path)
    if not isinstance(document.data, dict):
        raise ProfileError(f"{path}:1:1: a profile is a mapping with `name`, `models`, `tiers` and `routes`")
    data = dict(document.data)
    data.setdefault("name", path.stem)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_describe(exc, document)) from None


_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
}


def _type_step(part: str | int) -> bool:
    """Pydantic's error paths name union members and key checks ("str", "[key]", "Condition"): not places."""
    return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in ("str", "int", "float", "bool"))


def _describe(exc: ValidationError, document: YamlDocument) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    # Pydantic reports the alias it failed on ("not"), and adds the model name for some unions.
    loc = tuple(p for p in first["loc"] if not _type_step(p))
    problem = first.get("ctx", {}).get("error")
    if isinstance(problem, ReferenceProblem):
        loc = loc + problem.loc
    field = ".".join(str(p) for p in loc) or "profile"
    message = _FRIENDLY.get(first["type"], first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "missing":
        return f"{document.where(loc[:-1])}: {field}: {message}{more}"
    return f"{document.where(loc, at_key=first['type'] == 'extra_forbidden')}: {field}: {message}{more}"
