"""How many answers `bertclf label` takes from the texts that cover the pool before its model asks
(``strategy.COVER_FIRST``), chosen leave-one-set-out: for each set, the count with the largest mean
area on the *other* sets, then scored on the set left out. Same simulated annotator, pools and head
as benchmarks/active_learning.py (run that first: it saves the embeddings), up to 200 labels,
where the cold start matters. Writes docs/results.md's "cover-first" section.

    python benchmarks/cover_first.py [--sets ...] [--counts 10,50,100] [--seeds 2] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from active_learning import SETS, embedded  # noqa: E402
from al_loop import simulate  # noqa: E402
from results_md import cpu_line, publish  # noqa: E402

CHECKPOINTS = (50, 100, 200)


def cover_then_ask(vectors: np.ndarray, count: int) -> tuple:
    """The cold start and the query of `bertclf label` with ``count`` covering answers first."""
    from bertclf.label import strategy

    order: dict[str, np.ndarray] = {}

    def first(rng, n):
        seed = int(rng.integers(1 << 30))
        order["cover"] = strategy.covering(vectors, np.arange(len(vectors)), count, seed)
        return order["cover"][:n]

    def query(head, proba, labelled, unlabelled, n):
        left = order["cover"][~np.isin(order["cover"], labelled)]
        if len(labelled) < count and len(left):
            return left[:n]
        return strategy.next_batch(proba, vectors, unlabelled, n)

    return first, query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--counts", default="10,50,100")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    print(cpu_line(), flush=True)
    counts = [int(c) for c in args.counts.split(",")]
    found: dict[str, dict[int, dict]] = {}
    for name in args.sets.split(","):
        data = np.load(embedded(name, args.pool))
        found[name] = {}
        for count in counts:
            first, query = cover_then_ask(data["vectors"], count)
            runs = [simulate(data["vectors"], data["target"], data["test_vectors"], data["test_target"],
                             first, query, seed, max_labels=max(CHECKPOINTS)) for seed in range(args.seeds)]
            found[name][count] = {
                "area": statistics.mean(statistics.mean(p["accuracy"] for p in r["points"]) for r in runs),
                "at": {c: statistics.mean(next(p["accuracy"] for p in r["points"] if p["labels"] >= c)
                                          for r in runs) for c in CHECKPOINTS}}
            print(name, count, found[name][count], flush=True)
    lines = [f"Covering answers before the model asks, {args.seeds} seeds, batches of 10, test accuracy (%) "
             f"at 50/100/200 labels and the area up to 200. Chosen without the set: the count with the "
             f"largest mean area on the other sets.", "",
             "| set | " + " | ".join(f"{c} first" for c in counts) + " | chosen without the set | "
             f"its area there | gain over {counts[0]} first |", "|---|" + "---|" * (len(counts) + 3)]
    gains = []
    for name, rows in found.items():
        others = [o for o in found if o != name]
        chosen = max(counts, key=lambda c: statistics.mean(found[o][c]["area"] for o in others))
        cells = " | ".join(" / ".join(f"{100 * rows[c]['at'][p]:.1f}" for p in CHECKPOINTS)
                           + f" (area {100 * rows[c]['area']:.1f})" for c in counts)
        gain = 100 * (rows[chosen]["area"] - rows[counts[0]]["area"])
        gains.append(gain)
        lines.append(f"| {name} | {cells} | {chosen} | {100 * rows[chosen]['area']:.1f} | {gain:+.1f} |")
    lines += ["", f"Mean gain of the count chosen without each set, on that set: "
                  f"{statistics.mean(gains):+.2f} points of area "
                  f"({sum(g > 0 for g in gains)} of {len(gains)} sets better)."]
    publish("cover-first", "\n".join(lines), "python benchmarks/cover_first.py", write=not args.no_write,
            seconds=time.perf_counter() - began)


if __name__ == "__main__":
    main()
