"""Semantic routing on public prompts: FastChat's Vicuna bench (held out) and MT-Bench (development).

Held out: the Vicuna bench's 80 questions in 9 categories, routed by data/vicuna_routes.yaml, one route
per category written from the category names only, with no threshold, committed before any question was
read; the category-to-route mapping is the identity and the tier each category needs on the default
profile (strong for coding, math and fermi estimates, cheap for the rest) was written down before the
run. Development (the method was chosen on it, so its figures are not held out): MT-Bench's 80 first turns
in 8 categories, routed by data/mtbench_routes.yaml (ten utterances a route) and mtbench_routes_20.yaml
(twenty). Baselines in the same run, per set: the most similar
route with no threshold, the nearest utterance by TF-IDF, and the old fixed threshold 0.5. Also: the same
prompts at the end of ~2,000 tokens of material with a sentence after them, ten non-English prompts, and
decide() time at 200 and 16k tokens.

    .venv/bin/python -m benchmarks.heldout_routing [--n 50]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from playground.base.tokens import count_text
from playground.config.catalog import build_catalog
from playground.config.profile import Embeddings, load_profile
from playground.router import RouteRequest, decide, route_for
from playground.router.embeddings import EmbeddingCache
from playground.router.semantic import build_index

DATA = Path(__file__).parent / "data"
HELD_OUT = (DATA / "heldout" / "vicuna_bench_questions.jsonl", DATA / "vicuna_routes.yaml")
DEVELOPMENT = (DATA / "heldout" / "mt_bench_questions.jsonl", DATA / "mtbench_routes.yaml")
STRONG_NEEDED = {"vicuna_bench_questions": {"coding", "math", "fermi"},
                 "mt_bench_questions": {"coding", "math", "reasoning"}}
"""The tier each category needs on the default profile, from the category names (written before the run)."""
MATERIAL = ("Minutes of the planning meeting. Attendance was good and the room was booked for two hours. The "
            "quarterly figures were presented region by region, with small changes in every market; the team "
            "grew by four people and two moved offices. Facilities reported the heating repair is finished and "
            "the car park will be resurfaced in spring. The next meeting is on the first Monday of the month.\n\n")
CLOSING = "\n\nThanks a lot, I appreciate it."


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class TfIdfNearest:
    """The baseline: the route of the utterance with the highest TF-IDF cosine."""

    def __init__(self, utterances: list[tuple[str, str]]) -> None:
        self.labels = [route for route, _ in utterances]
        docs = [Counter(_words(text)) for _, text in utterances]
        df = Counter(w for d in docs for w in d)
        self.idf = {w: math.log((1 + len(docs)) / (1 + n)) + 1 for w, n in df.items()}
        self.vectors = [self._vector(d) for d in docs]

    def _vector(self, counts: Counter) -> dict[str, float]:
        v = {w: c * self.idf.get(w, 0.0) for w, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}

    def route(self, text: str) -> str:
        q = self._vector(Counter(_words(text)))
        sims = [sum(x * v.get(w, 0.0) for w, x in q.items()) for v in self.vectors]
        return self.labels[max(range(len(sims)), key=sims.__getitem__)]


def _p50_ms(fn, n: int) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def non_english() -> None:
    """Ten prompts in five languages and the same prompts in English, on the semantic profile, with its
    English encoder (MiniLM) alone, with MiniLM for English and multilingual-e5-small for prompts detected
    as another language (the default since 2026-12-01), and with multilingual-e5-small alone, in one run."""
    semantic = load_profile(Path(__file__).parent.parent / "playground" / "profiles" / "semantic.yaml")
    semantic_catalog = build_catalog(semantic, env={})
    pairs = [json.loads(line) for line in (DATA / "heldout" / "multilingual.jsonl").open()]
    for model, non_english in (("local", "same"), ("local", "multilingual"), ("local-multilingual", "same")):
        profile = semantic.model_copy(update={"embeddings": Embeddings(model=model, non_english=non_english)})
        index = build_index(profile, EmbeddingCache(Path(tempfile.mkdtemp()) / "e.db"))
        languages = Counter()
        for pair in pairs:
            for key in ("prompt", "english"):
                n = count_text(pair[key])
                got = route_for(RouteRequest(pair[key], n, n), profile, semantic_catalog, index)[0]
                languages[key] += got.name == pair["intent"]
        assert index is not None
        how = f"{index.encoder.name}" + (", other languages multilingual-e5-small" if non_english == "multilingual"
                                          and model == "local" else "")
        print(f"semantic profile, encoder {how}: non-English {languages['prompt']}/{len(pairs)} "
              f"(fr, de, es, zh, ja); the same prompts in English: {languages['english']}/{len(pairs)}; ratio "
              f"{languages['prompt'] / max(languages['english'], 1):.2f}")
        sample = pairs[0]["prompt"]
        reader = getattr(index, "multilingual", index).encoder  # the encoder that reads a non-English prompt
        ms = _p50_ms(lambda reader=reader, sample=sample: reader.encode([sample]), 20)
        print(f"  one encode of a {count_text(sample)}-token non-English prompt: p50 {ms:.1f} ms "
              f"(load {os.getloadavg()[0]:.1f})")


def accuracy(questions: Path, routes: Path, role: str, *, tiers: bool = True):
    """Top-1 of the routes on the questions' first turns (each category is the route of that name), with the
    baselines, the same prompts made long, and the default profile's tier per category."""
    profile = load_profile(routes)
    catalog = build_catalog(profile, env={})
    index = build_index(profile, EmbeddingCache(Path(tempfile.mkdtemp()) / "e.db"))
    rows = [json.loads(line) for line in questions.open()]
    tfidf = TfIdfNearest([(r.name, u) for r in profile.semantic_routes for u in r.semantic.utterances])

    def route(prompt: str):
        n = count_text(prompt)
        return decide(RouteRequest(prompt, n, n), profile, catalog, semantic=index, now=0.0)

    hits = Counter()
    for row in rows:
        prompt, truth = row["turns"][0], row["category"]
        d = route(prompt)
        best = max(d.similarities, key=d.similarities.get)
        hits["calibrated"] += d.route == truth
        hits["fell through"] += d.route == "none"
        hits["best, no threshold"] += best == truth
        hits["threshold 0.5"] += best == truth and d.similarities[best] >= 0.5
        hits["tf-idf nearest"] += tfidf.route(prompt) == truth
        long = MATERIAL * 30 + prompt + CLOSING
        hits["long, calibrated"] += route(long).route == truth
    total = len(rows)
    categories = Counter(row["category"] for row in rows)
    print(f"{role}: {questions.name}, {total} first turns in {len(categories)} categories, routes {routes.name} "
          f"(thresholds fitted)")
    for name in ("calibrated", "best, no threshold", "tf-idf nearest", "threshold 0.5", "long, calibrated"):
        print(f"  {name:<22} top-1 {hits[name] / total:6.1%}  ({hits[name]}/{total})")
    print(f"  fell through to the default: {hits['fell through']}/{total}")
    print(f"  long ÷ short: {hits['long, calibrated'] / max(hits['calibrated'], 1):.2f} "
          f"(~{count_text(MATERIAL * 30)} tokens of material before each prompt, a closing sentence after)")

    if not tiers:
        return profile, catalog, index
    # The shipped default profile on the same prompts: does each reach the tier its category needs?
    default = load_profile(Path(__file__).parent.parent / "playground" / "profiles" / "default.yaml")
    default_catalog = build_catalog(default, env={})
    default_index = build_index(default, EmbeddingCache(Path(tempfile.mkdtemp()) / "e.db"))
    strong_needed = STRONG_NEEDED[questions.stem]
    reached = Counter()
    for row in rows:
        n = count_text(row["turns"][0])
        got = route_for(RouteRequest(row["turns"][0], n, n), default, default_catalog, default_index)[0]
        reached[row["category"], got.tier == ("strong" if row["category"] in strong_needed else "cheap")] += 1
    right = sum(n for (_, ok), n in reached.items() if ok)
    print(f"  default profile, right tier (strong for {', '.join(sorted(strong_needed))}, cheap for the rest): "
          f"{right}/{total}; " + ", ".join(f"{c} {reached[c, True]}/{categories[c]}" for c in sorted(categories)))
    return profile, catalog, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="timed decisions per prompt length")
    parser.add_argument("--non-english-only", action="store_true", help="only the non-English check")
    args = parser.parse_args()
    if args.non_english_only:
        non_english()
        return
    accuracy(*HELD_OUT, "HELD OUT")
    profile, catalog, index = accuracy(*DEVELOPMENT, "DEVELOPMENT (the method was chosen on it; not held out)")
    accuracy(DEVELOPMENT[0], DATA / "mtbench_routes_20.yaml", "DEVELOPMENT, twenty utterances a route", tiers=False)

    non_english()

    short = (MATERIAL * 3)[:1000] + "Summarise the notes above in three bullet points."
    long = MATERIAL * 220 + "Summarise the notes above in three bullet points."
    floor = _p50_ms(lambda: index.encoder.encode([short]), args.n)
    print(f"one MiniLM encode of a 64-wordpiece text (the floor, same run): p50 {floor:.1f} ms")
    for text in (short, long):
        n = count_text(text)
        # A new prompt each call: the index keeps the last prompt's embedding for the stages after it.
        fresh = itertools.count()
        ms = _p50_ms(lambda text=text, n=n, fresh=fresh: decide(RouteRequest(f"{text} ({next(fresh)})", n, n),
                                                                profile, catalog, semantic=index, now=0.0), args.n)
        base = _p50_ms(lambda text=text, n=n: decide(RouteRequest(text, n, n), profile, catalog, now=0.0), args.n)
        print(f"decide() with the semantic stage, {n:,}-token prompt: p50 {ms:.1f} ms "
              f"= {ms / floor:.2f}× the floor (same profile without its index: {base:.2f} ms)")


if __name__ == "__main__":
    main()
