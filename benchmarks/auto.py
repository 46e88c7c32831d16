"""`train --auto` beside plain `train`, TF-IDF + LR and the old frozen default, on every
single-label shared set (issue 8).

For each set: the full train split, scored on the test split. ``--auto`` searches on the train
split only (5-fold CV, the given budget) and refits its winner there. With ``--rows FILE``
every row is appended to a JSON-lines file as it is done, so a long run can be resumed; at the
end the table goes to docs/results.md (section "auto").

    python benchmarks/auto.py [--sets sms_spam,banking77] [--budget 10m] [--rows rows.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from results_md import publish

from bertclf import Embedder, TextClassifier
from bertclf.io.labels import read_labelled
from bertclf.search.auto import auto_train
from bertclf.search.baseline import baseline_scores

SETS = ["sms_spam", "banking77", "sst2", "ag_news", "disaster_tweets", "bbc_news", "tweepfake"]
ROOT = Path(__file__).resolve().parents[1]


def accuracy(model: object, texts: list[str], labels: list[str]) -> float:
    predicted = model.predict(texts)  # type: ignore[attr-defined]
    return float(sum(str(p) == str(t) for p, t in zip(predicted, labels, strict=True)) / len(labels))


def run_set(folder: Path, budget: str) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_texts, train_labels = read_labelled(str(folder / "train.csv"), "text", "label")
        test_texts, test_labels = read_labelled(str(folder / "test.csv"), "text", "label")
        embedder = Embedder(cache=True, progress=False)
        row: dict[str, object] = {"set": folder.name, "train": len(train_texts), "test": len(test_texts)}
        row["tfidf"] = baseline_scores(train_texts, train_labels, test_texts, test_labels)["accuracy"]
        old = TextClassifier(embedder, C=1.0, scaling="none", features="embedding")  # before issue 8
        row["frozen"] = accuracy(old.fit(train_texts, train_labels), test_texts, test_labels)
        plain = TextClassifier(embedder)
        start = time.perf_counter()
        row["plain"] = accuracy(plain.fit(train_texts, train_labels), test_texts, test_labels)
        row["plain_s"] = time.perf_counter() - start
        start = time.perf_counter()
        model, result = auto_train(train_texts, train_labels, base=TextClassifier(embedder), budget=budget,
                                   log=lambda m: print(m, flush=True))
        row["auto_s"] = time.perf_counter() - start
        row["auto"] = accuracy(model, test_texts, test_labels)
        row["chosen"] = result.winner.name if result.winner else "default (budget too small)"
        row["cv"] = result.winner.score if result.winner else None
        row["search_s"] = result.seconds
    return row


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| set | train / test | plain `train` | `--auto` | chosen by `--auto` (5-fold CV accuracy) "
             "| `--auto` s | TF-IDF + LR | frozen, old default | Δ `--auto` − better of the two |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        best = max(r["tfidf"], r["frozen"])  # type: ignore[type-var]
        lines.append(
            f"| {r['set']} | {r['train']:,} / {r['test']:,} | {100 * r['plain']:.2f} "
            f"| {100 * r['auto']:.2f} "
            f"| {r['chosen']} ({100 * (r['cv'] or 0):.2f}) | {r['auto_s']:.0f} | {100 * r['tfidf']:.2f} "
            f"| {100 * r['frozen']:.2f} | {100 * (r['auto'] - best):+.2f} |")
    n = len(rows)
    mean = {k: sum(r[k] for r in rows) / n for k in ("plain", "auto", "tfidf", "frozen")}  # type: ignore[misc]
    lines.append(f"| **mean** | | {100 * mean['plain']:.2f} | {100 * mean['auto']:.2f} | | "
                 f"| {100 * mean['tfidf']:.2f} | {100 * mean['frozen']:.2f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rows", default=None,
                        help="JSON-lines file of finished sets: sets already there are not run again")
    args = parser.parse_args()
    done = {}
    rows_file = Path(args.rows) if args.rows else None
    if rows_file is not None and rows_file.exists():
        done = {r["set"]: r for r in map(json.loads, rows_file.read_text().splitlines()) if r}
    start = time.perf_counter()
    for name in args.sets.split(","):
        if name in done:
            continue
        row = run_set(Path(args.data) / name, args.budget)
        print(json.dumps(row), flush=True)
        if rows_file is not None:
            with rows_file.open("a") as f:
                f.write(json.dumps(row) + "\n")
        done[name] = row
    rows = [done[name] for name in args.sets.split(",")]
    body = "\n".join([
        f"Test accuracy (%), full train split. `--auto` cross-validates on the train split only, "
        f"within a {args.budget} budget, and its time includes refitting the winner. \"Frozen, old "
        "default\" is `train` before issue 8 (L2-normalised embeddings, logistic regression, C = 1); "
        "plain `train` is today's default. TF-IDF + LR is `bertclf.search.baseline`.", "",
        table(rows)])
    publish("auto", body, "python benchmarks/auto.py", write=args.sets == ",".join(SETS),
            seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
