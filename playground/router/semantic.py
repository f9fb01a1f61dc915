"""Semantic routes: a prompt takes the route whose example utterances it most resembles, when it resembles
that route clearly enough (a threshold fitted from the utterances themselves unless the profile sets one)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.config.profile import Route
from playground.router.decide import SemanticScores
from playground.router.embeddings import EmbeddingCache, EmbeddingError, Encoder

OUT_OF_DOMAIN = Path(__file__).parent / "data" / "out_of_domain.txt"
VIEW_CHARS = 1200
"""A prompt longer than this (about 250 tokens) is read as two views, its first lines and its last
paragraphs, each at most this many characters: a 16k-token prompt costs two short encodes, a 200-token
prompt one (the encoder keeps its first and last wordpieces)."""
_HEAD_CHARS = 160
"""The first lines: enough for an instruction that comes before the material, few wordpieces to embed."""
_TAIL_MIN = 200
"""A last paragraph shorter than this is read with the one before it: a closing "thanks!" alone says
nothing about the request above it."""


def out_of_domain() -> list[str]:
    """The shipped generic text that asks for nothing in particular."""
    return [line for line in OUT_OF_DOMAIN.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


_GENERIC_TOP_K = 3


@dataclass(frozen=True)
class Calibration:
    """What a route's own utterances and the shipped out-of-domain text reach, per route."""

    own: dict[str, float]
    """Median leave-one-out similarity of each route's utterances to their own route."""
    own_low: dict[str, float]
    """10th percentile of the same: what nine in ten of its own utterances reach."""
    out_of_domain: dict[str, float]
    """90th percentile of the out-of-domain text's similarity to each route."""
    thresholds: dict[str, float]
    """The threshold in force per route: the profile's own, or fitted."""
    fitted: frozenset[str]
    """Routes whose threshold was fitted (the profile left it out)."""
    margin: float
    """A lead over the runner-up this large is evidence on its own: out-of-domain text rarely has it."""
    generic_cut: float
    """How much more like generic text than like its best route a prompt may be and still take that route:
    the most any of the routes' own utterances leans that way (leave-one-out), so only prompts less like a
    route than every example of one fall through as generic. The generic side is the top few of many lines
    and a route's the top_k of a few utterances, so the two are not on one scale and a fixed cut (the
    margin) sent ordinary requests to the default."""


def request_views(text: str) -> list[str]:
    """The parts of a prompt that say what is asked: all of a short prompt; of a long one, its first lines
    and its last paragraph (with the one before it when the last is a short closing line such as
    "thanks!"). The request usually sits before or after the material, rarely inside it."""
    if len(text) <= VIEW_CHARS:
        return [text]
    head = text[:_HEAD_CHARS]
    cut = head.rfind("\n", 40)  # whole lines, unless the first line is only a greeting
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text[-2 * VIEW_CHARS:]) if p.strip()]
    tail = paragraphs[-1] if paragraphs else ""
    if len(tail) < _TAIL_MIN and len(paragraphs) > 1:
        tail = "\n\n".join(paragraphs[-2:])
    return [head[:cut] if cut > 0 else head, tail[:VIEW_CHARS]]


def pooled(views: np.ndarray) -> np.ndarray:
    """A prompt's views as one unit vector: their normalised sum (one view is itself)."""
    if len(views) == 1:
        return views[0]
    total = views.sum(axis=0)
    return total / max(float(np.linalg.norm(total)), 1e-9)


def encode_views(encoder: Encoder, views: list[str], *, cache: EmbeddingCache | None = None, batch: int = 32,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Many texts, encoded in batches of similar length (little padding), through the cache when given."""
    ordered = sorted(set(views), key=len)
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(ordered), batch):
        chunk = ordered[start:start + batch]
        found.update(zip(chunk, cache.encode(encoder, chunk) if cache else encoder.encode(chunk)))
        if progress:
            progress(min(start + batch, len(ordered)), len(ordered))
    return found


def prompt_vectors(encoder: Encoder, prompts: list[str], *, cache: EmbeddingCache | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(prompts, dim): each prompt as SemanticIndex.embed reads it, computed in batches."""
    if not prompts:
        return np.zeros((0, 0), dtype=np.float32)
    views = [request_views(p) for p in prompts]
    found = encode_views(encoder, [v for vs in views for v in vs], cache=cache, batch=64, progress=progress)
    return np.vstack([pooled(np.vstack([found[v] for v in vs])) for vs in views])


def _top_k_mean(similarities: np.ndarray, owner: np.ndarray, n_routes: int, top_k: list[int]) -> np.ndarray:
    """(rows, routes): for each row of similarities to every utterance, the mean of each route's top-k."""
    result = np.empty((similarities.shape[0], n_routes), dtype=np.float32)
    for index in range(n_routes):
        mine = np.sort(similarities[:, owner == index], axis=1)[:, ::-1][:, :top_k[index]]
        result[:, index] = mine.mean(axis=1)
    return result


class SemanticIndex:
    """Embeds the utterances once (through the cache); matching is one encode and one matrix product."""

    def __init__(self, routes: list[Route], encoder: Encoder, cache: EmbeddingCache | None = None) -> None:
        self.encoder = encoder
        self.cache = cache
        self.routes = [r for r in routes if r.semantic is not None]
        self._specs = {r.name: r.semantic for r in routes if r.semantic is not None}
        texts = [u for spec in self._specs.values() for u in spec.utterances]
        self._owner = np.repeat(np.arange(len(self.routes)), [len(s.utterances) for s in self._specs.values()])
        self._top_k = [s.k for s in self._specs.values()]
        self._prefetched: dict[str, np.ndarray] = {}
        self._last: tuple[str, np.ndarray] | None = None
        if self.routes:
            self._matrix = self._embed(texts)
            self.calibration = self._calibrate()
        else:  # only a learned route's prompt embedding is wanted: nothing to match or calibrate
            self.calibration = Calibration({}, {}, {}, {}, frozenset(), 1.0, 1.0)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.cache.encode(self.encoder, texts) if self.cache else self.encoder.encode(texts)

    def _route_scores(self, vectors: np.ndarray) -> np.ndarray:
        return _top_k_mean(vectors @ self._matrix.T, self._owner, len(self.routes), self._top_k)

    def _calibrate(self) -> Calibration:
        names = [r.name for r in self.routes]
        pairwise = self._matrix @ self._matrix.T
        np.fill_diagonal(pairwise, -np.inf)  # leave one out: an utterance never counts as its own neighbour
        own_scores = {}
        for index, name in enumerate(names):
            rows = pairwise[self._owner == index]
            k = min(self._top_k[index], max(1, rows.shape[0] - 1))
            mine = np.sort(rows[:, self._owner == index], axis=1)[:, ::-1][:, :k]
            own_scores[name] = mine.mean(axis=1) if rows.shape[0] > 1 else np.array([1.0])
        self._generic = self._embed(out_of_domain())
        leaning = self._generic_similarity(self._matrix) - np.concatenate([own_scores[name] for name in names])
        ood = self._route_scores(self._generic)
        ood_high = {name: float(np.percentile(ood[:, i], 90)) for i, name in enumerate(names)}
        ordered = np.sort(ood, axis=1)
        margin = float(np.percentile(ordered[:, -1] - ordered[:, -2], 95)) if len(names) > 1 else 1.0
        own = {name: float(np.median(s)) for name, s in own_scores.items()}
        own_low = {name: float(np.percentile(s, 10)) for name, s in own_scores.items()}
        thresholds, fitted = {}, set()
        for route in self.routes:
            if (threshold := self._specs[route.name].threshold) is not None:
                thresholds[route.name] = threshold
            else:
                # Above what most generic text reaches, but never above what the route's own utterances reach.
                thresholds[route.name] = min(ood_high[route.name], own_low[route.name])
                fitted.add(route.name)
        return Calibration(own, own_low, ood_high, thresholds, frozenset(fitted), margin, float(leaning.max()))

    def _generic_similarity(self, vectors: np.ndarray) -> np.ndarray:
        return np.sort(vectors @ self._generic.T, axis=1)[:, ::-1][:, :_GENERIC_TOP_K].mean(axis=1)

    def match(self, text: str) -> SemanticScores:
        """Each route's score: the mean cosine similarity of the prompt to its top_k closest utterances,
        and the same against the generic text. A long prompt is read as views (request_views, and both
        pooled) and scored by the view that is most like some route and least like generic
        text: the view that holds the request, not the material around it."""
        views = self._views(text)
        if len(views) > 1:
            views = np.vstack([views, pooled(views)])
        table = self._route_scores(views)
        generic = self._generic_similarity(views)
        chosen = int(np.argmax(table.max(axis=1) - generic))
        return SemanticScores({route.name: float(table[chosen][i]) for i, route in enumerate(self.routes)},
                              float(generic[chosen]), self.calibration.generic_cut)

    def _views(self, text: str) -> np.ndarray:
        """(views, dim) for request_views(text); the last prompt's are kept, so that the semantic stage and a
        learned route deciding on the same prompt encode it once."""
        if self._last is not None and self._last[0] == text:
            return self._last[1]
        # One encode per view: batched, the short head would be padded to the tail's length.
        views = np.vstack([self._prefetched[view][None, :] if view in self._prefetched else self.encoder.encode([view])
                           for view in request_views(text)])
        self._last = (text, views)
        return views

    def embed(self, text: str) -> list[float]:
        """The prompt as one vector (its views pooled), for a learned route's features: what `tune` learns on
        (prompt_vectors). A list: the learned route weighs it in plain Python, where numpy scalars are slow."""
        return pooled(self._views(text)).tolist()

    def prefetch(self, texts: list[str], batch: int = 32, cache: EmbeddingCache | None = None) -> None:
        """Embed the views of many prompts in batches of similar length, for match() and embed() to read:
        routing a file of prompts is then a few large encodes instead of one per prompt. Prompts' vectors go
        to `cache` only when one is given (the index's own cache holds utterances, not what users type)."""
        wanted = sorted({v for text in texts for v in request_views(text)} - self._prefetched.keys(), key=len)
        self._prefetched.update(encode_views(self.encoder, wanted, cache=cache, batch=batch))

    def scores(self, text: str) -> dict[str, float]:
        return self.match(text).similarities

    def thresholds(self) -> dict[str, float]:
        return self.calibration.thresholds

    def margin(self) -> float:
        return self.calibration.margin

    def warnings(self) -> list[str]:
        """Routes whose set threshold is above what their own utterances reach: they will rarely match."""
        found = []
        for route in self.routes:
            threshold = self._specs[route.name].threshold
            if threshold is not None and threshold > self.calibration.own[route.name]:
                found.append(f"route {route.name!r}: threshold {threshold:.2f} is above what half of its own "
                             f"utterances reach ({self.calibration.own[route.name]:.2f}, leave-one-out); leave "
                             f"`threshold` out to fit it")
        return found


NON_ENGLISH_CONFIDENCE = 0.7
"""How sure the language detector must be that a prompt is not English before the multilingual encoder reads
it: short English prompts ("hi") are guessed as other languages, but with low confidence (0.01–0.3)."""
_OTHER_SCRIPT_SHARE = 0.3
"""A prompt whose letters are this much outside the Latin script is not English whatever the detector's
confidence (short Chinese requests score 0.7–0.9), and English MiniLM reads such text poorly."""
_LANGUAGE_SAMPLE = 300
"""Characters read from each end of a long prompt to tell its language: the detector's time grows with the
text's length, and the ends hold the request."""


def reads_as_english(text: str) -> tuple[bool, str]:
    """Whether the English encoder should read the text, and the language the detector found."""
    from playground.router.rules import language_and_confidence

    sample = text if len(text) <= 2 * _LANGUAGE_SAMPLE else f"{text[:_LANGUAGE_SAMPLE]}\n{text[-_LANGUAGE_SAMPLE:]}"
    language, confidence = language_and_confidence(sample)
    letters = [c for c in sample if c.isalpha()]
    other_script = sum(ord(c) > 0x24F for c in letters) / len(letters) if letters else 0.0
    if language == "en":
        return other_script < _OTHER_SCRIPT_SHARE, language
    return confidence < NON_ENGLISH_CONFIDENCE and other_script < _OTHER_SCRIPT_SHARE, language


class LanguageAwareIndex:
    """Two indexes of the same routes: the profile's English encoder for English prompts, and the
    multilingual one, with its own fitted thresholds and margin, for prompts confidently in another
    language. A learned route's prompt embedding always comes from the English one (what it was tuned on)."""

    def __init__(self, english: SemanticIndex, multilingual: SemanticIndex) -> None:
        self.english, self.multilingual = english, multilingual
        self.routes = english.routes
        self.encoder = english.encoder
        self.calibration = english.calibration

    def match(self, text: str) -> SemanticScores:
        english, language = reads_as_english(text)
        if english:
            return self.english.match(text)
        found = self.multilingual.match(text)
        return dataclasses.replace(found, thresholds=self.multilingual.thresholds(),
                                   margin=self.multilingual.margin(),
                                   note=f"'{language}' prompt read by {self.multilingual.encoder.name}")

    def embed(self, text: str) -> list[float]:
        return self.english.embed(text)

    def prefetch(self, texts: list[str], batch: int = 32, cache: EmbeddingCache | None = None) -> None:
        # Every prompt has an English embedding (a learned route reads it); only the others a multilingual one.
        self.english.prefetch(texts, batch, cache)
        self.multilingual.prefetch([text for text in texts if not reads_as_english(text)[0]], batch, cache)

    def scores(self, text: str) -> dict[str, float]:
        return self.match(text).similarities

    def thresholds(self) -> dict[str, float]:
        return self.english.thresholds()

    def margin(self) -> float:
        return self.english.margin()

    def warnings(self) -> list[str]:
        return self.english.warnings()


def encoder_for(profile) -> Encoder:
    from playground.router.embeddings import LiteLLMEncoder, MiniLMEncoder, MultilingualE5Encoder

    spec = profile.embeddings
    if spec.model == "local":
        return MiniLMEncoder()
    if spec.model == "local-multilingual":
        return MultilingualE5Encoder()
    return LiteLLMEncoder(spec.model, spec.api_base, spec.key_env)


def build_index(profile, cache: EmbeddingCache | None = None) -> AnyIndex | None:
    """None when routing by the profile embeds no prompt (no semantic routes, no learned route on embeddings)."""
    if not profile.uses_embeddings:
        return None
    encoder = encoder_for(profile)
    for route in profile.routes:
        if route.learned and route.learned.uses_embedding and route.learned.embedding_model != encoder.name:
            raise EmbeddingError(f"route {route.name!r} was learned on {route.learned.embedding_model} embeddings, "
                                 f"but the profile's `embeddings` is {encoder.name}; tune it again or set "
                                 f"`embeddings` back")
    cache = cache or EmbeddingCache()
    index = SemanticIndex(profile.semantic_routes, encoder, cache)
    if profile.embeddings.model != "local" or profile.embeddings.non_english != "multilingual" or not index.routes:
        return index
    from playground.router.embeddings import MultilingualE5Encoder

    try:
        multilingual = SemanticIndex(profile.semantic_routes, MultilingualE5Encoder(), cache)
    except EmbeddingError:  # the `multilingual` extra is not installed: every prompt is read in English
        return index
    reads_as_english("warm up")  # the language detector's model loads here, not on the first prompt
    return LanguageAwareIndex(index, multilingual)


AnyIndex = SemanticIndex | LanguageAwareIndex
"""What build_index returns when the profile embeds prompts."""
