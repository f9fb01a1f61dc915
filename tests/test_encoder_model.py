"""The encoder's int8 model: built once from the checked package model, rebuilt when damaged, and close to
the float32 products it replaces."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest

from playground.router.embeddings import EmbeddingError, MiniLMEncoder, minilm_path

SENTENCES = ["How do I reverse a list in Python?", "Translate this paragraph into German, please.",
             "What is the integral of x squared?", "Write a short poem about autumn leaves.",
             "hi there, how are you doing today?", "What's the way to invert a Python list?",
             "Could you put this text into German?", "Compute the antiderivative of x^2.",
             "Compose a few lines of verse on falling leaves in fall.", "hey, how's it going?"]
"""Five requests, then a paraphrase of each in the same order."""


@pytest.fixture()
def models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("PLAYGROUND_MODELS", str(folder))
    return folder


def _built(folder):
    return [p for p in folder.iterdir() if p.suffix == ".onnx"]


def test_the_model_is_built_once_with_int8_products(models):
    MiniLMEncoder().encode(["hello"])
    [built] = _built(models)
    ops = {node.op_type for node in onnx.load(str(built)).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops
    assert not [p for p in models.iterdir() if p.name.startswith(".building-")]  # no leftovers
    stamp = built.stat().st_mtime_ns
    MiniLMEncoder().encode(["hello again"])
    assert _built(models) == [built] and built.stat().st_mtime_ns == stamp


def test_a_damaged_build_is_built_again(models):
    MiniLMEncoder().encode(["hello"])
    [built] = _built(models)
    reference = MiniLMEncoder().encode(SENTENCES)
    built.write_bytes(b"not a model")
    vectors = MiniLMEncoder().encode(SENTENCES)
    assert np.allclose(vectors, reference, atol=1e-6)
    assert built.stat().st_size > 10_000_000


def test_a_models_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(blocker / "models"))
    with pytest.raises(EmbeddingError, match=r"cannot prepare the embedding model in .*a-file/models: ") as caught:
        MiniLMEncoder().encode(["hi"])
    assert "\n" not in str(caught.value)


def test_a_text_gets_the_same_vector_alone_and_beside_others():
    # The activations' int8 scale comes from everything in one run: batching would change a text's vector.
    encoder = MiniLMEncoder()
    together = encoder.encode(SENTENCES)
    alone = np.vstack([encoder.encode([s]) for s in SENTENCES])
    assert np.array_equal(together, alone)


def test_vectors_stay_close_to_the_float32_products():
    encoder = MiniLMEncoder()
    fast = encoder.encode(SENTENCES)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    widened = onnxruntime.InferenceSession(str(minilm_path()), options, providers=["CPUExecutionProvider"])
    slow = []
    for sentence in SENTENCES:
        ids = np.array([encoder._tokenizer.encode(sentence).ids], dtype=np.int64)
        hidden = widened.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                    "token_type_ids": np.zeros_like(ids)})[0][0].mean(axis=0)
        slow.append(hidden / np.linalg.norm(hidden))
    slow = np.vstack(slow)
    assert (np.sum(fast * slow, axis=1) > 0.97).all()
    # What routing reads: each request's nearest other sentence is still its paraphrase.
    pairs = np.arange(len(SENTENCES)) % 5
    for vectors in (fast, slow):
        nearest = (vectors @ vectors.T - 2 * np.eye(len(SENTENCES))).argmax(axis=1)
        assert np.array_equal(pairs[nearest], pairs)


def test_the_cli_says_so_before_the_first_encode_builds_the_model(models, capsys):
    from playground.cli.main import main

    assert main(["route", "translate this into German", "--json"]) == 0
    first = capsys.readouterr()
    assert "preparing the embedding model for this machine (once" in first.err
    assert json.loads(first.out)["stage"] == "semantic"
    assert main(["route", "translate this into German", "--json"]) == 0
    assert "preparing" not in capsys.readouterr().err


def test_the_model_file_is_read_through_its_checksum_once_per_process(models):
    from playground.router import embeddings

    embeddings._sha256_of.cache_clear()
    embeddings.minilm_built()  # as the CLI asks, before its first encode
    MiniLMEncoder().encode(["hi"])
    MiniLMEncoder().encode(["hi again"])
    info = embeddings._sha256_of.cache_info()
    assert (info.misses, info.hits) == (1, 2)
