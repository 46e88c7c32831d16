"""Few-shot tuning at several learning rates on the same samples as benchmarks/few_shot.py (8 texts
per class, seeds 0..N-1), each scored on the full test split: how the two-class rate of
``FewShot`` was checked (docs/results.md, "Since that run"). Prints a table; writes nothing.

    python benchmarks/few_shot_lr.py [--sets sst2,disaster_tweets] [--lrs 1e-4,3e-5] [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import pandas as pd
from few_shot import accuracy, sample
from results_md import cpu_line

from bertclf.finetune.fewshot import FewShot

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sets", default="sst2,disaster_tweets")
    parser.add_argument("--lrs", default="1e-4,3e-5")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=8)
    args = parser.parse_args()
    rates = [float(x) for x in args.lrs.split(",")]
    print(f"{cpu_line()}; {args.per_class} texts per class, {args.seeds} seeds, full test split")
    print("| set | " + " | ".join(f"lr {r:g}" for r in rates) + " | seconds |")
    print("|---|" + "---|" * (len(rates) + 1))
    for name in args.sets.split(","):
        train, test = (pd.read_csv(args.data / name / f"{split}.csv") for split in ("train", "test"))
        scores: dict[float, list[float]] = {r: [] for r in rates}
        seconds: dict[float, list[float]] = {r: [] for r in rates}
        for seed in range(args.seeds):
            part = sample(train, args.per_class, seed)
            texts, labels = part["text"].tolist(), part["label"].astype(str).tolist()
            for rate in rates:
                began = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = FewShot(seed=seed, progress=False, lr=rate).fit(texts, labels)
                seconds[rate].append(time.perf_counter() - began)
                scores[rate].append(100 * accuracy(model, test))
                print(f"  {name} seed {seed} lr {rate:g}: {scores[rate][-1]:.2f}", flush=True)
        cells = [f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f}" for v in scores.values()]
        took = " / ".join(f"{statistics.mean(v):.0f}" for v in seconds.values())
        print(f"| {name} | " + " | ".join(cells) + f" | {took} |", flush=True)


if __name__ == "__main__":
    main()
