"""decide() on the bundled default profile and on small profiles, with catalogs built from a given env."""

from __future__ import annotations

import pytest

from playground.base.paths import resolve_profile
from playground.config import local_model
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.router import NoModelAvailable, RouteRequest, decide
from playground.router.rules import has_code
from tests.support.helpers import write_profile

KEYS = {"OPENAI_API_KEY": "sk-test-openai-000000", "GEMINI_API_KEY": "AIza-test-gemini-0000000000000"}
CODE_PROMPT = "Why does this fail?\n```python\nprint(undefined_name)\n```"


@pytest.fixture(scope="module")
def default():
    return load_profile(resolve_profile("default"))


def request(prompt: str, tokens: int = 5, conversation: int | None = None) -> RouteRequest:
    return RouteRequest(prompt, tokens, conversation)


SIZES = {
    "tiny": {"price": {"input_per_mtok": 0.1, "output_per_mtok": 0.2}},
    "mid": {"price": {"input_per_mtok": 1, "output_per_mtok": 2}},
    "big": {"price": {"input_per_mtok": 5, "output_per_mtok": 15}},
}


# The default profile ------------------------------------------------------------------------------

def test_without_keys_everything_goes_to_the_embedded_model(default):
    catalog = build_catalog(default, env={})
    assert [m.alias for m in catalog.available()] == (["smollm2"] if local_model.runtime_problem() is None else [])
    if local_model.runtime_problem() is not None:
        with pytest.raises(NoModelAvailable, match="smollm2: unavailable: local"):
            decide(request("hello"), default, catalog)
        return
    decision = decide(request("hello"), default, catalog)
    assert (decision.route, decision.tier, decision.model, decision.fallbacks) == ("simple", "cheap", "smollm2", ())
    chosen = decision.candidates[0]
    assert chosen.alias == "smollm2" and chosen.note == "fallback (no cheap model available)"
    assert decision.reason == "simple (default route) → fallback (no cheap model available)"
    # Every cheap-tier model is listed as dropped, with the variable it needs.
    dropped = {c.alias: c.note for c in decision.candidates if c.dropped}
    assert dropped["gpt-4o-mini"] == "unavailable: OPENAI_API_KEY is not set"
    assert dropped["claude-haiku"] == "unavailable: ANTHROPIC_API_KEY is not set"
    assert set(dropped) == set(default.tiers["cheap"])


def test_with_two_keys_a_simple_prompt_goes_to_the_cheapest(default):
    catalog = build_catalog(default, env=KEYS)
    available = {m.alias for m in catalog.available()}
    assert {"gpt-4o-mini", "gpt-4.1", "gemini-flash", "gemini-pro"} <= available
    assert not {"claude-haiku", "mistral-small", "deepseek-chat", "groq-gpt-oss-20b"} & available

    decision = decide(request("hello", 1), default, catalog)
    tokens, output = 1, default.expected_output_tokens
    cheap_available = [m for m in catalog.members(default.tiers["cheap"]) if m.available]
    cheapest = min(cheap_available, key=lambda m: m.cost(tokens, output))
    assert {m.alias for m in cheap_available} == {"gpt-4o-mini", "gemini-flash"}
    assert catalog[cheapest.alias].cost(tokens, output) < max(m.cost(tokens, output) for m in cheap_available)
    assert (decision.route, decision.tier, decision.model) == ("simple", "cheap", cheapest.alias)
    assert decision.candidates[0].estimated_cost == pytest.approx(cheapest.cost(tokens, output))
    assert decision.candidates[0].note == "cheap tier, best score"
    # The other cheap model, then the profile's fallbacks not tried yet; unavailable models never.
    other = ({"gpt-4o-mini", "gemini-flash"} - {cheapest.alias}).pop()
    assert decision.fallbacks == (other, "smollm2") if local_model.runtime_problem() is None else (other,)


def test_code_goes_to_the_strongest_available_model(default):
    catalog = build_catalog(default, env=KEYS)
    decision = decide(request(CODE_PROMPT, 20), default, catalog)
    first_available = next(a for a in default.tiers["strong"] if catalog[a].available)
    assert first_available == "gpt-4.1"  # claude-sonnet leads the tier, but there is no Anthropic key
    assert (decision.route, decision.stage, decision.tier, decision.model) == ("code", "rules", "strong", "gpt-4.1")
    assert decision.match == "code in prompt"
    assert decision.fallbacks[:3] == ("gemini-pro", "gpt-4o-mini", "gemini-flash")
    sonnet = next(c for c in decision.candidates if c.alias == "claude-sonnet")
    assert sonnet.dropped and sonnet.note == "unavailable: ANTHROPIC_API_KEY is not set"


def test_a_code_tag_routes_like_code(default):
    decision = decide(RouteRequest("fix it please", 3, 3, frozenset({"code"})), default,
                      build_catalog(default, env=KEYS))
    assert (decision.route, decision.model, decision.match) == ("code", "gpt-4.1", "tag #code")


def test_long_conversation_takes_the_long_context_route(default):
    catalog = build_catalog(default, env=KEYS)
    assert decide(request("summarise", 3, 1999), default, catalog).route == "simple"
    decision = decide(request("summarise", 3, 2000), default, catalog)
    assert (decision.route, decision.model) == ("long-context", "gpt-4.1")
    assert decision.match == "conversation 2000 tokens ≥ 2000"
    assert decision.skipped == ("code: rule did not match", "reasoning: rule did not match")


# Small profiles ---------------------------------------------------------------------------------------

def test_min_prompt_tokens_sends_long_prompts_to_the_big_tier(tmp_path):
    profile = load_profile(write_profile(
        tmp_path, None, SIZES, defaults=False, name="t",
        tiers={"small": ["tiny", "mid"], "large": ["big"]},
        routes=[{"name": "long", "when": {"min_prompt_tokens": 500}, "tier": "large"},
                {"name": "rest", "tier": "small", "select": "cheapest"}]))
    catalog = build_catalog(profile, env={})
    short = decide(request("x", 499, 499), profile, catalog)
    assert (short.route, short.model, short.fallbacks) == ("rest", "tiny", ("mid",))
    long = decide(request("x", 500, 500), profile, catalog)
    assert (long.route, long.model, long.match) == ("long", "big", "prompt 500 tokens ≥ 500")
    # The prompt alone counts, not the conversation around it.
    assert decide(request("x", 10, 5000), profile, catalog).route == "rest"


def test_a_model_whose_window_is_too_small_is_skipped(tmp_path):
    profile = load_profile(write_profile(
        tmp_path, None, {"tiny": SIZES["tiny"] | {"context_window": 10}, "mid": SIZES["mid"]}, defaults=False,
        name="t", tiers={"small": ["tiny", "mid"]}, routes=[{"name": "rest", "tier": "small", "select": "cheapest"}]))
    catalog = build_catalog(profile, env={})
    assert decide(request("hi", 10, 10), profile, catalog).model == "tiny"  # exactly fits
    decision = decide(request("hi", 5, 11), profile, catalog)
    assert decision.model == "mid" and decision.fallbacks == ()
    tiny = next(c for c in decision.candidates if c.alias == "tiny")
    assert tiny.dropped and tiny.available and tiny.note == "does not fit: 11 tokens > 10 window"


def test_nothing_available_raises_with_every_reason(tmp_path):
    profile = load_profile(write_profile(
        tmp_path, None, {"keyed": {"key_env": "ROUTER_TEST_KEY"}, "small": {"context_window": 4}}, defaults=False,
        name="t", tiers={"t": ["keyed"]}, routes=[{"name": "only", "tier": "t"}], fallbacks=["small"]))
    with pytest.raises(NoModelAvailable) as caught:
        decide(request("hello there", 8, 8), profile, build_catalog(profile, env={}))
    assert str(caught.value) == ("no model can take this request (only route, t tier): "
                                 "keyed: unavailable: ROUTER_TEST_KEY is not set; "
                                 "small: does not fit: 8 tokens > 4 window")
    # An empty variable is no key either.
    with pytest.raises(NoModelAvailable):
        decide(request("hello there", 8, 8), profile, build_catalog(profile, env={"ROUTER_TEST_KEY": ""}))
    assert decide(request("hi", 1, 1), profile, build_catalog(profile, env={"ROUTER_TEST_KEY": "k"})).model == "keyed"


def test_a_forced_model_skips_routing(default):
    catalog = build_catalog(default, env=KEYS)
    decision = decide(request(CODE_PROMPT, 20), default, catalog, forced="gemini-flash")
    assert (decision.route, decision.stage, decision.model, decision.fallbacks) == ("manual", "manual",
                                                                                    "gemini-flash", ())
    assert decision.candidates[0].note == "chosen by you"
    assert decision.reason == "manual → chosen by you"
    with pytest.raises(NoModelAvailable, match="claude-sonnet cannot take this request: unavailable: "
                                               "ANTHROPIC_API_KEY is not set"):
        decide(request("hi"), default, catalog, forced="claude-sonnet")
    with pytest.raises(NoModelAvailable, match="does not fit"):
        decide(request("hi", 5, 200_000), default, catalog, forced="gpt-4o-mini")


def test_the_decision_serialises_for_the_store(default):
    decision = decide(request("hello", 1), default, build_catalog(default, env=KEYS))
    data = decision.to_dict()
    assert data["model"] == decision.model and data["reason"] == decision.reason
    assert {c["alias"] for c in data["candidates"]} >= {"gpt-4o-mini", "gemini-flash", "claude-haiku"}


# Code detection -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", [
    "```\nanything\n```",
    "~~~\nfenced with tildes\n~~~",
    "Explain ``` this",
    "def add(a, b):\n    return a + b\n}",
    "import os\nprint(os.getcwd())",
    '#include <stdio.h>\nint main(void) {\n    printf("hi\\n");\n}',
    "SELECT name FROM users;\nUPDATE users SET x = 1;",
    "const x = 1;\nlet y = f(x);",
    "fn main() {\n}",
])
def test_has_code_positives(prompt):
    assert has_code(prompt)


@pytest.mark.parametrize("prompt", [
    "",
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "def is a keyword in Python, right?",  # one code-like line is not enough
    "Please summarise (briefly) the following.\nThanks (really).",
    "I import goods from Italy.\nThey are expensive.",
    "The class starts at 9.\nBring a pencil.",
])
def test_has_code_negatives(prompt):
    assert not has_code(prompt)
