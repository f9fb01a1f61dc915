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
from playground.config.profile import load_profile
from playground.router import RouteRequest, decide
from playground.router.embeddings import EmbeddingCache, EmbeddingError, MiniLMEncoder, minilm_path
from playground.router.semantic import SemanticIndex, build_index

INTENTS = Path(__file__).parent.parent / "benchmarks" / "data" / "intents.jsonl"


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
    utterances = sum(len(r.semantic.utterances) for r in profile.semantic_routes)
    assert counting.texts == utterances
    second = SemanticIndex(profile.semantic_routes, counting, EmbeddingCache(tmp_path / "e.db"))
    assert counting.texts == utterances  # nothing new was embedded
    assert first.scores("translate hello into Spanish") == second.scores("translate hello into Spanish")
    assert (tmp_path / "e.db").stat().st_mode & 0o777 == 0o600


def test_semantic_routing_accuracy_on_labelled_intents(tmp_path):
    profile = load_profile(resolve_profile("semantic"))
    catalog = build_catalog(profile, env={})
    index = build_index(profile, EmbeddingCache(tmp_path / "e.db"))
    rows = [json.loads(line) for line in INTENTS.open()]
    correct = 0
    for row in rows:
        n = count_text(row["prompt"])
        decision = decide(RouteRequest(row["prompt"], n, n + 7), profile, catalog, semantic=index)
        correct += decision.route == row["intent"]
    assert correct / len(rows) >= 0.9


def test_the_chat_routes_semantically_once_the_index_is_built(tmp_path):
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
