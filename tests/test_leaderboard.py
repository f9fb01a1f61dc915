"""Rating math against values worked out by hand (no store, no Textual, no LiteLLM)."""

from __future__ import annotations

import math

import pytest

from playground.base.records import Outcome, Vote
from playground.services.leaderboard import ELO_SCALE, Game, bradley_terry, games, standings

HALF_WIDTH_PER_SE = 1.959964 * 400 / math.log(10)


def _vote(outcome: Outcome, winner: str | None, models: tuple[str, ...], ids: tuple[int, ...] = (),
          category: str = "simple") -> Vote:
    return Vote("c", 1, outcome, winner, models, ids or tuple(range(len(models))), category, category, False)


def test_a_win_beats_every_other_model_and_a_tie_or_all_bad_draws_every_pair():
    found = games([_vote(Outcome.WIN, "b", ("a", "b", "c")), _vote(Outcome.ALL_BAD, None, ("a", "b", "c"))])
    assert found == [Game("b", "a", 1.0), Game("b", "c", 1.0),
                     Game("a", "b", 0.5), Game("a", "c", 0.5), Game("b", "c", 0.5)]


def test_a_model_with_no_games_sits_at_the_anchor_with_its_prior_width():
    # Only the virtual draw with the anchor: information p(1-p) = 1/4, so the standard error is 2.
    (theta, error), = bradley_terry(["solo"], []).values()
    assert theta == pytest.approx(0.0, abs=1e-9)
    assert error == pytest.approx(2.0)


def test_even_record_gives_equal_ratings_and_the_hand_computed_interval():
    # One win each way: both at strength 0. Information matrix [[3/4, -1/2], [-1/2, 3/4]] (1/4 per game,
    # one anchor game each); its inverse has 0.75 / 0.3125 = 2.4 on the diagonal.
    table = standings([_vote(Outcome.WIN, "a", ("a", "b")), _vote(Outcome.WIN, "b", ("a", "b"))], {})
    for row in table:
        assert row.rating == pytest.approx(1000.0)
        assert row.high - row.rating == pytest.approx(HALF_WIDTH_PER_SE * math.sqrt(2.4))
        assert (row.wins, row.losses, row.ties) == (1, 1, 0)


def test_one_sided_record_matches_the_scalar_equation():
    # a beats b three times. By symmetry strengths are +x and -x; a's score equation with the anchor draw:
    #   3 + 0.5 = 3·σ(2x) + σ(x).  Solved here by bisection, independently of the MM iteration.
    def excess(x: float) -> float:
        def sigmoid(v):
            return 1 / (1 + math.exp(-v))
        return 3 * sigmoid(2 * x) + sigmoid(x) - 3.5

    low, high = 0.0, 10.0
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) < 0 else (low, middle)
    x = (low + high) / 2
    table = standings([_vote(Outcome.WIN, "a", ("a", "b"))] * 3, {})
    assert [row.model_alias for row in table] == ["a", "b"]
    assert table[0].rating == pytest.approx(1000 + ELO_SCALE * x, abs=1e-6)
    assert table[1].rating == pytest.approx(1000 - ELO_SCALE * x, abs=1e-6)
    assert table[0].low > table[1].low


def test_counts_cost_per_win_median_latency_and_category_filter():
    votes = [
        _vote(Outcome.WIN, "a", ("a", "b"), (10, 11)),
        _vote(Outcome.TIE, None, ("a", "b"), (12, 13)),
        _vote(Outcome.ALL_BAD, None, ("a", "b"), (14, 15), category="code"),
    ]
    replies = {10: (0.01, 1.0), 11: (0.002, 0.5), 12: (0.03, 3.0), 13: (0.004, 0.7), 14: (0.0, 2.0), 15: (0.0, None)}
    a, b = sorted(standings(votes, replies), key=lambda s: s.model_alias)
    assert (a.wins, a.losses, a.ties, a.all_bad) == (1, 0, 1, 1)
    assert (b.wins, b.losses, b.ties, b.all_bad) == (0, 1, 1, 1)
    assert a.cost_per_win == pytest.approx(0.04)
    assert b.cost_per_win is None
    assert a.median_latency_s == pytest.approx(2.0)
    assert b.median_latency_s == pytest.approx(0.6)
    code = standings(votes, replies, category="code")
    assert [(s.model_alias, s.all_bad, s.votes) for s in code] == [("a", 1, 1), ("b", 1, 1)]
    assert code[0].rating == pytest.approx(1000.0)


def test_cost_per_win_is_unknown_when_any_reply_cost_is_unknown():
    votes = [_vote(Outcome.WIN, "a", ("a", "b"), (10, 11)), _vote(Outcome.WIN, "a", ("a", "b"), (12, 13)),
             _vote(Outcome.WIN, "b", ("a", "b"), (14, 15))]
    replies = {10: (0.01, 1.0), 11: (0.002, 0.5), 12: (None, 3.0), 13: (0.004, 0.7), 14: (0.0, 2.0), 15: (0.3, 1.0)}
    a, b = sorted(standings(votes, replies), key=lambda s: s.model_alias)
    assert a.cost_per_win is None
    assert b.cost_per_win == pytest.approx(0.306)
