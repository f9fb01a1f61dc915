"""Standings from comparison votes: wins, losses, ties, a Bradley–Terry rating with a 95% interval, cost per win
and median latency."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from playground.base.records import Outcome, Vote

BASE_RATING = 1000.0
ELO_SCALE = 400 / math.log(10)
"""Rating points per unit of log-strength, so a 400-point gap means 10:1 odds as in Elo."""
Z_95 = 1.959964


@dataclass(frozen=True)
class Game:
    """One pairwise result implied by a vote: `score` is a's share, 1, 0.5 or 0."""

    a: str
    b: str
    score: float


@dataclass(frozen=True)
class Standing:
    model_alias: str
    rating: float
    low: float
    high: float
    wins: int
    losses: int
    ties: int
    all_bad: int
    cost_per_win: float | None
    median_latency_s: float | None

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties + self.all_bad


def games(votes: Iterable[Vote]) -> list[Game]:
    """The winner beats every other compared model; a tie or 'all bad' is a draw between every pair
    (as Chatbot Arena counts 'both bad'). Losers of one vote are not ranked among themselves."""
    found: list[Game] = []
    for vote in votes:
        winner = vote.winner_model_alias
        if vote.outcome is Outcome.WIN and winner is not None:
            found.extend(Game(winner, other, 1.0) for other in vote.models if other != winner)
        else:
            found.extend(Game(a, b, 0.5) for i, a in enumerate(vote.models) for b in vote.models[i + 1:])
    return found


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))



def bradley_terry(models: list[str], played: list[Game], tolerance: float = 1e-10,
                  max_iterations: int = 10_000) -> dict[str, tuple[float, float]]:
    """model → (log-strength, standard error).

    Each model also draws one virtual game against a fixed anchor of strength 0: a weak prior that keeps
    an unbeaten model's strength finite, ties separate groups of models to one scale, and makes the
    Fisher information invertible. Fitted with Hunter's MM iteration (ties count as half a win).
    """
    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    score = [0.5] * n  # the draw against the anchor
    opponents: list[list[int]] = [[] for _ in range(n)]  # -1 is the anchor
    for game in played:
        a, b = index[game.a], index[game.b]
        score[a] += game.score
        score[b] += 1 - game.score
        opponents[a].append(b)
        opponents[b].append(a)
    for i in range(n):
        opponents[i].append(-1)
    strength = [1.0] * n
    for _ in range(max_iterations):
        updated = [score[i] / sum(1 / (strength[i] + (strength[j] if j >= 0 else 1.0)) for j in opponents[i])
                   for i in range(n)]
        change = max((abs(math.log(u / s)) for u, s in zip(updated, strength)), default=0.0)
        strength = updated
        if change < tolerance:
            break
    theta = [math.log(s) for s in strength]
    information = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in opponents[i]:
            p = _sigmoid(theta[i] - (theta[j] if j >= 0 else 0.0))
            information[i][i] += p * (1 - p)
            if j >= 0:
                information[i][j] -= p * (1 - p)
    covariance = np.linalg.inv(np.array(information)) if n else np.zeros((0, 0))
    return {m: (theta[i], math.sqrt(covariance[i, i])) for m, i in index.items()}


def standings(votes: Iterable[Vote], replies: Mapping[int, tuple[float | None, float | None]],
              category: str | None = None) -> list[Standing]:
    """Best first. `replies` maps a reply's message id to (its cost, its latency in seconds); a model's
    cost per win is unknown (None) when any of its replies' cost is unknown."""
    chosen = [v for v in votes if category is None or v.category == category]
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(("win", "loss", "tie", "all_bad"), 0))
    spent: dict[str, float | None] = defaultdict(float)
    latencies: dict[str, list[float]] = defaultdict(list)
    for vote in chosen:
        for model, message_id in zip(vote.models, vote.reply_message_ids):
            if vote.outcome is Outcome.WIN:
                counts[model]["win" if model == vote.winner_model_alias else "loss"] += 1
            else:
                counts[model][vote.outcome.value] += 1
            cost, latency = replies.get(message_id, (0.0, None))
            so_far = spent[model]
            spent[model] = None if cost is None or so_far is None else so_far + cost
            if latency is not None:
                latencies[model].append(latency)
    models = sorted(counts)
    fitted = bradley_terry(models, games(chosen))
    table = []
    for model in models:
        theta, error = fitted[model]
        rating, margin = BASE_RATING + ELO_SCALE * theta, Z_95 * ELO_SCALE * error
        c = counts[model]
        table.append(Standing(model, rating, rating - margin, rating + margin, c["win"], c["loss"], c["tie"],
                              c["all_bad"], _per_win(spent[model], c["win"]),
                              statistics.median(latencies[model]) if latencies[model] else None))
    return sorted(table, key=lambda s: (-s.rating, s.model_alias))


def _per_win(spent: float | None, wins: int) -> float | None:
    return spent / wins if wins and spent is not None else None


def categories(votes: Iterable[Vote]) -> list[str]:
    return sorted({v.category for v in votes})
