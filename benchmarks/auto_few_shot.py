"""`train --auto` with few labels: how often its folds let another candidate win over few-shot
tuning, and what that candidate then scores on the test split, under the guard's two rules.

For each set and seed, one sample of the train split (``few_shot.sample``, the same samples as
benchmarks/few_shot.py) goes through ``auto_train`` with a 10-minute budget; the winner and
few-shot tuning alone (``FewShot``, fitted only where it did not win) are scored on the full test
split. ``--rule text`` is today's guard (a lead of more than ``settle.FEW_SHOT_LEAD`` standard
errors per out-of-fold text); ``--rule fold`` the one before it (one standard error of the fold
means). The search is seeded, so both rules see the same fold scores and differ only in the pick.

    python benchmarks/auto_few_shot.py --rule fold --rows rows.jsonl [--sets sst2,disaster_tweets]
    python benchmarks/auto_few_shot.py --rule text --rows rows.jsonl
    python benchmarks/auto_few_shot.py --rows rows.jsonl --report   # the table, nothing run
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from few_shot import accuracy, sample
from results_md import cpu_line, publish, read_rows, record

from bertclf import Embedder, TextClassifier
from bertclf.finetune.fewshot import FewShot
from bertclf.search import settle as settling
from bertclf.search.auto import auto_train

ROOT = Path(__file__).resolve().parents[1]
FEW = "few-shot tuned encoder"
LEAD = settling.FEW_SHOT_LEAD  # today's rule, before --rule fold replaces it


def one(name: str, size: int, seed: int, data: Path) -> dict:
    train, test = pd.read_csv(data / name / "train.csv"), pd.read_csv(data / name / "test.csv")
    part = sample(train, size, seed)
    texts, labels = part["text"].tolist(), part["label"].astype(str).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, result = auto_train(texts, labels, TextClassifier(Embedder(progress=False), random_state=seed),
                                   budget="10m", log=lambda line: None)
        won = accuracy(model, test)
        if result.winner.name == FEW:
            alone = won
        else:
            alone = accuracy(FewShot(seed=seed, progress=False).fit(texts, labels), test)
    return {"set": name, "size": size, "seed": seed, "winner": result.winner.name, "acc": won,
            "fewshot_acc": alone, "guarded": result.guarded}


def table(rows: list[dict]) -> str:
    lines = ["| set, per class | samples | rule | `--auto` | few-shot alone | samples another candidate "
             "won | its test accuracy − few-shot's, each |", "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["set"], r["size"], r["rule"]) for r in rows})
    for name, size, rule in keys:
        got = [r for r in rows if (r["set"], r["size"], r["rule"]) == (name, size, rule)]
        auto, few = (100 * np.array([r[k] for r in got]) for k in ("acc", "fewshot_acc"))
        lost = [f"{a - f:+.1f}" for a, f, r in zip(auto, few, got, strict=True) if r["winner"] != FEW]
        lines.append(f"| {name}, {size} | {len(got)} | {rule} | {auto.mean():.1f} ± {auto.std():.1f} | "
                     f"{few.mean():.1f} ± {few.std():.1f} | {len(lost)} | {', '.join(lost) or '–'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="sst2,disaster_tweets")
    parser.add_argument("--size", type=int, default=16, help="texts per class")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--rule", choices=("text", "fold"), default="text")
    parser.add_argument("--rows", required=True, help="JSON-lines file of finished runs, resumed from")
    parser.add_argument("--report", action="store_true", help="only write the table of --rows")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if args.rule == "fold":  # the rule before: one standard error of the fold means
        settling.FEW_SHOT_LEAD = 1.0
        settling.few_shot_lead = lambda search, winner, best: settling.fold_lead(winner, best)
    rows = read_rows(args.rows)
    done = {(r["set"], r["size"], r["seed"], r["rule"]) for r in rows}
    start = time.perf_counter()
    for name in [] if args.report else args.sets.split(","):
        for seed in range(args.seeds):
            if (name, args.size, seed, args.rule) in done:
                continue
            row = {**one(name, args.size, seed, args.data), "rule": args.rule}
            record(row, args.rows, sys.stderr)
            rows.append(row)
    body = (f"Test accuracy (%), mean ± sd over samples, {cpu_line()}; `--auto` with a 10-minute budget; "
            f"the same samples as benchmarks/few_shot.py (seed n there is sample n here). Rule `fold`: a "
            f"candidate wins over few-shot tuning when it leads by more than one standard error of the fold "
            f"means (before); `text`: by more than {LEAD:g} standard errors of the paired "
            f"difference per out-of-fold text (now).\n\n" + table(rows))
    publish("auto-few-shot", body, "python benchmarks/auto_few_shot.py",
            seconds=None if args.report else time.perf_counter() - start)


if __name__ == "__main__":
    main()
