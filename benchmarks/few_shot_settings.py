"""Few-shot tuning under several settings on the same samples as benchmarks/few_shot.py (texts per
class from the train split, seeds 0..N-1), each model scored on the full test split, or with
``--held-out N`` on N train-split texts outside the sample (to choose settings without reading
the test split): how the learning rate for two classes and the batch for many classes of
``FewShot`` were checked (docs/results.md, "Few labels"). Prints a table; writes nothing.

    python benchmarks/few_shot_settings.py --sets sst2,disaster_tweets \\
        --settings '{"lr 1e-4": {"lr": 1e-4}, "lr 3e-5": {"lr": 3e-5}}'
    python benchmarks/few_shot_settings.py --sets banking77 --seeds 2 \\
        --settings '{"batch 16": {"batch_size": 16}, "batch 64": {"batch_size": 64}}'
    python benchmarks/few_shot_settings.py --sets ag_news --seeds 4 --held-out 2000 \\
        --settings '{"now": {}, "40 epochs": {"epochs": 40, "settle": 0}}'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import pandas as pd
from few_shot import accuracy, sample
from results_md import cpu_line

from bertclf.finetune.fewshot import FewShot

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT = '{"lr 1e-4": {"lr": 1e-4}, "lr 3e-5": {"lr": 3e-5}}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sets", default="sst2,disaster_tweets")
    parser.add_argument("--settings", default=DEFAULT, help="JSON: a name for each set of FewShot parameters")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--held-out", type=int, default=0,
                        help="score on this many train-split texts outside each sample instead of the test "
                             "split (for choosing settings without looking at the test split)")
    args = parser.parse_args()
    try:
        settings: dict[str, dict] = json.loads(args.settings)
    except json.JSONDecodeError as exc:
        parser.error(f"--settings is not JSON: {exc}")
    scored = f"{args.held_out} held-out train-split texts" if args.held_out else "full test split"
    print(f"{cpu_line()}; {args.per_class} texts per class, {args.seeds} seeds, {scored}")
    print("| set | " + " | ".join(settings) + " | seconds |")
    print("|---|" + "---|" * (len(settings) + 1))
    for name in args.sets.split(","):
        train, test = (pd.read_csv(args.data / name / f"{split}.csv") for split in ("train", "test"))
        scores: dict[str, list[float]] = {tag: [] for tag in settings}
        seconds: dict[str, list[float]] = {tag: [] for tag in settings}
        for seed in range(args.seeds):
            part = sample(train, args.per_class, seed)
            texts, labels = part["text"].tolist(), part["label"].astype(str).tolist()
            scored_on = test if not args.held_out else \
                train.drop(part.index).sample(args.held_out, random_state=1000 + seed)
            for tag, params in settings.items():
                began = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = FewShot(seed=seed, progress=False, **params).fit(texts, labels)
                seconds[tag].append(time.perf_counter() - began)
                scores[tag].append(100 * accuracy(model, scored_on))
                print(f"  {name} seed {seed} {tag}: {scores[tag][-1]:.2f} ({len(model.history_)} epochs, "
                      f"{seconds[tag][-1]:.0f} s)", flush=True)
        cells = [f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}"
                 for v in scores.values()]
        took = " / ".join(f"{statistics.mean(v):.0f}" for v in seconds.values())
        print(f"| {name} | " + " | ".join(cells) + f" | {took} |", flush=True)


if __name__ == "__main__":
    main()
