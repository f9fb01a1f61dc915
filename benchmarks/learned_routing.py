"""The learned route on held-out halves of RouteLLM's GSM8K and MMLU outcomes: cost saved at the threshold
`tune` chose, with and without the prompt's sentence embedding, against random routing.

Each file is split in two by a hash of the prompt id. `tune` sees only the training half (it cross-validates
and chooses its threshold there); every figure below is measured on the other half, routed by the tuned
profile's own decide(). Prompt embeddings (MiniLM, as the semantic stage reads a prompt) are cached in
--cache, so only the first run pays for them.

    .venv/bin/python -m benchmarks.learned_routing [--replay DIR] [--cache DIR] [--sets gsm8k,mmlu]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from playground.config.profile import Profile, load_profile
from playground.policy.evaluation import Pricer, evaluate, replay_catalog
from playground.policy.replay import ReplayItem, load_replay
from playground.policy.tune import TuneReport, tune
from playground.router.embeddings import EmbeddingCache, MiniLMEncoder
from playground.router.semantic import build_index

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "playground" / "profiles" / "replay" / "routellm.yaml"
TARGET = 0.95


def held_out(item: ReplayItem) -> bool:
    """The test half: decided by the id's hash, so the split never depends on what is in the file."""
    return hashlib.sha256(item.id.encode()).digest()[0] % 2 == 1


def _unit(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2 ** 64


def random_routing(train: list[ReplayItem], test: list[ReplayItem], strong: str, weak: str
                   ) -> tuple[float, float, float]:
    """(quality, cost, strong share) on the test half when a prompt goes strong with probability s (by a hash
    of its id), s chosen on the training half as the smallest share whose expected quality reaches the target."""
    q_strong = sum(i.outcomes[strong].score for i in train) / len(train)
    q_weak = sum(i.outcomes[weak].score for i in train) / len(train)
    share = min(1.0, max(0.0, (TARGET * q_strong - q_weak) / (q_strong - q_weak))) if q_strong > q_weak else 0.0
    catalog, pricer = replay_catalog(load_profile(PROFILE)), Pricer(test)
    quality = cost = 0.0
    sent = 0
    for item in test:
        model = strong if _unit(item.id) < share else weak
        sent += model == strong
        quality += item.outcomes[model].score
        cost += pricer.cost(item, model, catalog[model])
    return quality / len(test), cost, sent / len(test)


def _line(name: str, quality: float, strong_quality: float, cost: float, strong_cost: float, share: float,
          curve: float | None) -> str:
    ratio = quality / strong_quality
    ok = "meets" if ratio >= TARGET - 1e-12 else "BELOW"
    best = "–" if curve is None else f"{curve:6.1%}"
    return (f"  {name:<26} quality {quality:.3f} = {ratio:6.1%} of strong ({ok} {TARGET:.0%}) · cost saved "
            f"{1 - cost / strong_cost:6.1%} · strong share {share:5.1%} · best point of the curve {best}")


def replay_parser(description: str) -> argparse.ArgumentParser:
    """The options this benchmark and learned_ceiling share: where the replay files and the embedding cache are."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--replay", type=Path, default=ROOT.parent / "shared" / "data" / "replay",
                        help="folder holding routellm_gsm8k.jsonl and routellm_mmlu.jsonl")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                        / "llm-playground-bench", help="where prompt embeddings are cached")
    parser.add_argument("--sets", default="gsm8k,mmlu")
    return parser


def main() -> None:
    args = replay_parser(__doc__.splitlines()[0]).parse_args()
    profile = load_profile(PROFILE)
    args.cache.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(args.cache / "embeddings.db")
    encoder = MiniLMEncoder()
    print(f"load average at start {os.getloadavg()[0]:.1f}; prompt embeddings cached in {cache.path}")
    for name in args.sets.split(","):
        path = args.replay / f"routellm_{name}.jsonl"
        if not path.is_file():
            sys.exit(f"{path}: not found; pass --replay DIR (the shared replay data)")
        items = load_replay(path)
        train = [i for i in items if not held_out(i)]
        test = [i for i in items if held_out(i)]
        print(f"\n{path.name}: {len(train)} prompts to tune on, {len(test)} held out")
        results: list[tuple[str, Profile, TuneReport]] = []
        for label, kwargs in (("hashed words", {}), ("hashed words + embedding", {"encoder": encoder, "cache": cache})):
            started = time.perf_counter()

            def show(stage: str, done: int, total: int, label=label) -> None:
                print(f"    [{label}] {stage} {done}/{total}", file=sys.stderr, flush=True)

            tuned, report = tune(profile, train, target_quality=TARGET, data_name=path.name, progress=show,
                                 **kwargs)
            provenance = tuned.routes[-1].learned.provenance if tuned.routes[-1].learned else {}
            chosen = (f" (by cross-validation: {provenance['embedding_directions']} embedding directions, weight "
                      f"decay {provenance['embedding_l2']})" if "embedding_l2" in provenance else "")
            print(f"  tuned {label!r} in {time.perf_counter() - started:.0f} s{chosen}: threshold "
                  f"{report.threshold:.4f}, cross-validated on the training half: "
                  f"{report.cv_quality / report.strong_quality:.1%} of strong, saved "
                  f"{1 - report.cv_cost / report.strong_cost:.1%}")
            results.append((label, tuned, report))
        print(f"  held-out half ({len(test)} prompts), each at the threshold tune chose:")
        for label, tuned, _ in results:
            index = build_index(tuned, cache)
            if index is not None:
                index.prefetch([i.prompt for i in test], cache=cache)
            evaluated = evaluate(tuned, test, semantic=index)
            strong = evaluated.baselines[evaluated.strong_model].total.summary()
            weak = evaluated.baselines[evaluated.weak_model].total.summary()
            routed = evaluated.router.total.summary()
            strong_quality, strong_cost = strong["quality"], strong["cost_usd"]
            if label == results[0][0]:
                print(_line(f"all {evaluated.weak_model}", weak["quality"], strong_quality, weak["cost_usd"],
                            strong_cost, 0.0, None))
                quality, cost, share = random_routing(train, test, evaluated.strong_model, evaluated.weak_model)
                print(_line("random (share from train)", quality, strong_quality, cost, strong_cost, share, None))
            print(_line(label, routed["quality"], strong_quality, routed["cost_usd"], strong_cost,
                        routed["strong_share"], evaluated.cost_saved_at(TARGET)))


if __name__ == "__main__":
    main()
