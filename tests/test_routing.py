"""The router's stages, selection and health, on profiles built in the test (no provider calls)."""

from __future__ import annotations

import random

import pytest

from playground.base.records import Attempt, Failure
from playground.config.catalog import build_catalog
from playground.config.profile import Condition, Cooldown, Profile, load_profile
from playground.router import NoModelAvailable, RouteRequest, decide
from playground.router.decide import SemanticScores
from playground.router.health import HealthTracker
from playground.router.rules import PromptFacts, find_keyword, has_code, matches, split_tags
from tests.support.helpers import write_profile

MODELS = {
    "cheap-a": {"model": "openai/a", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
    "cheap-b": {"model": "openai/b", "price": {"input_per_mtok": 0.5, "output_per_mtok": 0.5}},
    "strong": {"model": "openai/s", "price": {"input_per_mtok": 10, "output_per_mtok": 30}, "context_window": 1000},
    "keyed": {"model": "openai/k", "key_env": "TEST_ROUTER_KEY",
              "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.1}},
}


def profile_from(tmp_path, body: str, models: dict = MODELS) -> Profile:
    """These models and the sections in `body` (YAML), nothing else."""
    return load_profile(write_profile(tmp_path, None, models, "p.yaml", defaults=False, name="t", body=body))


def facts(prompt: str, tokens: int = 10, conversation: int = 10, tags=()) -> PromptFacts:
    return PromptFacts(prompt, tokens, conversation, frozenset(tags))


def cond(**kwargs) -> Condition:
    return Condition.model_validate(kwargs)


# Rules ------------------------------------------------------------------------------------------

def test_code_detection():
    assert has_code("```python\nprint(1)\n```")
    assert has_code("def f(x):\n    return g(x)\n}")
    assert not has_code("What is the capital of France?")
    assert not has_code("I like functions and classes in general.")


def test_tags_only_known_ones_are_taken():
    assert split_tags("#code #fast fix this", {"code", "fast"}) == (frozenset({"code", "fast"}), "fix this")
    assert split_tags("#include <stdio.h>\nint main", {"code"}) == (frozenset(), "#include <stdio.h>\nint main")


@pytest.mark.parametrize("condition, prompt, expected", [
    ({"keywords": ["step by step"]}, "Solve it Step by Step please", True),
    ({"keywords": ["prove"]}, "improve this", False),  # whole words only
    ({"regex": r"\bSELECT\b"}, "SELECT * FROM t", True),
    ({"regex": r"^\d+$"}, "abc", False),
    ({"min_prompt_tokens": 10}, "x", True),
    ({"max_prompt_tokens": 9}, "x", False),
    ({"any": [{"code": True}, {"keywords": ["sql"]}]}, "write sql", True),
    ({"all": [{"code": False}, {"keywords": ["sql"]}]}, "write sql", True),
    ({"all": [{"code": True}, {"keywords": ["sql"]}]}, "write sql", False),
    ({"not": {"keywords": ["sql"]}}, "write sql", False),
    ({"language": ["fr"]}, "Bonjour, pouvez-vous m'aider à écrire une lettre ?", True),
    ({"language": ["fr"]}, "Hello, can you help me write a letter?", False),
])
def test_conditions(condition, prompt, expected):
    assert matches(cond(**condition), facts(prompt))[0] is expected


def test_keywords_match_as_the_whole_word_regex_does():
    """find_keyword (str.find, fast on 16k-token prompts) against `\b(?:k1|k2)\b` case-insensitive."""
    import re

    rng = random.Random(7)
    keywords = [("prove",), ("step by step", "derive"), ("c++",), ("-x", "x-"), ("a_b", "ab"), ("the", "then")]
    alphabet = ["prove", "improve", "proven", "Step by Step", "derive", "c++", "c++x", "-x", "x-", "a_b", "ab",
                "the", "then", "THEN", " ", ".", "_", "\n", "é"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) + rng.choice(["", " ", ",", "_"]) for _ in range(rng.randint(0, 6)))
        words = rng.choice(keywords)
        found = re.search(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", text, re.IGNORECASE)
        assert find_keyword(text.lower(), words) == (found.group(0).lower() if found else None), (text, words)


def test_reasons_name_what_held():
    ok, why = matches(cond(tags=["code"], min_conversation_tokens=5), facts("x", conversation=50, tags={"code"}))
    assert ok and why == ["tag #code", "conversation 50 tokens ≥ 5"]


def test_language_is_only_detected_when_a_rule_asks():
    f = facts("Hola")
    matches(cond(keywords=["x"]), f)
    assert "language" not in f.__dict__


# Stages -----------------------------------------------------------------------------------------

ROUTES = """
tiers:
  cheap: [cheap-a, cheap-b]
  strong: [strong]
routes:
  - {name: code, when: {code: true}, tier: strong}
  - {name: big, when: {min_conversation_tokens: 500}, tier: strong}
  - {name: rest, tier: cheap, select: cheapest}
fallbacks: [cheap-a]
"""


def test_first_matching_route_wins_and_skips_are_explained(tmp_path):
    profile = profile_from(tmp_path, ROUTES)
    catalog = build_catalog(profile, env={})
    decision = decide(RouteRequest("```x```", 5, 5), profile, catalog)
    assert (decision.route, decision.stage, decision.model) == ("code", "rules", "strong")
    decision = decide(RouteRequest("hello", 5, 600), profile, catalog)
    assert decision.route == "big" and decision.skipped == ("code: rule did not match",)
    decision = decide(RouteRequest("hello", 5, 5), profile, catalog)
    assert (decision.route, decision.model, decision.fallbacks) == ("rest", "cheap-b", ("cheap-a",))


def test_context_window_drops_a_model_and_falls_back(tmp_path):
    profile = profile_from(tmp_path, ROUTES)
    decision = decide(RouteRequest("```x```", 5, 1200), profile, build_catalog(profile, env={}))
    assert decision.model == "cheap-a"  # strong's 1,000-token window is too small
    strong = next(c for c in decision.candidates if c.alias == "strong")
    assert strong.dropped and strong.note == "does not fit: 1,200 tokens > 1,000 window"


def test_nothing_available_is_refused_with_each_reason(tmp_path):
    profile = profile_from(tmp_path, """
        tiers: {only: [keyed]}
        routes: [{name: r, tier: only}]
        """)
    with pytest.raises(NoModelAvailable, match="keyed: unavailable: TEST_ROUTER_KEY is not set"):
        decide(RouteRequest("hi", 1, 1), profile, build_catalog(profile, env={}))
    decision = decide(RouteRequest("hi", 1, 1), profile, build_catalog(profile, env={"TEST_ROUTER_KEY": "k"}))
    assert decision.model == "keyed"


class FixedSemantic:
    """A real matcher with canned similarities: the router's contract is `match(text)`, the thresholds in
    force and the margin that is enough on its own."""

    def __init__(self, answers: dict[str, dict[str, float]], thresholds: dict[str, float] | None = None,
                 margin: float = 0.5, generic: dict[str, float] | None = None) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self._thresholds = thresholds or {"translate": 0.6, "reason": 0.6}
        self._margin = margin
        self.generic = generic or {}

    def match(self, text):
        self.asked.append(text)
        return SemanticScores(self.answers.get(text, {"translate": 0.1, "reason": 0.2}), self.generic.get(text))

    def thresholds(self):
        return self._thresholds

    def margin(self):
        return self._margin


SEMANTIC = """
tiers: {cheap: [cheap-a], strong: [strong]}
routes:
  - {name: code, when: {code: true}, tier: strong}
  - {name: translate, semantic: {utterances: ["translate this"], threshold: 0.6}, tier: cheap}
  - {name: reason, semantic: {utterances: ["prove that"], threshold: 0.6}, tier: strong}
  - {name: rest, tier: cheap}
"""


def test_semantic_routes_compete_as_a_group(tmp_path):
    profile = profile_from(tmp_path, SEMANTIC)
    catalog = build_catalog(profile, env={})
    # Both clear their 0.6 threshold: the more similar one wins.
    matcher = FixedSemantic({"show that n is prime": {"translate": 0.65, "reason": 0.71}})
    decision = decide(RouteRequest("show that n is prime", 5, 5), profile, catalog, semantic=matcher)
    assert (decision.route, decision.stage, decision.model) == ("reason", "semantic", "strong")
    assert decision.score == 0.71 and decision.match == "similarity 0.71 ≥ 0.60, 0.06 ahead of translate"
    assert (decision.runner_up, round(decision.margin, 2)) == ("translate", 0.06)
    assert matcher.asked == ["show that n is prime"]  # asked once for both semantic routes

    decision = decide(RouteRequest("hi", 2, 2), profile, catalog, semantic=matcher)
    assert decision.route == "rest"
    assert "semantic: no route similar enough (best reason 0.20 < 0.60, 0.10 ahead of translate)" in decision.skipped
    assert decision.similarities == {"translate": 0.1, "reason": 0.2}


def test_a_lower_threshold_never_lets_a_less_similar_route_win(tmp_path):
    profile = profile_from(tmp_path, SEMANTIC)
    catalog = build_catalog(profile, env={})
    # reason clears its low threshold, translate (more similar) misses its high one: the old rule chose reason.
    matcher = FixedSemantic({"p": {"translate": 0.55, "reason": 0.5}}, {"translate": 0.7, "reason": 0.3})
    decision = decide(RouteRequest("p", 1, 1), profile, catalog, semantic=matcher)
    assert decision.route == "rest"


def test_a_clear_lead_over_the_runner_up_is_enough(tmp_path):
    profile = profile_from(tmp_path, SEMANTIC)
    catalog = build_catalog(profile, env={})
    matcher = FixedSemantic({"p": {"translate": 0.45, "reason": 0.1}}, margin=0.3)
    decision = decide(RouteRequest("p", 1, 1), profile, catalog, semantic=matcher)
    assert (decision.route, decision.match) == ("translate", "similarity 0.45, 0.35 ahead of reason (≥ 0.30)")


def test_semantic_routes_are_skipped_until_the_index_is_built(tmp_path):
    profile = profile_from(tmp_path, SEMANTIC)
    decision = decide(RouteRequest("translate hi", 2, 2), profile, build_catalog(profile, env={}))
    assert decision.route == "rest"
    assert "translate: semantic index not loaded yet" in decision.skipped


def test_learned_route_sends_easy_prompts_to_the_cheap_tier(tmp_path):
    profile = profile_from(tmp_path, """
        tiers: {cheap: [cheap-a], strong: [strong]}
        routes:
          - name: learned
            tier: strong
            learned: {cheap_tier: cheap, threshold: 0.5,
                      cheap: {weights: {reasoning_words: -3.0, log_tokens: -0.5}, bias: 2.0}}
        """)
    catalog = build_catalog(profile, env={})
    easy = decide(RouteRequest("hi there", 2, 2), profile, catalog)
    hard = decide(RouteRequest("prove and derive why, step by step", 9, 9), profile, catalog)
    assert (easy.stage, easy.tier, easy.model) == ("learned", "cheap", "cheap-a")
    assert easy.score > 0.5 and easy.threshold == 0.5
    assert (hard.tier, hard.model) == ("strong", "strong") and hard.score < 0.5


# Selection and health ---------------------------------------------------------------------------

def attempt(alias: str, *, failure: Failure | None = None, ttft: float = 0.2, latency: float = 1.2,
            output: int = 100, retry_after: float | None = None) -> Attempt:
    return Attempt(alias, f"openai/{alias}", "r", "", 0, 0.0, ttft_s=ttft, latency_s=latency,
                   output_tokens=output, failure=failure, retry_after_s=retry_after)


def test_fastest_uses_observed_latency(tmp_path):
    profile = profile_from(tmp_path, """
        tiers: {t: [cheap-a, cheap-b]}
        routes: [{name: r, tier: t, select: fastest}]
        """)
    tracker = HealthTracker(profile.cooldown, clock=lambda: 100.0)
    tracker.record(attempt("cheap-a", ttft=0.1, latency=1.1, output=300))  # 300 tok/s
    tracker.record(attempt("cheap-b", ttft=0.5, latency=3.5, output=300))  # 100 tok/s
    decision = decide(RouteRequest("hi", 1, 1), profile, build_catalog(profile, env={}),
                      health=tracker.snapshot(), now=100.0)
    assert decision.model == "cheap-a"
    chosen = decision.candidates[0]
    assert chosen.expected_latency_s == pytest.approx(0.1 + 300 / 300)


def test_weighted_score_trades_cost_against_errors(tmp_path):
    profile = profile_from(tmp_path, """
        tiers: {t: [cheap-a, cheap-b]}
        routes: [{name: r, tier: t, select: weighted}]
        selection: {cost: 1.0, latency: 0.0, health: 2.0}
        """)
    catalog = build_catalog(profile, env={})
    assert decide(RouteRequest("hi", 1, 1), profile, catalog).model == "cheap-b"  # half the price
    tracker = HealthTracker(profile.cooldown)
    tracker.record(attempt("cheap-b", failure=Failure.SERVER_ERROR))
    tracker.record(attempt("cheap-a"))
    decision = decide(RouteRequest("hi", 1, 1), profile, catalog, health=tracker.snapshot())
    # cheap-b: 0.5 (cost) + 2 × 1.0 (errors) = 2.5; cheap-a: 1.0 + 0 = 1.0
    assert decision.model == "cheap-a"
    assert [round(c.score, 2) for c in decision.candidates] == [1.0, 2.5]


def test_balance_shares_traffic_by_weight(tmp_path):
    profile = profile_from(tmp_path, """
        tiers: {t: [cheap-a, cheap-b]}
        routes: [{name: r, tier: t, select: balance}]
        """, models=MODELS | {"cheap-a": MODELS["cheap-a"] | {"weight": 3}})
    catalog = build_catalog(profile, env={})
    rng = random.Random(7)
    picks = [decide(RouteRequest("hi", 1, 1), profile, catalog, rng=rng).model for _ in range(400)]
    assert 0.68 < picks.count("cheap-a") / 400 < 0.82  # 3:1 weights → 75%


def test_rate_limit_cools_a_model_down_for_retry_after():
    now = [0.0]
    tracker = HealthTracker(Cooldown(after_failures=3, seconds=30), clock=lambda: now[0])
    tracker.record(attempt("m", failure=Failure.RATE_LIMITED, retry_after=5))
    assert tracker.snapshot()["m"].cooling(now[0]) == 5
    now[0] = 5.1
    assert tracker.snapshot()["m"].cooling(now[0]) == 0


def test_repeated_failures_cool_down_and_success_clears_it():
    tracker = HealthTracker(Cooldown(after_failures=2, seconds=30), clock=lambda: 10.0)
    tracker.record(attempt("m", failure=Failure.TIMEOUT))
    assert tracker.snapshot()["m"].cooling(10.0) == 0
    tracker.record(attempt("m", failure=Failure.TIMEOUT))
    health = tracker.snapshot()["m"]
    assert health.cooling(10.0) == 30 and health.cooldown_reason == "2 failures in a row"
    tracker.record(attempt("m"))
    assert tracker.snapshot()["m"].cooling(10.0) == 0


def test_cancelled_attempts_do_not_count_against_a_model():
    tracker = HealthTracker(Cooldown(after_failures=1, seconds=30), clock=lambda: 0.0)
    tracker.record(attempt("m", failure=Failure.CANCELLED))
    assert "m" not in tracker.snapshot()


def test_cooling_model_is_dropped_with_its_reason(tmp_path):
    profile = profile_from(tmp_path, ROUTES)
    tracker = HealthTracker(profile.cooldown, clock=lambda: 50.0)
    tracker.record(attempt("cheap-b", failure=Failure.RATE_LIMITED, retry_after=20))
    decision = decide(RouteRequest("hi", 1, 1), profile, build_catalog(profile, env={}),
                      health=tracker.snapshot(), now=50.0)
    assert decision.model == "cheap-a"
    cooling = next(c for c in decision.candidates if c.alias == "cheap-b")
    assert cooling.dropped and cooling.note.startswith("cooling down 20 s more: rate limited (429)")


def test_a_prompt_more_like_generic_text_than_any_route_falls_through(tmp_path):
    profile = profile_from(tmp_path, SEMANTIC)
    catalog = build_catalog(profile, env={})
    matcher = FixedSemantic({"p": {"translate": 0.65, "reason": 0.1}, "q": {"translate": 0.65, "reason": 0.1}},
                            margin=0.1, generic={"p": 0.8, "q": 0.7})
    decision = decide(RouteRequest("p", 1, 1), profile, catalog, semantic=matcher)
    assert decision.route == "rest"
    assert "semantic: more like generic text (0.80) than like any route (best translate 0.65)" in decision.skipped
    # Less than the margin closer to generic text: the route still wins.
    assert decide(RouteRequest("q", 1, 1), profile, catalog, semantic=matcher).route == "translate"


def test_the_matchers_fitted_generic_cut_replaces_the_margin(tmp_path):
    profile = profile_from(tmp_path, SEMANTIC)
    catalog = build_catalog(profile, env={})

    class WithCut(FixedSemantic):
        def match(self, text):
            return SemanticScores(self.answers[text], self.generic[text], generic_cut=0.2)

    matcher = WithCut({"p": {"translate": 0.65, "reason": 0.1}, "q": {"translate": 0.65, "reason": 0.1}},
                      margin=0.1, generic={"p": 0.8, "q": 0.9})
    assert decide(RouteRequest("p", 1, 1), profile, catalog, semantic=matcher).route == "translate"
    decision = decide(RouteRequest("q", 1, 1), profile, catalog, semantic=matcher)
    assert decision.route == "rest"
    assert "semantic: more like generic text (0.90) than like any route (best translate 0.65)" in decision.skipped
