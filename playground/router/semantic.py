"""Semantic routes: a prompt takes the route whose example utterances it most resembles."""

from __future__ import annotations

import numpy as np

from playground.config.profile import Route
from playground.router.embeddings import EmbeddingCache, Encoder


class SemanticIndex:
    """Embeds the utterances once (through the cache); matching is one encode and one matrix product."""

    def __init__(self, routes: list[Route], encoder: Encoder, cache: EmbeddingCache | None = None) -> None:
        self.encoder = encoder
        self.routes = [r for r in routes if r.semantic is not None]
        texts = [u for r in self.routes for u in r.semantic.utterances]
        vectors = cache.encode(encoder, texts) if cache else encoder.encode(texts)
        self._matrix = vectors
        self._owner = np.repeat(np.arange(len(self.routes)), [len(r.semantic.utterances) for r in self.routes])

    def scores(self, text: str) -> dict[str, float]:
        """Each route's score: the mean cosine similarity of the prompt to its top_k closest utterances."""
        similarities = self._matrix @ self.encoder.encode([text])[0]
        result = {}
        for index, route in enumerate(self.routes):
            mine = np.sort(similarities[self._owner == index])[::-1][:route.semantic.top_k]
            result[route.name] = float(mine.mean())
        return result


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
