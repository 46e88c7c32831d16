"""Fine-tuning in a fixed time on two cores (issue 43, part 3): which settings reach the best test
accuracy when the time limit, not the epochs, ends the run.

For each set and setting: ``FineTuner`` (bundled MiniLM, batch 32, 10 % validation, seed 13)
trained on the whole TRAIN split with ``time_limit=--seconds``, then scored on a stratified TEST
sample (seed 0). The settings:

- today: the rate decays over three planned epochs; the time limit stops it wherever it is;
- time: the decay ends at the time limit (``schedule="time"``);
- time, lr 1e-4: the same at twice the rate;
- time, lr 1e-4, frozen 3: and the embeddings and the lowest three of six layers frozen.

A setting is adopted leave-one-set-out: for each set, the setting with the best mean accuracy on
the other sets (ties to today's), scored on the set. Rows go to a ledger (JSON lines) so an
interrupted run resumes.

    python benchmarks/finetune_budget.py [--sets sst2,...] [--seconds 150]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from auto_loso import DATA, sample
from results_md import cpu_line, publish

from bertclf.finetune.finetuner import FineTuner
from bertclf.io.labels import read_labelled

SETS = ["sst2", "movie_reviews", "disaster_tweets", "hate_offensive"]
SETTINGS = {
    "today": {"schedule": "steps"},
    "time": {"schedule": "time"},
    "time, lr 1e-4": {"schedule": "time", "lr": 1e-4},
    "time, lr 1e-4, frozen 3": {"schedule": "time", "lr": 1e-4, "freeze_layers": 3},
}
TODAY = "today"


def run(name: str, setting: str, seconds: float, max_test: int, settings: dict | None = None) -> dict:
    texts, labels = read_labelled(str(DATA / name / "train.csv"), "text", "label")
    test, truth = sample(*read_labelled(str(DATA / name / "test.csv"), "text", "label"), max_test)
    model = FineTuner(time_limit=seconds, progress=False, verbose=False, **(settings or SETTINGS)[setting])
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(texts, labels)
    fit = time.perf_counter() - started
    accuracy = float(np.mean(model.predict(test) == np.asarray(truth)))
    steps = model.training_["optimizer_steps"]
    row = {"set": name, "setting": setting, "accuracy": round(accuracy, 6), "fit_seconds": round(fit, 1),
           "texts_seen": steps * model.batch_size, "train": len(texts), "test": len(test),
           "val_accuracy": model.training_["history"][-1].get("val_accuracy")}
    print(json.dumps(row), flush=True)
    return row


def setting_without(rows: list[dict], sets: list[str], name: str) -> str:
    """The setting with the best mean accuracy on ``sets`` other than ``name`` (ties go to today's)."""
    score = {(r["set"], r["setting"]): r["accuracy"] for r in rows}
    others = [o for o in sets if o != name]
    return max(SETTINGS, key=lambda n: (round(float(np.mean([100 * score[o, n] for o in others])), 6),
                                        n == TODAY)) if others else TODAY


def analyse(rows: list[dict], sets: list[str]) -> str:
    score = {(r["set"], r["setting"]): 100 * r["accuracy"] for r in rows}
    names = list(SETTINGS)
    lines = ["| set | TRAIN / TEST texts | " + " | ".join(names) + " | chosen without it | LOSO − today |",
             "|---|---|" + "---|" * len(names) + "---|---|"]
    loso = []
    for s in sets:
        chosen = setting_without(rows, sets, s)
        loso.append(score[s, chosen] - score[s, TODAY])
        row = next(r for r in rows if r["set"] == s)
        cells = []
        for n in names:
            seen = next(r["texts_seen"] for r in rows if r["set"] == s and r["setting"] == n)
            cells.append(f"{score[s, n]:.2f} ({seen:,} texts)")
        lines.append(f"| {s} | {row['train']:,} / {row['test']:,} | " + " | ".join(cells)
                     + f" | {chosen} | {loso[-1]:+.2f} |")
    means = " | ".join(f"{np.mean([score[s, n] for s in sets]):.2f}" for n in names)
    lines.append(f"| **mean** | | {means} | | **{np.mean(loso):+.2f}** |")
    return "\n".join(lines)


def arguments(description: str, ledger: str) -> argparse.Namespace:
    """The options this script and finetune_bf16.py share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--ledger", type=Path, default=Path(ledger))
    parser.add_argument("--no-write", action="store_true")
    return parser.parse_args()


def ledger_rows(args: argparse.Namespace, settings: dict) -> list[dict]:
    """Every (set, setting) row: read from the ledger, or run now and appended to it."""
    rows = [json.loads(line) for line in args.ledger.read_text().splitlines()] if args.ledger.exists() else []
    for name in args.sets.split(","):
        for setting in settings:
            if not any(r["set"] == name and r["setting"] == setting for r in rows):
                rows.append(run(name, setting, args.seconds, args.max_test, settings))
                with args.ledger.open("a") as handle:
                    handle.write(json.dumps(rows[-1]) + "\n")
    return rows


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "/tmp/bertclf-finetune-budget.jsonl")
    began = time.perf_counter()
    rows, sets = ledger_rows(args, SETTINGS), args.sets.split(",")
    body = (f"Test accuracy (%) of `FineTuner` (bundled MiniLM, batch 32, 10 % validation, seed 13) on the "
            f"whole TRAIN split with a {args.seconds:g} s time limit, on a TEST sample of at most "
            f"{args.max_test} texts; in brackets the texts its optimizer steps saw. {cpu_line()}. "
            "today: the rate decays over three planned epochs and the limit stops it wherever it is; "
            "time: the decay ends at the limit; frozen 3: the embeddings and the lowest three of six "
            "layers frozen. 'chosen without it': the setting with the best mean on the other sets.\n\n"
            + analyse(rows, sets))
    publish("finetune-budget", body, "python benchmarks/finetune_budget.py", write=not args.no_write,
            seconds=time.perf_counter() - began)


if __name__ == "__main__":
    main()
