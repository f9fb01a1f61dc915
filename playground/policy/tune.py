"""Learning a profile's `learned` route from replay data, with honest cross-validated metrics.

Two logistic heads predict, per prompt, the score of the cheap tier's model and of the strong tier's
model from cheap features (named prompt features and hashed words); a prompt goes cheap when the
first is high relative to the second. The threshold is calibrated to the quality target on
out-of-fold predictions, and every metric printed is measured on folds the model did not see.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np

from playground.config.profile import FEATURES, Head, LearnedSpec, Profile, Route
from playground.policy.evaluation import EvalError, Pricer, replay_catalog
from playground.policy.replay import ReplayItem
from playground.router import RouteRequest, decide
from playground.router.decide import tier_cost
from playground.router.embeddings import EmbeddingCache, Encoder
from playground.router.features import combine, hashed_features, prompt_features
from playground.router.rules import PromptFacts
from playground.router.semantic import prompt_vectors

Progress = Callable[[str, int, int], None]
L2 = 1e-3
"""Weight decay of the named features and hashed words."""
EMBEDDING_GRID = ((8, 0.03), (32, 0.03), (32, 0.3), (384, 3.0))
"""(principal directions of the prompts' embeddings kept, weight decay) tried; cross-validation picks one.
Hundreds of dense dimensions on a few hundred prompts overfit at the decay that suits sparse hashed words;
a few leading directions (what the prompts are about) carry most of what the embedding knows. Either way
the profile keeps one weight per embedding dimension: the projection folds into the weights."""


@dataclass(frozen=True)
class TuneReport:
    n: int
    folds: int
    cheap_model: str
    strong_model: str
    threshold: float
    target_quality: float
    strong_quality: float
    cheap_quality: float
    cv_quality: float
    cv_cost: float
    cv_strong_share: float
    strong_cost: float
    cpt50: float | None
    cpt80: float | None
    apgr: float
    cost_saved_at_target: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Data:
    named: np.ndarray  # (n, len(FEATURES) + embedding dimensions), standardised
    mean: np.ndarray
    scale: np.ndarray
    rows: np.ndarray  # sparse hashed features as (row, bucket, value) triplets
    cols: np.ndarray
    vals: np.ndarray
    n: int
    buckets: int
    step: float = 1.0
    """Gradient step: the inverse of the log loss's curvature bound over these features."""
    basis: np.ndarray | None = None
    """(embedding dimensions, kept directions): the embedding columns are the prompt's vector times this."""


def _with_embedding(data: _Data, vectors: np.ndarray, directions: int) -> _Data:
    """The design with the prompts' embeddings, projected on their leading principal directions, appended."""
    basis = None
    columns = vectors.astype(float)
    if directions < vectors.shape[1]:
        _, _, components = np.linalg.svd(columns - columns.mean(axis=0), full_matrices=False)
        basis = components[:directions].T
        columns = columns @ basis
    mean, scale = columns.mean(axis=0), columns.std(axis=0)
    scale[scale < 1e-9] = 1.0
    base = len(FEATURES)
    extended = _Data(np.hstack([data.named[:, :base], (columns - mean) / scale]),
                     np.concatenate([data.mean[:base], mean]), np.concatenate([data.scale[:base], scale]),
                     data.rows, data.cols, data.vals, data.n, data.buckets, basis=basis)
    extended.step = 1.0 / _curvature(extended)
    return extended


def _design(items: list[ReplayItem], pricer: Pricer, buckets: int) -> _Data:
    named, rows, cols, vals = [], [], [], []
    for i, item in enumerate(items):
        tokens = pricer.prompt_tokens(item)
        facts = PromptFacts(item.prompt, tokens, tokens + 7)
        features = prompt_features(facts)
        named.append([features[name] for name in FEATURES])
        hashed = hashed_features(item.prompt, buckets)
        rows += [i] * len(hashed)
        cols += list(hashed)
        vals += list(hashed.values())
    matrix = np.array(named, dtype=float)
    mean, scale = matrix.mean(axis=0), matrix.std(axis=0)
    scale[scale < 1e-9] = 1.0  # constant features (up to rounding) carry no signal
    data = _Data((matrix - mean) / scale, mean, scale, np.array(rows), np.array(cols), np.array(vals, dtype=float),
                 len(items), buckets)
    data.step = 1.0 / _curvature(data)
    return data


def _curvature(data: _Data, rounds: int = 30) -> float:
    """An upper bound of the log loss's Hessian (1/4 of the design's largest eigenvalue per row, plus the
    bias), by power iteration: a larger step diverges, a much smaller one learns too slowly."""
    rng = np.random.default_rng(0)
    v_named = np.asarray(rng.standard_normal(size=data.named.shape[1]))
    v_hashed = np.asarray(rng.standard_normal(size=data.buckets))
    largest = 1.0
    for _ in range(rounds):
        z = _logits(data, v_named, v_hashed, 0.0)
        v_named, v_hashed = data.named.T @ z / data.n, np.bincount(data.cols, weights=data.vals * z[data.rows],
                                                                     minlength=data.buckets) / data.n
        largest = float(np.sqrt(v_named @ v_named + v_hashed @ v_hashed))
        v_named, v_hashed = v_named / largest, v_hashed / largest
    return 0.25 * (largest * 1.1 + 1.0)


def _logits(data: _Data, w_named: np.ndarray, w_hashed: np.ndarray, bias: float) -> np.ndarray:
    return data.named @ w_named + np.bincount(data.rows, weights=data.vals * w_hashed[data.cols],
                                              minlength=data.n) + bias


def _fit(data: _Data, target: np.ndarray, train: np.ndarray, *, l2: float = L2, embedding_l2: float = L2,
         epochs: int = 300) -> tuple[np.ndarray, np.ndarray, float]:
    """Nesterov-accelerated full-batch gradient descent on the L2-regularised log loss (soft targets
    allowed), deterministic."""
    w = [np.zeros(data.named.shape[1]), np.zeros(data.buckets), np.zeros(1)]
    ahead = [x.copy() for x in w]
    mask = np.zeros(data.n)
    mask[train] = 1.0
    m = mask.sum()
    in_train = mask[data.rows]
    decay = np.full(data.named.shape[1], l2)
    decay[len(FEATURES):] = embedding_l2
    rate = data.step / (1.0 + max(l2, embedding_l2) * data.step)
    for epoch in range(epochs):
        p = 1.0 / (1.0 + np.exp(-_logits(data, ahead[0], ahead[1], float(ahead[2][0]))))
        g = (p - target) * mask
        grads = [data.named.T @ g / m + decay * ahead[0],
                 np.bincount(data.cols, weights=data.vals * g[data.rows] * in_train, minlength=data.buckets) / m
                 + l2 * ahead[1],
                 np.array([g.sum() / m])]
        momentum = epoch / (epoch + 3)
        for i, (x, grad) in enumerate(zip(ahead, grads)):
            new = x - rate * grad
            ahead[i] = new + momentum * (new - w[i])
            w[i] = new
    return w[0], w[1], float(w[2][0])


def _head(data: _Data, fitted: tuple[np.ndarray, np.ndarray, float]) -> Head:
    """Fold the standardisation into the weights so the profile applies them to raw features."""
    w_named, w_hashed, bias = fitted
    raw = w_named / data.scale
    bias = bias - float((w_named * data.mean / data.scale).sum())
    # Tiny hashed weights change no decision but would bloat the profile.
    hashed = {int(b): round(float(w), 5) for b, w in enumerate(w_hashed) if abs(w) >= 1e-4}
    named, embedding = raw[:len(FEATURES)], raw[len(FEATURES):]
    if data.basis is not None:
        embedding = data.basis @ embedding
    return Head(bias=round(bias, 6), weights={name: round(float(w), 6) for name, w in zip(FEATURES, named)},
                hashed_weights=hashed, embedding_weights=tuple(round(float(w), 4) for w in embedding))


def _score(cheap: np.ndarray, strong: np.ndarray, gap: np.ndarray, cost_scale: float) -> np.ndarray:
    """The router's own formula (features.combine), vectorised."""
    return np.array([combine(c, s, g, cost_scale) for c, s, g in zip(cheap, strong, gap)])


def _cost_scale(cheap: np.ndarray, strong: np.ndarray, gap: np.ndarray) -> float:
    """1 / the typical quality lost per dollar saved, so scores spread around 0.5."""
    ratios = np.maximum(strong - cheap, 0) / np.where(gap > 0, gap, np.inf)
    typical = float(np.median(ratios[ratios > 0])) if (ratios > 0).any() else 1.0
    return 1.0 / typical


def _curve(score: np.ndarray, cheap_q: np.ndarray, strong_q: np.ndarray, cheap_c: np.ndarray, strong_c: np.ndarray):
    """(threshold, strong share, quality, cost) as prompts go cheap in order of falling score; only at
    thresholds a router can express (ties move together)."""
    order = np.argsort(-score, kind="stable")
    n = len(score)
    quality = strong_q.sum() + np.concatenate([[0.0], np.cumsum(cheap_q[order] - strong_q[order])])
    cost = strong_c.sum() + np.concatenate([[0.0], np.cumsum(cheap_c[order] - strong_c[order])])
    thresholds = np.concatenate([[1.01], score[order]])
    shares = 1.0 - np.arange(n + 1) / n
    ranked = score[order]
    keep = np.concatenate([[True], np.append(ranked[1:] < ranked[:-1], True)])
    return thresholds[keep], shares[keep], quality[keep] / n, cost[keep]


def _choose_threshold(score, cheap_q, strong_q, cheap_c, strong_c, target: float) -> float:
    """The cheapest threshold whose quality still reaches the target by one standard error (never cheap if
    none does). Without that margin the cheapest point of a noisy curve is a lucky one: on new prompts its
    quality falls below the target about as often as not, and further on small data (GSM8K's 300 prompts)."""
    thresholds, _, quality, cost = _curve(score, cheap_q, strong_q, cheap_c, strong_c)
    order = np.argsort(-score, kind="stable")
    change = (cheap_q - strong_q)[order]
    moved = np.arange(1, len(score) + 1)
    # The spread of the quality lost by the prompts sent cheap so far (a sum of `moved` differences).
    mean = np.cumsum(change) / moved
    variance = np.maximum(np.cumsum(change ** 2) / moved - mean ** 2, 0.0)
    error = np.concatenate([[0.0], np.sqrt(variance * moved) / len(score)])
    ranked = score[order]
    keep = np.concatenate([[True], np.append(ranked[1:] < ranked[:-1], True)])
    ok = np.flatnonzero(quality - error[keep] >= target - 1e-12)
    return float(min(thresholds[ok[np.argmin(cost[ok])]], 1.01)) if len(ok) else 1.01


def tune(profile: Profile, items: list[ReplayItem], *, target_quality: float = 0.95, folds: int = 5, seed: int = 0,
         buckets: int = 4096, data_name: str = "", progress: Progress | None = None,
         now: datetime | None = None, encoder: Encoder | None = None, cache: EmbeddingCache | None = None
         ) -> tuple[Profile, TuneReport]:
    """With `encoder`, the heads also weigh each prompt's sentence embedding (as the semantic stage reads the
    prompt; computed through `cache` when given)."""
    if not 0 < target_quality <= 1:
        raise EvalError("--target-quality is a fraction of the strong model's quality, in (0, 1]")
    catalog = replay_catalog(profile)
    route = next((r for r in profile.routes if r.learned), None)
    default = profile.routes[-1]
    cheap_tier = route.learned.cheap_tier if route and route.learned else default.tier
    pricer = Pricer(items)
    # Which model each tier would answer with: route every prompt once through each tier alone.
    tier_profile = {name: profile.model_copy(update={"routes": (Route(name="t", tier=name),)})
                    for name in profile.tiers}
    quality_by_model: dict[str, list[float]] = {}
    for item in items:
        for model, outcome in item.outcomes.items():
            quality_by_model.setdefault(model, []).append(outcome.score)
    means = {m: sum(v) / len(v) for m, v in quality_by_model.items()}
    strong_tier = route.tier if route else max(
        (t for t in profile.tiers if t != cheap_tier),
        key=lambda t: max((means.get(m.alias, 0.0) for m in catalog.members(profile.tiers[t])), default=0.0),
        default=None)
    if strong_tier is None:
        raise EvalError(f"profile {profile.name!r} needs a second tier (stronger than {cheap_tier!r}) to tune")

    # The router estimates the price gap from the request and a typical reply length: learn that length here.
    outputs = sorted(o.output_tokens for item in items for o in item.outcomes.values() if o.output_tokens is not None)
    expected_output = max(1, outputs[len(outputs) // 2]) if outputs else max(1, min(pricer.median_output.values(),
                                                                                    default=1))
    profile = profile.model_copy(update={"expected_output_tokens": expected_output})
    usable: list[ReplayItem] = []
    columns: dict[str, list[float]] = {k: [] for k in ("cheap_q", "strong_q", "cheap_c", "strong_c", "gaps")}
    cheap_model = strong_model = ""
    for item in items:
        picks = {}
        for tier in (cheap_tier, strong_tier):
            decision = decide(RouteRequest(item.prompt, 1, 1), tier_profile[tier], catalog, now=0.0)
            picks[tier] = next((a for a in (decision.model, *decision.fallbacks) if a in item.outcomes), None)
        cheap_pick, strong_pick = picks[cheap_tier], picks[strong_tier]
        if cheap_pick is None or strong_pick is None:
            continue
        cheap_model, strong_model = cheap_pick, strong_pick
        usable.append(item)
        columns["cheap_q"].append(item.outcomes[cheap_model].score)
        columns["strong_q"].append(item.outcomes[strong_model].score)
        columns["cheap_c"].append(pricer.cost(item, cheap_model, catalog[cheap_model]))
        columns["strong_c"].append(pricer.cost(item, strong_model, catalog[strong_model]))
        request_tokens = pricer.prompt_tokens(item) + 7
        columns["gaps"].append((tier_cost(catalog, profile, strong_tier, request_tokens) or 0.0)
                               - (tier_cost(catalog, profile, cheap_tier, request_tokens) or 0.0))
    if len(usable) < folds * 4:
        raise EvalError(f"only {len(usable)} prompts have outcomes for both tiers ({cheap_tier}, {strong_tier}); "
                        f"tuning needs at least {folds * 4}")
    cheap_q, strong_q, cheap_c, strong_c, gaps = (np.array(columns[k]) for k in columns)
    vectors = None
    if encoder is not None:
        def embedded(done: int, total: int) -> None:
            if progress and (done % 1024 == 0 or done == total):  # a line per 1,024 prompts, not per batch
                progress("embedding distinct prompts", done, total)

        vectors = prompt_vectors(encoder, [item.prompt for item in usable], cache=cache, progress=embedded)
    plain = _design(usable, pricer, buckets)
    target = target_quality * strong_q.mean()

    order = list(range(len(usable)))
    random.Random(seed).shuffle(order)
    parts = [np.array(sorted(order[k::folds])) for k in range(folds)]
    grid = EMBEDDING_GRID if vectors is not None else ((0, L2),)
    # (saved, data, decay, cost scale, out-of-fold P(cheap), P(strong)) of the best setting
    best: tuple[float, _Data, float, float, np.ndarray, np.ndarray] | None = None
    for round_, (directions, decay) in enumerate(grid):
        data = _with_embedding(plain, vectors, directions) if vectors is not None else plain
        oof_cheap, oof_strong = np.zeros(len(usable)), np.zeros(len(usable))
        for k, held_out in enumerate(parts):
            train = np.setdiff1d(np.arange(len(usable)), held_out)
            p_cheap = 1 / (1 + np.exp(-_logits(data, *_fit(data, np.clip(cheap_q, 0, 1), train, embedding_l2=decay))))
            p_strong = 1 / (1 + np.exp(-_logits(data, *_fit(data, np.clip(strong_q, 0, 1), train,
                                                            embedding_l2=decay))))
            oof_cheap[held_out], oof_strong[held_out] = p_cheap[held_out], p_strong[held_out]
            if progress:
                progress("cross-validating", round_ * folds + k + 1, folds * len(grid))
        scale = _cost_scale(oof_cheap, oof_strong, gaps)
        _, _, quality, cost = _curve(_score(oof_cheap, oof_strong, gaps, scale), cheap_q, strong_q, cheap_c, strong_c)
        reaching = cost[quality >= target - 1e-12]
        cheapest = float(1 - reaching.min() / strong_c.sum()) if len(reaching) and strong_c.sum() else 0.0
        if best is None or cheapest > best[0] + 1e-9:
            best = (cheapest, data, decay, scale, oof_cheap, oof_strong)
    assert best is not None
    _, data, embedding_l2, cost_scale, oof_cheap, oof_strong = best
    out_of_fold = _score(oof_cheap, oof_strong, gaps, cost_scale)

    # The routed result at a calibrated threshold, each fold's threshold chosen without that fold.
    chosen = np.zeros(len(usable), dtype=bool)
    for held_out in parts:
        rest = np.setdiff1d(np.arange(len(usable)), held_out)
        t = _choose_threshold(out_of_fold[rest], cheap_q[rest], strong_q[rest], cheap_c[rest], strong_c[rest],
                              target)
        chosen[held_out] = out_of_fold[held_out] >= t
    cv_quality = float(np.where(chosen, cheap_q, strong_q).mean())
    cv_cost = float(np.where(chosen, cheap_c, strong_c).sum())

    _thresholds, shares, quality, cost = _curve(out_of_fold, cheap_q, strong_q, cheap_c, strong_c)
    gap = strong_q.mean() - cheap_q.mean()
    pgr = (quality - cheap_q.mean()) / gap if gap else np.zeros_like(quality)
    by_share = np.argsort(shares)
    xs, ys = shares[by_share], pgr[by_share]
    apgr = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))

    def cpt(fraction: float) -> float | None:
        ok = shares[pgr >= fraction]
        return float(ok.min()) if len(ok) else None

    reaching = cost[quality >= target - 1e-12]
    saved = float(1 - reaching.min() / strong_c.sum()) if len(reaching) and strong_c.sum() else None
    threshold = _choose_threshold(out_of_fold, cheap_q, strong_q, cheap_c, strong_c, target)
    if progress:
        progress("training on all prompts", 0, 1)
    all_rows = np.arange(len(usable))
    cheap_head = _head(data, _fit(data, np.clip(cheap_q, 0, 1), all_rows, embedding_l2=embedding_l2))
    strong_head = _head(data, _fit(data, np.clip(strong_q, 0, 1), all_rows, embedding_l2=embedding_l2))
    report = TuneReport(len(usable), folds, cheap_model, strong_model, round(threshold, 6), target_quality,
                        float(strong_q.mean()), float(cheap_q.mean()), cv_quality, cv_cost,
                        float(1 - chosen.mean()), float(strong_c.sum()), cpt(0.5), cpt(0.8), apgr, saved)
    provenance = {"data": data_name, "tuned_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
                  "prompts": len(usable), "folds": folds, "seed": seed, "target_quality": target_quality,
                  "cv_quality": round(cv_quality, 4), "cv_strong_share": round(report.cv_strong_share, 4),
                  "cv_cost_saved_at_target": None if saved is None else round(saved, 4),
                  "cv_apgr": round(apgr, 4)}
    if vectors is not None:
        provenance |= {"embedding_l2": embedding_l2,
                       "embedding_directions": data.basis.shape[1] if data.basis is not None else vectors.shape[1]}
    learned = LearnedSpec(cheap_tier=cheap_tier, threshold=report.threshold, cheap=cheap_head, strong=strong_head,
                          hash_buckets=buckets, cost_scale=round(cost_scale, 6),
                          embedding_model=encoder.name if encoder is not None else None, provenance=provenance)
    new_route = Route(name=route.name if route else "learned", tier=strong_tier, learned=learned,
                      select=(route or default).select)
    # The learned route decides every prompt that reaches it, so it takes the default route's place.
    routes = [r for r in profile.routes if r is not route and r is not default] + [new_route]
    # A new name, so that `eval` of the original and the tuned profile side by side tells them apart.
    name = profile.name if profile.name.endswith("-tuned") else f"{profile.name}-tuned"
    tuned = profile.model_copy(update={"name": name, "routes": tuple(routes), "description":
                                       (profile.description + f" Learned route tuned on {data_name}.").strip()})
    return Profile.model_validate(tuned.model_dump(by_alias=True)), report
