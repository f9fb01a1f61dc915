"""How far can a prompt-only router get on RouteLLM's GSM8K and MMLU outcomes? Cross-validated ceilings of
several feature sets and learners, on the TRAINING halves only.

The held-out halves (`held_out(item)` in learned_routing.py) are never read: every figure here comes from
k-fold cross-validation on the half `tune` is given there, repeated over several fold seeds. For each
method, prompts are scored out of fold and ranked by predicted quality lost per dollar saved (as the
learned route's cost-aware score ranks them); two figures per method:

- **at tune's threshold**: each fold is routed at the threshold `tune`'s own rule (cheapest threshold
  whose quality still reaches the target by one standard error) picks on the other folds' out-of-fold
  scores, so no fold's threshold sees its own outcomes; this is the figure a goal is judged by;
- **best point of the curve**: the cheapest out-of-fold point reaching the target, an optimistic figure
  (the threshold is picked knowing the outcomes).

Beside them: random routing, the product's own learned route (`tune`, hashed words, its cross-validated
figures), and two in-sample bounds that no router reaches: per-subject routing with each subject's own
rates on the whole training half (ranked per dollar: a bound for any router that knows only a prompt's subject
and length), and the per-prompt oracle. The learners are numpy only: L2 logistic
regression (two heads, P(cheap right) and P(strong right), as `tune` fits), gradient-boosted depth-3 trees,
similarity kNN on the MiniLM embedding (RouteLLM's similarity-weighted idea) and shrunk per-subject rates.

    .venv/bin/python -m benchmarks.learned_ceiling [--replay DIR] [--cache DIR] [--sets gsm8k,mmlu]
        [--seeds N] [--folds K]
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.learned_routing import PROFILE, TARGET, held_out, replay_parser
from playground.config.profile import FEATURES, load_profile
from playground.policy.evaluation import Pricer, replay_catalog
from playground.policy.replay import ReplayItem, load_replay
from playground.policy.tune import _choose_threshold, _curve, tune
from playground.router.embeddings import EmbeddingCache, MiniLMEncoder
from playground.router.features import prompt_features
from playground.router.rules import PromptFacts
from playground.router.semantic import prompt_vectors

GOALS = {"gsm8k": 0.35, "mmlu": 0.60}
"""Cost saved at 95% of the strong model's quality that issue 14 asks for."""

SEEDS = {"gsm8k": 10, "mmlu": 5}
"""Fold seeds by default: GSM8K's 300 prompts give a wide spread across fold assignments, MMLU's 3,500 a narrow one."""

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(training rows, rows to score) -> predicted change in quality when those rows go cheap (cheap − strong)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Outcomes:
    cheap_q: np.ndarray
    strong_q: np.ndarray
    cheap_c: np.ndarray
    strong_c: np.ndarray
    gap: np.ndarray
    """The price gap the router can estimate from the prompt alone (prompt tokens, typical reply)."""

    @property
    def target(self) -> float:
        return TARGET * float(self.strong_q.mean())

    def saved(self, cheap: np.ndarray) -> tuple[float, float]:
        """(quality ÷ strong, cost saved) when the rows marked True go cheap."""
        quality = float(np.where(cheap, self.cheap_q, self.strong_q).mean())
        cost = float(np.where(cheap, self.cheap_c, self.strong_c).sum())
        return quality / float(self.strong_q.mean()), 1 - cost / float(self.strong_c.sum())

    def best_point(self, score: np.ndarray) -> float:
        _, _, quality, cost = _curve(score, self.cheap_q, self.strong_q, self.cheap_c, self.strong_c)
        return 1 - float(cost[quality >= self.target - 1e-12].min()) / float(self.strong_c.sum())


def outcomes(items: list[ReplayItem], pricer: Pricer) -> Outcomes:
    profile = load_profile(PROFILE)
    catalog = replay_catalog(profile)
    strong, cheap = profile.tiers["strong"][0], profile.tiers["weak"][0]
    # The reply length the router assumes, as `tune` learns it: the data's median, else one token.
    replies = sorted(o.output_tokens for i in items for o in i.outcomes.values() if o.output_tokens is not None)
    reply = max(1, replies[len(replies) // 2]) if replies else max(1, min(pricer.median_output.values(), default=1))
    return Outcomes(
        np.array([i.outcomes[cheap].score for i in items]), np.array([i.outcomes[strong].score for i in items]),
        np.array([pricer.cost(i, cheap, catalog[cheap]) for i in items]),
        np.array([pricer.cost(i, strong, catalog[strong]) for i in items]),
        np.array([(catalog[strong].cost(pricer.prompt_tokens(i) + 7, reply) or 0.0)
                  - (catalog[cheap].cost(pricer.prompt_tokens(i) + 7, reply) or 0.0) for i in items]))


# ---- features ---------------------------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![A-Za-z])\d[\d,]*(?:\.\d+)?")
_NEGATION = re.compile(r"\b(not|except|least|false|incorrect|never|cannot)\b", re.IGNORECASE)
_OPTION = re.compile(r"^[A-D]\. (.*)$", re.MULTILINE)
_STEP_WORDS = re.compile(r"\b(then|after|before|remaining|left|more|less|fewer|each|every|per|times|twice|half)\b",
                         re.IGNORECASE)
HAND = ("log_body_chars", "numbers", "distinct_numbers", "log_largest_number", "decimals", "fractions", "percents",
        "money", "sentences", "question_marks", "negations", "capitalised_words", "numeric_options",
        "log_option_chars", "log_longest_option", "option_length_spread", "two_statements", "which_of_the_following",
        "step_words", "operators", "all_or_none_of_the_above")
"""Hand-made difficulty features, beside the learned route's own FEATURES."""


def hand_features(text: str) -> list[float]:
    body = text.split("\nA. ")[0]
    options = _OPTION.findall(text)
    numbers = _NUMBER.findall(body)
    lengths = [len(o) for o in options] or [0]
    mean = sum(lengths) / len(lengths)
    return [math.log1p(len(body)), len(numbers), len(set(numbers)),
            math.log1p(max((float(n.replace(",", "")) for n in numbers), default=0.0)),
            sum("." in n for n in numbers), body.count("/"), body.count("%"), body.count("$"),
            len(re.findall(r"[.!?](?:\s|$)", body)), body.count("?"), len(_NEGATION.findall(body)),
            sum(w.isupper() and len(w) > 2 for w in body.split()),
            sum(any(c.isdigit() for c in o) and len(o) < 20 for o in options),
            math.log1p(mean), math.log1p(max(lengths)), float(np.std(lengths)) / (mean + 1),
            float("Statement 1" in text), float("which of the following" in body.lower()),
            len(_STEP_WORDS.findall(body)), len(re.findall(r"[=+*^]", body)),
            float(any(o.strip().lower() in ("all of the above", "none of the above") for o in options))]


def standardised(matrix: np.ndarray) -> np.ndarray:
    scale = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(scale < 1e-9, 1.0, scale)


# ---- learners (numpy) -------------------------------------------------------------------------------

def logistic(x: np.ndarray, y: np.ndarray, c: float, rounds: int = 25) -> np.ndarray:
    """Weights (bias last) minimising C·Σ log loss + ½‖w‖² (bias free), by Newton's method."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    ridge = np.ones(design.shape[1])
    ridge[-1] = 1e-6
    for _ in range(rounds):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -30, 30)))
        grad = c * design.T @ (p - y) + ridge * w
        hessian = c * (design.T * (p * (1 - p))) @ design + np.diag(ridge)
        step = np.linalg.solve(hessian, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def two_heads(fit: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], data: Outcomes) -> Scorer:
    """P(cheap right) − P(strong right); `fit(train, labels, rows)` fits one head on the training rows and
    returns its probabilities for `rows`."""
    def score(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
        cheap = fit(train, (data.cheap_q[train] >= 0.5).astype(float), rows)
        strong = fit(train, (data.strong_q[train] >= 0.5).astype(float), rows)
        return cheap - strong
    return score


def lr_scorer(x: np.ndarray, c: float, data: Outcomes) -> Scorer:
    def fit(train: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        w = logistic(x[train], y, c)
        return 1 / (1 + np.exp(-(x[rows] @ w[:-1] + w[-1])))
    return two_heads(fit, data)


def boosted_scorer(x: np.ndarray, data: Outcomes, rounds: int = 100, depth: int = 3, rate: float = 0.03,
                   min_leaf: int = 20, subsample: float = 0.8, bins: int = 32) -> Scorer:
    """Gradient-boosted trees on the log loss (histogram splits, Newton leaves, row subsampling)."""
    def fit(train: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        quantiles = np.linspace(0, 1, bins + 1)[1:-1]
        edges = [np.unique(np.quantile(x[train, j], quantiles)) for j in range(x.shape[1])]
        binned = np.stack([np.searchsorted(e, x[:, j], side="right") for j, e in enumerate(edges)], axis=1)
        offsets = np.arange(x.shape[1]) * bins
        rng = np.random.default_rng(0)
        prior = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
        logit_train = np.full(len(train), math.log(prior / (1 - prior)))
        logit_rows = np.full(len(rows), logit_train[0])
        for _ in range(rounds):
            p = 1 / (1 + np.exp(-logit_train))
            g, h = p - y, p * (1 - p)
            sample = rng.random(len(train)) < subsample
            # Each level splits every node of the level below; a node is (rows of train, rows of `rows`).
            nodes = [(np.flatnonzero(sample), np.arange(len(train)), np.arange(len(rows)))]
            for _level in range(depth):
                split_nodes = []
                for fit_idx, train_idx, row_idx in nodes:
                    best = _best_split(binned[train[fit_idx]] + offsets, g[fit_idx], h[fit_idx], x.shape[1], bins,
                                       min_leaf)
                    if best is None:
                        split_nodes.append((fit_idx, train_idx, row_idx))
                        continue
                    j, b = best
                    for side in (np.less_equal, np.greater):
                        split_nodes.append((fit_idx[side(binned[train[fit_idx], j], b)],
                                            train_idx[side(binned[train[train_idx], j], b)],
                                            row_idx[side(binned[rows[row_idx], j], b)]))
                nodes = split_nodes
            for fit_idx, train_idx, row_idx in nodes:
                value = -rate * g[fit_idx].sum() / (h[fit_idx].sum() + 1.0)
                logit_train[train_idx] += value
                logit_rows[row_idx] += value
        return 1 / (1 + np.exp(-logit_rows))
    return two_heads(fit, data)


def _best_split(codes: np.ndarray, g: np.ndarray, h: np.ndarray, features: int, bins: int, min_leaf: int
                ) -> tuple[int, int] | None:
    """(feature, last bin on the left) of the split with the largest gain, or None."""
    size = features * bins
    flat = codes.ravel()
    grad = np.bincount(flat, np.repeat(g, features), minlength=size).reshape(features, bins).cumsum(axis=1)
    hess = np.bincount(flat, np.repeat(h, features), minlength=size).reshape(features, bins).cumsum(axis=1)
    count = np.bincount(flat, minlength=size).reshape(features, bins).cumsum(axis=1)
    total_g, total_h, total_n = g.sum(), h.sum(), len(g)
    gain = grad ** 2 / (hess + 1) + (total_g - grad) ** 2 / (total_h - hess + 1) - total_g ** 2 / (total_h + 1)
    gain[(count < min_leaf) | (total_n - count < min_leaf)] = -np.inf
    j, b = np.unravel_index(int(np.argmax(gain)), gain.shape)
    return (int(j), int(b)) if gain[j, b] > 1e-9 else None


def knn_scorer(vectors: np.ndarray, k: int, data: Outcomes) -> Scorer:
    change = data.cheap_q - data.strong_q

    def score(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
        similarity = vectors[rows] @ vectors[train].T
        nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
        return change[train][nearest].mean(axis=1)
    return score


def subject_scorer(subjects: np.ndarray, prior: float, data: Outcomes) -> Scorer:
    """Each subject's mean quality change on the training rows, shrunk toward the overall mean."""
    change = data.cheap_q - data.strong_q

    def score(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
        overall = change[train].mean()
        sums = np.bincount(subjects[train], change[train], minlength=subjects.max() + 1)
        counts = np.bincount(subjects[train], minlength=subjects.max() + 1)
        return ((sums + prior * overall) / (counts + prior))[subjects[rows]]
    return score


# ---- cross-validation -------------------------------------------------------------------------------

def per_dollar(change: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Rank by predicted quality lost per dollar saved (floored, so a predicted gain ranks by its saving),
    mapped into (0, 1] as `tune`'s thresholds expect: high = cheap is fine."""
    loss = np.maximum(-change, 1e-4) / gap
    return 1 / (1 + loss / np.median(loss))


@dataclass
class Result:
    quality: list[float]
    saved: list[float]
    curve: list[float]


def cross_validate(scorer: Scorer, data: Outcomes, seeds: int, folds: int) -> Result:
    n = len(data.cheap_q)
    result = Result([], [], [])
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(n)
        parts = [np.sort(order[k::folds]) for k in range(folds)]
        score = np.zeros(n)
        for part in parts:
            score[part] = scorer(np.setdiff1d(np.arange(n), part), part)
        score = per_dollar(score, data.gap)
        cheap = np.zeros(n, dtype=bool)
        for part in parts:
            rest = np.setdiff1d(np.arange(n), part)
            threshold = _choose_threshold(score[rest], data.cheap_q[rest], data.strong_q[rest], data.cheap_c[rest],
                                          data.strong_c[rest], data.target)
            cheap[part] = score[part] >= threshold
        quality, saved = data.saved(cheap)
        result.quality.append(quality)
        result.saved.append(saved)
        result.curve.append(data.best_point(score))
    return result


def row(name: str, result: Result, goal: float) -> str:
    saved, quality, curve = np.array(result.saved), np.array(result.quality), np.array(result.curve)
    met = int(((saved >= goal) & (quality >= TARGET - 1e-12)).sum())
    return (f"  {name:<46} {quality.mean():6.1%} {saved.mean():6.1%} ±{saved.std():4.1%} "
            f"[{saved.min():5.1%}..{saved.max():5.1%}] {met:>2}/{len(saved)} │ "
            f"{np.mean(curve):6.1%} ±{np.std(curve):4.1%}")


def bound(name: str, saved: float) -> str:
    return f"  {name:<46} {'':>6} {saved:6.1%}  (in-sample, no threshold to choose)"


def main() -> None:
    parser = replay_parser(__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, help="fold assignments to repeat the cross-validation over "
                        f"(default {', '.join(f'{k} {v}' for k, v in SEEDS.items())})")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    args.cache.mkdir(parents=True, exist_ok=True)
    cache, encoder = EmbeddingCache(args.cache / "embeddings.db"), MiniLMEncoder()
    profile = load_profile(PROFILE)
    print(f"load average at start {os.getloadavg()[0]:.1f}; training halves only (the held-out halves are not "
          f"read); {args.folds}-fold cross-validation, repeated over fold seeds; target {TARGET:.0%} of strong")
    for name in args.sets.split(","):
        path = args.replay / f"routellm_{name}.jsonl"
        if not path.is_file():
            sys.exit(f"{path}: not found; pass --replay DIR (the shared replay data)")
        items = [i for i in load_replay(path) if not held_out(i)]
        pricer = Pricer(items)
        data = outcomes(items, pricer)
        goal = GOALS.get(name, 0.0)
        seeds = args.seeds or SEEDS.get(name, 5)
        log(f"[{name}] features for {len(items)} prompts")
        facts = [PromptFacts(i.prompt, pricer.prompt_tokens(i), pricer.prompt_tokens(i) + 7) for i in items]
        named = np.array([[f[k] for k in FEATURES] for f in map(prompt_features, facts)])
        hand = np.array([hand_features(i.prompt) for i in items])
        vectors = prompt_vectors(encoder, [i.prompt for i in items], cache=cache).astype(float)
        subject_names = sorted({i.category for i in items})
        subjects = np.array([subject_names.index(i.category) for i in items])
        dense = standardised(np.hstack([named, hand]))
        one_hot = np.eye(len(subject_names))[subjects]

        strong_q, cheap_q = float(data.strong_q.mean()), float(data.cheap_q.mean())
        share = min(1.0, max(0.0, (data.target - cheap_q) / (strong_q - cheap_q)))
        random_saved = 1 - (share * data.strong_c.sum() + (1 - share) * data.cheap_c.sum()) / data.strong_c.sum()
        print(f"\n{path.name}, training half: {len(items)} prompts, {len(subject_names)} subject(s), {seeds} fold "
              f"seeds; strong "
              f"{strong_q:.3f}, cheap {cheap_q:.3f}; goal {goal:.0%} saved at {TARGET:.0%} of strong")
        print(f"  {'method':<46} {'qual.':>6} {'saved at tune threshold':<31} {'goal':>5} │ best point of the curve")
        print(f"  {'random (expected, share ' + format(share, '.0%') + ' strong)':<46} {TARGET:6.1%} "
              f"{random_saved:6.1%}")
        runs: list[tuple[str, Scorer]] = [
            ("prompt length only (no learning)", lambda train, rows: np.zeros(len(rows))),
            ("LR named+hand (C=1)", lr_scorer(dense, 1.0, data)),
            ("boosted trees named+hand (100×0.03, depth 3)", boosted_scorer(np.hstack([named, hand]), data)),
            ("LR MiniLM (C=0.1)", lr_scorer(vectors, 0.1, data)),
            ("kNN MiniLM (k=100)", knn_scorer(vectors, 100, data)),
        ]
        if len(subject_names) > 1:
            runs += [("subject rate (shrunk, prior 30)", subject_scorer(subjects, 30.0, data)),
                     ("LR subject+MiniLM (C=0.1)", lr_scorer(np.hstack([one_hot, vectors]), 0.1, data)),
                     ("LR subject+MiniLM+named+hand (C=0.1)", lr_scorer(np.hstack([one_hot, vectors, dense]), 0.1,
                                                                         data))]
        for label, scorer in runs:
            began = time.perf_counter()
            result = cross_validate(scorer, data, seeds, args.folds)
            log(f"[{name}] {label}: {time.perf_counter() - began:.0f} s")
            print(row(label, result, goal), flush=True)
        tuned = Result([], [], [])
        for seed in range(seeds):
            log(f"[{name}] tune (hashed words), seed {seed + 1}/{seeds}")
            _, report = tune(profile, items, target_quality=TARGET, folds=args.folds, seed=seed, data_name=path.name)
            tuned.quality.append(report.cv_quality / report.strong_quality)
            tuned.saved.append(1 - report.cv_cost / report.strong_cost)
            tuned.curve.append(report.cost_saved_at_target or 0.0)
        print(row("product: tune, hashed words (its own CV)", tuned, goal))
        if len(subject_names) > 1:
            change = data.cheap_q - data.strong_q
            rate = np.bincount(subjects, change) / np.bincount(subjects)
            print(bound("subject rates in-sample, per dollar (bound)", data.best_point(per_dollar(rate[subjects],
                                                                                                 data.gap))))
        print(bound("oracle, in-sample", data.best_point(per_dollar(data.cheap_q - data.strong_q, data.gap))))
    print(f"\nload average at end {os.getloadavg()[0]:.1f}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
