"""Semantic routes: a prompt takes the route whose example utterances it most resembles, when it resembles
that route clearly enough (a threshold fitted from the utterances themselves unless the profile sets one)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.config.profile import Route
from playground.router.decide import SemanticScores
from playground.router.embeddings import EmbeddingCache, Encoder

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
        self._matrix = self._embed(texts)
        self._owner = np.repeat(np.arange(len(self.routes)), [len(s.utterances) for s in self._specs.values()])
        self._top_k = [s.top_k for s in self._specs.values()]
        self._prefetched: dict[str, np.ndarray] = {}
        self.calibration = self._calibrate()

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
        return Calibration(own, own_low, ood_high, thresholds, frozenset(fitted), margin)

    def match(self, text: str) -> SemanticScores:
        """Each route's score: the mean cosine similarity of the prompt to its top_k closest utterances,
        and the same against the generic text. A long prompt is read as views (request_views, and both
        pooled) and scored by the view that is most like some route and least like generic
        text: the view that holds the request, not the material around it."""
        # One encode per view: batched, the short head would be padded to the tail's length.
        views = np.vstack([self._prefetched[view][None, :] if view in self._prefetched else self.encoder.encode([view])
                           for view in request_views(text)])
        if len(views) > 1:
            pooled = views.sum(axis=0)
            views = np.vstack([views, pooled / max(float(np.linalg.norm(pooled)), 1e-9)])
        table = self._route_scores(views)
        generic = np.sort(views @ self._generic.T, axis=1)[:, ::-1][:, :_GENERIC_TOP_K].mean(axis=1)
        chosen = int(np.argmax(table.max(axis=1) - generic))
        return SemanticScores({route.name: float(table[chosen][i]) for i, route in enumerate(self.routes)},
                              float(generic[chosen]))

    def prefetch(self, texts: list[str], batch: int = 32) -> None:
        """Embed the views of many prompts in batches of similar length, for match() to read: routing a
        file of prompts is then a few large encodes instead of one per prompt."""
        views = sorted({v for text in texts for v in request_views(text)} - self._prefetched.keys(), key=len)
        for start in range(0, len(views), batch):
            chunk = views[start:start + batch]
            self._prefetched.update(zip(chunk, self.encoder.encode(chunk)))

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


def encoder_for(profile) -> Encoder:
    from playground.router.embeddings import LiteLLMEncoder, MiniLMEncoder

    spec = profile.embeddings
    if spec.model == "local":
        return MiniLMEncoder()
    return LiteLLMEncoder(spec.model, spec.api_base, spec.key_env)


def build_index(profile, cache: EmbeddingCache | None = None) -> SemanticIndex | None:
    """None when the profile has no semantic routes."""
    if not profile.semantic_routes:
        return None
    return SemanticIndex(profile.semantic_routes, encoder_for(profile), cache or EmbeddingCache())
