"""The learned route weighing the prompt's sentence embedding: tune learns it, the profile carries it, decide()
applies it to the embedding the semantic stage computes, and it generalises where hashed words cannot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground.base.errors import SourceError
from playground.base.tokens import count_text
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.policy.export import to_profile_yaml
from playground.policy.replay import load_replay
from playground.policy.tune import tune
from playground.router import RouteRequest, decide
from playground.router.embeddings import MINILM_ID, EmbeddingCache, EmbeddingError, MiniLMEncoder
from playground.router.features import cheap_score
from playground.router.rules import PromptFacts
from playground.router.semantic import build_index, prompt_vectors
from tests.test_evaluation import write_profile

# The weak model fails on mathematics and succeeds on small talk. Training and unseen prompts share no
# topic word, so only what the prompts mean can tell the two apart.
HARD = ["Prove that the square root of two is irrational.", "Integrate x squared times sine of x.",
        "Find all prime numbers p such that p plus two is also prime and p is below fifty.",
        "Compute the eigenvalues of a three by three rotation matrix.",
        "Show that every bounded monotone sequence converges.",
        "Solve the differential equation y double prime plus y equals zero.",
        "What is the derivative of the natural logarithm of cosine?",
        "Determine the limit of n times the sine of one over n.",
        "How many subsets of a ten element set have an even size?",
        "Factor the polynomial x to the fourth minus sixteen."]
EASY = ["Hi there, how was your weekend?", "Tell me a fun fact about cats.", "Good morning! Any plans for today?",
        "What is your favourite colour?", "Thanks so much, that was lovely.", "Say hello to my friend Sam.",
        "I just got back from the beach, it was sunny.", "Do you like pizza or pasta more?",
        "Wish me luck on my trip tomorrow!", "Haha that is hilarious, tell me another joke."]
UNSEEN_HARD = ["Evaluate ∫ e^(-t) dt from zero to infinity.", "Residue at i for 1/(z²+1)?"]
UNSEEN_EASY = ["Hey buddy, long time no see, my treat next coffee!", "Lol my dog just sneezed, so cute!"]


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder()


def _data(path):
    rows = [(text, 1, 0) for text in HARD] * 6 + [(text, 1, 1) for text in EASY] * 6
    with path.open("w") as f:
        for i, (prompt, strong, weak) in enumerate(rows):
            f.write(json.dumps({"id": f"q{i}", "category": "x", "prompt": prompt,
                                "outcomes": {"S": {"score": strong, "cost_usd": 0.10},
                                             "W": {"score": weak, "cost_usd": 0.01}}}) + "\n")
    return load_replay(path)


def _decide(profile, index, prompt: str):
    n = count_text(prompt)
    return decide(RouteRequest(prompt, n, n + 7), profile, build_catalog(profile, env={}), semantic=index, now=0.0)


def _separates(profile, index) -> bool:
    """Every unseen mathematics prompt scores less cheap-enough than every unseen small-talk prompt."""
    hard = [_decide(profile, index, p).score for p in UNSEEN_HARD]
    easy = [_decide(profile, index, p).score for p in UNSEEN_EASY]
    return max(hard) < min(easy)


def test_embedding_features_rank_unseen_prompts_that_hashed_words_cannot(tmp_path, encoder):
    items = _data(tmp_path / "d.jsonl")
    profile = write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]")
    cache = EmbeddingCache(tmp_path / "e.db")
    words, _ = tune(profile, items, folds=3, encoder=None)
    tuned, report = tune(profile, items, folds=3, encoder=encoder, cache=cache)
    spec = tuned.routes[-1].learned
    assert spec.embedding_model == MINILM_ID and len(spec.cheap.embedding_weights) == 384
    assert report.cv_quality >= 0.95 and report.cost_saved_at_target > 0.3

    # Through the YAML file, as the app loads it, and routed by decide() with the index built for the profile.
    saved = tmp_path / "tuned.yaml"
    saved.write_text(to_profile_yaml(tuned))
    reloaded = load_profile(saved)
    assert reloaded == tuned
    index = build_index(reloaded, cache)
    assert index is not None and not index.routes  # no semantic routes: only the prompt's embedding is wanted
    assert _separates(reloaded, index)
    assert _decide(reloaded, index, UNSEEN_HARD[0]).model == "S"
    # Hashed words (and the named features) alone have not seen these words: they cannot tell them apart.
    assert not _separates(words, None)


def test_serving_reads_the_embedding_tune_trained_on(tmp_path, encoder):
    """The vector decide() weighs is the one tune learned from, for short and long (two-view) prompts."""
    items = _data(tmp_path / "d.jsonl")
    tuned, _ = tune(write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]"), items, folds=3,
                    encoder=encoder)
    index = build_index(tuned, EmbeddingCache(tmp_path / "e.db"))
    long = "Minutes of the meeting, nothing asked here.\n" * 60 + "\n\nProve that there are infinitely many primes."
    trained = prompt_vectors(encoder, [HARD[0], long])
    for prompt, vector in zip([HARD[0], long], trained):
        served = index.embed(prompt)
        assert np.allclose(served, vector, atol=1e-4)
        spec = tuned.routes[-1].learned
        n = count_text(prompt)
        decision = decide(RouteRequest(prompt, n, n + 7), tuned, build_catalog(tuned, env={}), semantic=index,
                          now=0.0)
        assert decision.score == pytest.approx(cheap_score(spec, PromptFacts(prompt, n, n + 7), None, vector.tolist())
                                               if spec.cost_scale is None else decision.score, abs=1e-6)


def test_without_the_embedding_the_learned_route_keeps_its_own_tier(tmp_path, encoder):
    items = _data(tmp_path / "d.jsonl")
    tuned, _ = tune(write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]"), items, folds=3,
                    encoder=encoder)
    n = count_text(EASY[0])
    decision = decide(RouteRequest(EASY[0], n, n + 7), tuned, build_catalog(tuned, env={}), now=0.0)
    assert decision.model == "S" and "embedding not loaded" in decision.match


def test_profile_refuses_embedding_weights_without_their_encoder(tmp_path):
    base = """
routes:
  - name: all
    tier: strong
    learned: {cheap_tier: weak, cheap: {bias: 0, embedding_weights: [0.1, 0.2]}%s}
"""
    with pytest.raises(SourceError, match="embedding_model"):
        write_profile(tmp_path / "a.yaml", base % "")
    with pytest.raises(SourceError, match="differ in length"):
        write_profile(tmp_path / "b.yaml", base % ", strong: {embedding_weights: [0.1]}, embedding_model: m")
    profile = write_profile(tmp_path / "c.yaml", base % ", embedding_model: some-other-encoder")
    with pytest.raises(EmbeddingError, match="learned on some-other-encoder"):
        build_index(profile, EmbeddingCache(tmp_path / "e.db"))


def test_cli_tune_learns_on_embeddings_when_asked(tmp_path):
    import os
    import subprocess
    import sys

    _data(tmp_path / "d.jsonl")
    write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]")
    env = os.environ | {"PLAYGROUND_HOME": str(tmp_path / "home")}
    shown = []
    for flag, expected in ((["--embedding"], MINILM_ID), ([], None)):
        result = subprocess.run([sys.executable, "-m", "playground", "tune", str(tmp_path / "p.yaml"), "--data",
                                 str(tmp_path / "d.jsonl"), "--folds", "3", *flag, "-o", str(tmp_path / "t.yaml")],
                                capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, result.stderr
        spec = load_profile(tmp_path / "t.yaml").routes[-1].learned
        assert spec.embedding_model == expected and bool(spec.cheap.embedding_weights) == (expected is not None)
        shown.append("embedding distinct prompts 20/20" in result.stderr)
    assert shown == [True, False]
