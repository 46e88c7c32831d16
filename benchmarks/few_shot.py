"""Few labels (issue 21): `train --few-shot` beside what a user would otherwise run, on the same samples.

For each set, size (texts per class) and seed, one sample of the train split (the same for every
method) trains: TF-IDF + LR, frozen + LR (`train --features embedding`), `train`'s default
(hybrid), `train --auto`, `train --few-shot` (``FewShot``), and the setfit package itself with its
paper's recipe (``setfit_run.py``, run by ``$SETFIT_PYTHON``, a venv of its own with torch==2.13.0
and setfit; skipped when unset). Each is scored on the full test split; the table gives mean ± sd
accuracy and training seconds over the seeds. With ``--rows FILE`` each finished (set, size,
seed) is appended to a JSON-lines file, so a long run resumes, and a method added later runs on
the samples already done. The smallest size runs on every set before the next size. A CPU
without AVX-512 VNNI writes its table into a section of its own (its seconds differ).

    SETFIT_PYTHON=~/setfit-venv/bin/python python benchmarks/few_shot.py \\
        [--sets ag_news,sst2,disaster_tweets,banking77] [--sizes 8,16,64] [--seeds 5] [--rows rows.jsonl]
    python benchmarks/few_shot.py --rows rows.jsonl --report   # the table of what ran, nothing more
    python benchmarks/few_shot.py --sizes 16 --section few-shot-16   # a table of its own
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from results_md import cpu_line, isa_section, publish, read_rows, record

from bertclf import Embedder, TextClassifier
from bertclf.encode import sources
from bertclf.finetune.fewshot import FewShot
from bertclf.search.auto import auto_train

ROOT = Path(__file__).resolve().parents[1]
SETS = {"ag_news": (8, 16, 64), "sst2": (8, 16, 64), "disaster_tweets": (8, 16, 64), "banking77": (8, 16)}
METHODS = ("tfidf", "frozen", "default", "auto", "few-shot", "setfit")


def sample(train: pd.DataFrame, per_class: int, seed: int) -> pd.DataFrame:
    return pd.concat([g.sample(per_class, random_state=seed) for _, g in train.groupby("label")])


def accuracy(model: object, test: pd.DataFrame) -> float:
    predicted = np.asarray(model.predict(test["text"].tolist())).astype(str)
    return float((predicted == test["label"].astype(str).to_numpy()).mean())


def run_method(method: str, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, float] | None:
    texts, labels = train["text"].tolist(), train["label"].astype(str).tolist()
    start = time.perf_counter()
    if method == "setfit":
        return setfit(train, test, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "few-shot":
            model = FewShot(seed=seed, progress=False).fit(texts, labels)
        elif method == "auto":
            model, _ = auto_train(texts, labels, TextClassifier(Embedder(progress=False), random_state=seed),
                                  budget="10m")
        else:
            features = {"tfidf": "tfidf", "frozen": "embedding", "default": "hybrid"}[method]
            model = TextClassifier(Embedder(progress=False), features=features, random_state=seed)
            model.fit(texts, labels)
        seconds = time.perf_counter() - start
        return {"accuracy": accuracy(model, test), "train_seconds": seconds}


def setfit(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, float] | None:
    python = os.environ.get("SETFIT_PYTHON")
    if not python:
        return None
    model = str(sources.resolve(sources.DEFAULT_MODEL).location)
    with tempfile.TemporaryDirectory() as work:
        train.to_csv(f"{work}/train.csv", index=False)
        test.to_csv(f"{work}/test.csv", index=False)
        done = subprocess.run([python, str(ROOT / "benchmarks" / "setfit_run.py"), model, f"{work}/train.csv",
                               f"{work}/test.csv", str(seed)], capture_output=True, text=True, check=True,
                              cwd=work)  # its trainer writes checkpoints/ where it runs
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict], methods: list[str]) -> str:
    """Mean ± sd accuracy and mean training seconds per method, then few-shot against frozen +
    LR (points, paired by sample) and against SetFit (points, and its share of SetFit's time)."""
    extra = ["few-shot − frozen", "few-shot − setfit", "time vs setfit"]
    header = "| set | per class | " + " | ".join(methods + extra) + " |"
    lines = [header, "|" + "---|" * (len(methods) + len(extra) + 2)]
    keys = sorted({(r["set"], r["size"]) for r in rows}, key=lambda k: (list(SETS).index(k[0]), k[1]))
    for name, size in keys:
        cells = []
        keyed = [r for r in rows if (r["set"], r["size"]) == (name, size)]
        for m in methods:
            got = [r[m] for r in keyed if r.get(m)]
            if not got:
                cells.append("not run")
                continue
            acc = 100 * np.array([g["accuracy"] for g in got])
            secs = np.mean([g["train_seconds"] for g in got])
            seeds = "" if len(got) == len(keyed) else f", {len(got)} seed{'s' * (len(got) > 1)}"
            cells.append(f"{acc.mean():.1f} ± {acc.std():.1f} ({secs:.0f} s{seeds})")
        for other in ("frozen", "setfit"):
            both = [r for r in keyed if r.get("few-shot") and r.get(other)]
            gap = [100 * (r["few-shot"]["accuracy"] - r[other]["accuracy"]) for r in both]
            cells.append(f"{np.mean(gap):+.1f}" if gap else "–")
        both = [r for r in keyed if r.get("few-shot") and r.get("setfit")]
        ours, theirs = (sum(r[m]["train_seconds"] for r in both) for m in ("few-shot", "setfit"))
        cells.append(f"{100 * ours / theirs:.0f}%" if both else "–")
        seeds = f"{len(keyed)} seed{'s' * (len(keyed) > 1)}"
        lines.append(f"| {name} | {size} ({seeds}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--sizes", default=None, help="texts per class (default: 8,16,64; 8,16 on banking77)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rows", default=None, help="JSON-lines file of finished runs, resumed from")
    parser.add_argument("--report", action="store_true", help="only write the table of --rows, run nothing")
    parser.add_argument("--section", default="few-shot",
                        help="the docs/results.md section to write (another size in a table of its own)")
    args = parser.parse_args()
    methods = args.methods.split(",")
    done: dict[tuple, dict] = {}  # (set, size, seed) -> that sample's row; later lines add methods
    for row in read_rows(args.rows):
        done.setdefault((row["set"], row["size"], row["seed"]), {}).update(row)
    start = time.perf_counter()
    names = args.sets.split(",")
    sizes = sorted({int(s) for s in args.sizes.split(",")} if args.sizes
                   else {s for n in names for s in SETS[n]})
    for size in [] if args.report else sizes:  # the smallest size on every set first: few labels
        for name in names:
            if size not in SETS[name] and not args.sizes:
                continue
            train = pd.read_csv(Path(args.data) / name / "train.csv")
            test = pd.read_csv(Path(args.data) / name / "test.csv")
            for seed in range(args.seeds):
                row = done.setdefault((name, size, seed), {"set": name, "size": size, "seed": seed})
                todo = [m for m in methods if m not in row]
                if not todo:
                    continue
                part = sample(train, size, seed)
                new = {"set": name, "size": size, "seed": seed}
                for method in todo:
                    new[method] = run_method(method, part, test, seed)
                record(new, args.rows, sys.stderr)
                row.update(new)
    # every method of the rows file keeps its column, whichever methods this run added
    shown = [m for m in METHODS if m in methods or any(m in row for row in done.values())]
    body = (f"Test accuracy (%), mean ± sd over seeds, and training seconds, {cpu_line()}. Each seed draws "
            f"one sample of the train split, the same for every method; every model is scored on the full "
            f"test split. `few-shot` is `train --few-shot`; `setfit` is the setfit package with its paper's "
            f"recipe (20 pair iterations, batch 16, lr 2e-5), loading the bundled model from its folder.\n\n"
            + table(list(done.values()), shown))
    # A CPU without VNNI writes a section of its own ("few-shot-avx2"): times differ between the two.
    publish(isa_section(args.section)[0], body, "python benchmarks/few_shot.py",
            seconds=None if args.report else time.perf_counter() - start)


if __name__ == "__main__":
    main()
