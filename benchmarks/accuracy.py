"""Accuracy of frozen embeddings alone on the shared real datasets, beside a TF-IDF + LR baseline.

For each set: the full train split, the test split, `--features embedding` (bundled model, its mean
pooling, logistic regression, C = 1). Reports accuracy, macro-F1, train time and predict texts/s
for bertclf and for the baseline (bertclf.search.baseline, scikit-learn, same split), prints the table
and writes it to docs/results.md (section "Frozen embeddings + head").

    python benchmarks/accuracy.py [--sets sms_spam,banking77] [--head logreg] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from datetime import date
from pathlib import Path

from results_md import RESULTS, write_section

from bertclf import Embedder, TextClassifier
from bertclf.evaluate.metrics import evaluate_predictions
from bertclf.io.labels import read_labelled
from bertclf.search.baseline import baseline_scores

SETS = ["sms_spam", "banking77", "sst2", "ag_news", "disaster_tweets", "bbc_news", "tweepfake"]
ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- accuracy.py: begin -->", "<!-- accuracy.py: end -->"


def run_set(folder: Path, head: str) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_texts, train_labels = read_labelled(str(folder / "train.csv"), "text", "label")
        test_texts, test_labels = read_labelled(str(folder / "test.csv"), "text", "label")
    model = TextClassifier(Embedder(progress=False), head=head, reuse_embeddings=False, features="embedding")
    model.embedder.load_encoder()  # shared per process: train time is not model loading
    start = time.perf_counter()
    model.fit(train_texts, train_labels)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(test_texts)
    predict_seconds = time.perf_counter() - start
    report = evaluate_predictions(test_labels, predicted, model.classes_)
    base = baseline_scores(train_texts, train_labels, test_texts, test_labels)
    return {
        "set": folder.name, "train": len(train_texts), "test": len(test_texts),
        "classes": len(model.classes_),
        "acc": report["accuracy"], "f1": report["macro_f1"],
        "train_s": train_seconds, "rate": len(test_texts) / predict_seconds,
        "b_acc": base["accuracy"], "b_f1": base["macro_f1"], "b_train_s": base["train_seconds"],
        "b_rate": base["predict_texts_per_second"],
    }


def table(rows: list[dict[str, object]], head: str) -> str:
    lines = [
        f"| set | train / test | classes | bertclf {head} acc | macro-F1 | train s | predict texts/s "
        "| TF-IDF+LR acc | macro-F1 | train s | predict texts/s | Δ acc (points) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['set']} | {r['train']:,} / {r['test']:,} | {r['classes']} "
            f"| {r['acc']:.4f} | {r['f1']:.4f} "
            f"| {r['train_s']:.0f} | {r['rate']:,.0f} | {r['b_acc']:.4f} | {r['b_f1']:.4f} "
            f"| {r['b_train_s']:.1f} | {r['b_rate']:,.0f} | {100 * (r['acc'] - r['b_acc']):+.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--head", default="logreg")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    rows = []
    for name in args.sets.split(","):
        start = time.perf_counter()
        rows.append(run_set(Path(args.data) / name, args.head))
        print(f"{name}: done in {time.perf_counter() - start:.0f} s", flush=True)
        print(table(rows[-1:], args.head), flush=True)
    mean = sum(100 * (r["acc"] - r["b_acc"]) for r in rows) / len(rows)
    section = "\n".join([
        BEGIN,
        "## Frozen embeddings + head vs TF-IDF + logistic regression (`benchmarks/accuracy.py`)",
        "",
        f"Frozen embeddings alone (`--features embedding`; `train`'s default before issue 8): "
        f"bundled all-MiniLM-L6-v2, mean pooling, 256 tokens, L2-normalised, "
        f"{args.head}, C = 1. Full train split, scored on the test split. TF-IDF + LR is "
        "`bertclf.search.baseline` (word 1–2-grams, sublinear tf, min_df 2, C = 10) on the same split. "
        "Train time includes embedding the train split; predict texts/s includes embedding.",
        "",
        f"Measured {date.today()} on {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.machine()}), no GPU, torch backend, fp32.",
        "",
        table(rows, args.head),
        "",
        f"Mean Δ accuracy (bertclf − TF-IDF): {mean:+.1f} points over {len(rows)} sets.",
        END,
    ])
    print(section)
    if args.sets == ",".join(SETS):
        write_section(BEGIN, END, section)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
