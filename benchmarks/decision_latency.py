"""decide() time at 200 and 16k tokens with the semantic stage (and a learned route on the prompt's embedding),
next to one bare MiniLM encode in the same run, with the machine's load average beside every figure.

Goals (issue #14): p50 <= 15 ms at 200 tokens and <= 20 ms at 16k tokens. On a shared machine the absolute
figures move with the load; the ratio to the bare encode does not.

    .venv/bin/python -m benchmarks.decision_latency [--n 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from playground.base.tokens import count_text
from playground.config.catalog import build_catalog
from playground.config.profile import Head, LearnedSpec, Profile, Route, load_profile
from playground.router import RouteRequest, decide
from playground.router.embeddings import MINILM_ID, EmbeddingCache, MiniLMEncoder, _clip, _head_and_tail, minilm_path
from playground.router.semantic import build_index

ROOT = Path(__file__).resolve().parent.parent
MATERIAL = ("Minutes of the planning meeting. Attendance was good and the room was booked for two hours. The "
            "quarterly figures were presented region by region, with small changes in every market; the team "
            "grew by four people and two moved offices. Facilities reported the heating repair is finished and "
            "the car park will be resurfaced in spring. The next meeting is on the first Monday of the month.\n\n")
ASK = "Summarise the notes above in three bullet points."


def _timed(fn, n: int) -> tuple[float, float]:
    """(p50, p90) in ms of fn(i), after three warm-up calls. Each call gets its own i, so that every prompt is
    new to the index (it keeps the last prompt's embedding)."""
    for i in range(3):
        fn(-i - 1)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def _shipped_model_encode(encoder: MiniLMEncoder):
    """The same encode on the package's model as it ships (its int8 weights widened to float32 at load), which
    the playground ran before it built its int8-activation model: the baseline for the encoder's own speed."""
    import numpy as np
    import onnxruntime

    encoder.encode(["load"])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = encoder.threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(minilm_path()), options, providers=["CPUExecutionProvider"])

    def encode(text: str) -> None:
        ids = np.array([_head_and_tail(encoder._tokenizer.encode(_clip(text)).ids)], dtype=np.int64)
        session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})

    return encode


def _with_learned_tail(profile: Profile) -> Profile:
    """The profile with its default route replaced by a learned route on the prompt's embedding (weights are
    arbitrary: only the time matters), so one decision runs both stages on one embedding."""
    head = Head(bias=0.1, embedding_weights=tuple(0.01 * ((i % 7) - 3) for i in range(384)))
    default = profile.routes[-1]
    learned = Route(name=default.name, tier=default.tier, learned=LearnedSpec(
        cheap_tier=default.tier, cheap=head, strong=head, embedding_model=MINILM_ID))
    return Profile.model_validate(profile.model_copy(update={"routes": (*profile.routes[:-1], learned)})
                                  .model_dump(by_alias=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="timed decisions per case")
    args = parser.parse_args()
    short = (MATERIAL * 3)[:1000] + ASK
    long = MATERIAL * 220 + ASK
    cache = EmbeddingCache(Path(tempfile.mkdtemp()) / "e.db")
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores: above 2 means waiting for a core)")
    encoder = MiniLMEncoder()
    floor = _timed(lambda i: encoder.encode([f"{short} {i}"]), args.n)
    spinning = MiniLMEncoder(spin=True)
    spun = _timed(lambda i: spinning.encode([f"{short} {i}"]), args.n)
    shipped = _shipped_model_encode(encoder)
    widened = _timed(lambda i: shipped(f"{short} {i}"), args.n)
    print(f"one MiniLM encode of 64 wordpieces: p50 {floor[0]:.1f} ms, p90 {floor[1]:.1f} (threads wait without "
          f"spinning); onnxruntime's default, spinning threads: p50 {spun[0]:.1f}, p90 {spun[1]:.1f}; the "
          f"package's model as shipped (float32 products): p50 {widened[0]:.1f}, p90 {widened[1]:.1f}, "
          f"{widened[0] / floor[0]:.2f}× · load {os.getloadavg()[0]:.1f}")
    for name, path in (("MT-Bench routes (semantic only)", ROOT / "benchmarks" / "data" / "mtbench_routes.yaml"),
                       ("default profile", ROOT / "playground" / "profiles" / "default.yaml")):
        for learned in (False, True):
            profile = load_profile(path)
            label = name
            if learned:
                profile = _with_learned_tail(profile)
                label = f"{name.split(' (')[0]} + learned route on the embedding"
            # Every model counts as reachable: the time of a decision, not which keys are set, is measured.
            catalog = build_catalog(profile, env={key: "set" for key in profile.key_envs()})
            index = build_index(profile, cache)
            for text in (short, long):
                n = count_text(text)
                decision = decide(RouteRequest(text, n, n), profile, catalog, semantic=index, now=0.0)

                def one(i: int, text=text, n=n, profile=profile, catalog=catalog, index=index) -> None:
                    decide(RouteRequest(f"{text} ({i})", n, n), profile, catalog, semantic=index, now=0.0)

                p50, p90 = _timed(one, args.n)
                goal = 15 if n < 1000 else 20
                print(f"{label}, {n:,} tokens: decide() p50 {p50:.1f} ms (goal {goal}: "
                      f"{'met' if p50 <= goal else 'NOT met'}), p90 {p90:.1f}, {p50 / floor[0]:.2f}× one encode; "
                      f"route {decision.route} ({decision.stage}) · load {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
