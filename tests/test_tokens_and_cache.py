"""Prompt tokens over real HTTP: the server's usage when sent (cached tokens priced at the cache rates),
else an estimate that counts the chat template and says it is one."""

from __future__ import annotations

import asyncio

import pytest

from playground.base import tokens
from playground.config.catalog import build_catalog, describe
from playground.config.prices import load_prices
from playground.config.profile import ModelSpec, Timeouts, load_profile
from playground.present.format import meta_line
from playground.providers.stream import AttemptStream

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def _attempt(make_profile, models: dict, alias: str):
    catalog = build_catalog(load_profile(make_profile(models)), env={})

    async def run():
        stream = AttemptStream(catalog[alias], MESSAGES, route="r", reason="test", hop=0, timeouts=Timeouts(),
                               secrets=[])
        async for _piece in stream:
            pass
        return stream.attempt, catalog[alias]

    return asyncio.run(run())


def test_openai_cached_tokens_are_priced_at_the_cache_rate(server, make_profile):
    server.script("gpt-4o", text="Paris", prompt_tokens=1000,
                  usage_extra={"prompt_tokens_details": {"cached_tokens": 800}})
    attempt, info = _attempt(make_profile, {"gpt4o": {"model": "openai/gpt-4o"}}, "gpt4o")
    assert info.cache_read_price is not None and info.cache_read_price < info.input_price  # from the price map
    assert (attempt.input_tokens, attempt.cached_input_tokens, attempt.output_tokens) == (1000, 800, 1)
    expected = 200 * info.input_price + 800 * info.cache_read_price + 1 * info.output_price
    assert attempt.cost_usd == pytest.approx(expected) and attempt.cost_usd < info.cost(1000, 1)
    assert "1000 in (800 cached) / 1 out" in meta_line(attempt)


def test_cache_reads_and_writes_reported_anthropic_style(server, make_profile):
    server.script("gpt-4o", text="Paris", prompt_tokens=1000,
                  usage_extra={"cache_read_input_tokens": 300, "cache_creation_input_tokens": 200})
    attempt, info = _attempt(make_profile, {"gpt4o": {"model": "openai/gpt-4o"}}, "gpt4o")
    assert (attempt.cached_input_tokens, attempt.cache_write_tokens) == (300, 200)
    # gpt-4o has no cache-write rate: those tokens are billed as ordinary input.
    expected = 700 * info.input_price + 300 * info.cache_read_price + info.output_price
    assert attempt.cost_usd == pytest.approx(expected)
    assert "(300 cached, 200 to cache)" in meta_line(attempt)


def test_cache_write_rate_from_the_price_map():
    info = describe("haiku", ModelSpec(model="anthropic/claude-haiku-4-5-20251001"), {}, load_prices())
    assert info.cache_write_price > info.input_price > info.cache_read_price
    assert info.cost(1000, 0, cache_read=0, cache_write=1000) == pytest.approx(1000 * info.cache_write_price)
    assert info.cost(1000, 0, cache_read=1000) == pytest.approx(1000 * info.cache_read_price)


def test_the_estimate_counts_the_chat_template(server, make_profile):
    server.script("smollm2-360m-instruct", text="Paris", send_usage=False)
    attempt, _ = _attempt(make_profile, {"smol": {"model": "openai/smollm2-360m-instruct"}}, "smol")
    assert attempt.tokens_estimated
    bare = tokens.count_text(MESSAGES[0]["content"])
    # SmolLM2's template adds its markers and a default system prompt: 30-odd tokens, not 8.
    assert attempt.input_tokens == tokens.count_messages(MESSAGES, tokens.SMOLLM) >= bare + 20
    assert attempt.input_tokens > tokens.count_messages(MESSAGES)


def test_the_servers_count_wins_over_the_estimate(server, make_profile):
    server.script("smollm2-360m-instruct", text="Paris", prompt_tokens=33)
    attempt, _ = _attempt(make_profile, {"smol": {"model": "openai/smollm2-360m-instruct"}}, "smol")
    assert (attempt.input_tokens, attempt.tokens_estimated) == (33, False)


@pytest.mark.parametrize(("model", "template"), [
    ("openai/gpt-4o", tokens.OPENAI), ("ollama/llama3.2", tokens.LLAMA3), ("openai/Qwen2.5-7B-Instruct", tokens.QWEN),
    ("ollama/mistral", tokens.MISTRAL), ("anthropic/claude-3-5-haiku", tokens.OPENAI)])
def test_templates_by_model_name(model, template):
    assert tokens.template_for(model) is template
