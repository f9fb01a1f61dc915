"""The offline embedding model, the embedding cache, and semantic routing accuracy on labelled intents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from playground.base.paths import resolve_profile
from playground.base.tokens import count_text
from playground.config.catalog import build_catalog
from playground.config.profile import SemanticSpec, load_profile
from playground.router import RouteRequest, decide
from playground.router.embeddings import EmbeddingCache, EmbeddingError, MiniLMEncoder, minilm_path
from playground.router.semantic import SemanticIndex, build_index, out_of_domain

INTENTS = Path(__file__).parent.parent / "benchmarks" / "data" / "intents.jsonl"
KEYS = {"OPENAI_API_KEY": "sk-test", "GEMINI_API_KEY": "test", "ANTHROPIC_API_KEY": "test"}
"""Routing only, no call: keys make every tier usable whether or not the local model runs on this CPU."""


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder()


def test_embeddings_are_normalised_and_paraphrases_are_close(encoder):
    vectors = encoder.encode(["How do I reverse a list in Python?", "What's the way to invert a Python list?",
                              "The weather is lovely today"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > 0.6 and unrelated < 0.2


def test_a_long_text_keeps_its_closing_instruction(encoder):
    material = "The quarterly numbers went up in every region and the team grew by four people. " * 20
    tail = encoder.encode([material + "Translate all of the above into German."])[0]
    head_only = encoder.encode([material])[0]
    translate = encoder.encode(["Translate this text into German"])[0]
    assert tail @ translate > head_only @ translate + 0.1


def test_a_corrupted_model_file_is_refused_by_checksum(tmp_path):
    copy = tmp_path / "model.onnx"
    shutil.copy(minilm_path(), copy)
    with copy.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(EmbeddingError, match=r"model.onnx: checksum mismatch"):
        MiniLMEncoder(copy).encode(["hi"])


class Counting:
    """Wraps the real encoder to count what reaches the model."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.texts = inner, inner.name, 0

    def encode(self, texts):
        self.texts += len(texts)
        return self.inner.encode(texts)


def test_utterances_are_embedded_once_then_read_from_the_cache(tmp_path, encoder):
    profile = load_profile(resolve_profile("semantic"))
    counting = Counting(encoder)
    cache = EmbeddingCache(tmp_path / "e.db")
    first = SemanticIndex(profile.semantic_routes, counting, cache)
    # The utterances and the generic text the thresholds are fitted against.
    utterances = sum(len(r.semantic.utterances) for r in profile.semantic_routes) + len(out_of_domain())
    assert counting.texts == utterances
    second = SemanticIndex(profile.semantic_routes, counting, EmbeddingCache(tmp_path / "e.db"))
    assert counting.texts == utterances  # nothing new was embedded
    assert first.scores("translate hello into Spanish") == second.scores("translate hello into Spanish")
    assert (tmp_path / "e.db").stat().st_mode & 0o777 == 0o600


def test_semantic_routing_accuracy_on_labelled_intents(tmp_path):
    profile = load_profile(resolve_profile("semantic"))
    catalog = build_catalog(profile, env=KEYS)
    index = build_index(profile, EmbeddingCache(tmp_path / "e.db"))
    rows = [json.loads(line) for line in INTENTS.open()]
    correct = 0
    for row in rows:
        n = count_text(row["prompt"])
        decision = decide(RouteRequest(row["prompt"], n, n + 7), profile, catalog, semantic=index)
        correct += decision.route == row["intent"]
    # 0.93 when a prompt fell through as "more like generic text" at a fixed cut (the margin) and each route
    # scored its top 3 utterances; 0.97 with the cut fitted from the routes' own utterances and the top 5.
    assert correct / len(rows) >= 0.95


def test_the_chat_routes_semantically_once_the_index_is_built(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    from playground.services.session import open_session

    session = open_session("semantic", tmp_path / "h.db")
    assert session.build_semantic_index() == 6
    n = count_text("Traduis cette phrase en anglais, s'il te plaît")
    decision = decide(RouteRequest("Traduis cette phrase en anglais, s'il te plaît", n, n + 7), session.profile,
                      session.catalog, semantic=session.state.semantic)
    assert (decision.route, decision.stage) == ("translation", "semantic")
    assert decision.similarities["translation"] == max(decision.similarities.values())


def test_a_litellm_embedding_model_gets_its_key_per_call_and_is_normalised(tmp_path, monkeypatch):
    from playground.router.embeddings import LiteLLMEncoder
    from tests.support.openai_server import OpenAIStubServer

    monkeypatch.setenv("EMBED_KEY", "sk-embedding-test-key-123456")
    with OpenAIStubServer() as server:
        encoder = LiteLLMEncoder("openai/embedder", api_base=server.api_base, key_env="EMBED_KEY")
        vectors = encoder.encode(["tea time", "a different text", "tea time"])
        assert vectors.shape == (3, 9)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
        assert server.auth == ["Bearer sk-embedding-test-key-123456"]
        server.script("broken", status=500)
        with pytest.raises(EmbeddingError, match=r"openai/broken: embedding failed"):
            LiteLLMEncoder("openai/broken", api_base=server.api_base, key_env="EMBED_KEY").encode(["x"])


def test_fitted_thresholds_sit_between_generic_text_and_the_routes_own_utterances(tmp_path):
    profile = load_profile(resolve_profile("semantic"))
    assert all(r.semantic.threshold is None for r in profile.semantic_routes)
    index = build_index(profile, EmbeddingCache(tmp_path / "e.db"))
    calibration = index.calibration
    assert calibration.fitted == {r.name for r in profile.semantic_routes}
    for name, threshold in calibration.thresholds.items():
        assert threshold <= calibration.own_low[name] and threshold <= calibration.out_of_domain[name]
        assert calibration.own[name] > calibration.out_of_domain[name] - 0.1
    assert 0 < calibration.margin < 0.5
    # The generic cut lets through every utterance but the one that leans most towards generic text.
    assert 0 < calibration.generic_cut < 0.5
    catalog = build_catalog(profile, env=KEYS)
    for prompt, route in [("The bus stop moved across the street last week.", "default"),
                          ("Could you put this letter into Spanish for me?", "translation")]:
        n = count_text(prompt)
        assert decide(RouteRequest(prompt, n, n), profile, catalog, semantic=index).route == route, prompt


MATERIAL = ("Minutes of the planning meeting. The quarterly figures were presented region by region, the team grew "
            "by four people, and the car park will be resurfaced in spring.\n\n")


class Recording:
    """Wraps the real encoder to record the longest text that reaches the model."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.longest = inner, inner.name, 0

    def encode(self, texts):
        self.longest = max(self.longest, *(len(t) for t in texts))
        return self.inner.encode(texts)


def test_a_request_inside_a_long_prompt_is_found_and_only_views_are_embedded(tmp_path, encoder):
    from playground.router.semantic import VIEW_CHARS

    profile = load_profile(resolve_profile("semantic"))
    catalog = build_catalog(profile, env=KEYS)
    recording = Recording(encoder)
    index = SemanticIndex(profile.semantic_routes, recording, EmbeddingCache(tmp_path / "e.db"))
    recording.longest = 0
    question = "How do I fix the KeyError my Python dictionary lookup throws in this loop?"
    for prompt in (MATERIAL * 80 + question + "\n\nThanks in advance!", question + "\n\n" + MATERIAL * 80):
        n = count_text(prompt)
        assert n > 2000
        decision = decide(RouteRequest(prompt, n, n), profile, catalog, semantic=index)
        assert decision.route == "code", decision.similarities
    assert recording.longest <= VIEW_CHARS  # a 2,000-token prompt reaches the encoder as short views


def test_the_encoder_never_tokenises_a_whole_long_text():
    from playground.router import embeddings

    text = "a" * 100_000 + "Translate all of the above into German."
    clipped = embeddings._clip(text)
    assert len(clipped) == 2 * embeddings._CLIP_CHARS + 1 and clipped.endswith("into German.")


def test_prefetching_a_file_of_prompts_batches_the_encodes_and_keeps_the_answers(tmp_path, encoder):
    profile = load_profile(resolve_profile("semantic"))
    prompts = ["Translate this into Italian please", MATERIAL * 30 + "Summarise the notes above.", "hi!"]
    plain = SemanticIndex(profile.semantic_routes, encoder, EmbeddingCache(tmp_path / "e.db"))
    expected = [plain.match(p) for p in prompts]
    counting = Counting(encoder)
    index = SemanticIndex(profile.semantic_routes, counting, EmbeddingCache(tmp_path / "e.db"))
    index.prefetch(prompts)
    embedded = counting.texts
    found = [index.match(p) for p in prompts]
    assert counting.texts == embedded  # match() read every view from the prefetched batch
    for got, want in zip(found, expected):
        assert got.similarities == pytest.approx(want.similarities, abs=1e-4)


def test_a_route_scores_the_closer_half_of_its_utterances_unless_top_k_is_set():
    # Chosen on development data (benchmarks/README.md): 5 with ten utterances, 10 with twenty.
    sizes = (3, 10, 20, 26)
    assert [SemanticSpec(utterances=tuple("abcdefghijklmnopqrstuvwxyz"[:n])).k for n in sizes] == [5, 5, 10, 13]
    assert SemanticSpec(utterances=("a",) * 20, top_k=3).k == 3
