"""The measurements behind plain `train`'s defaults (issue 8, part 2).

For each single-label shared set: the full train split, scored on the test split, under the
settings a default could have: frozen embeddings as they were (L2-normalised, C = 1), with a
larger C, standardised at a few C, with C chosen by a quick inner cross-validation (C="auto"),
TF-IDF alone, and the hybrid of both. The embeddings come from one pass per set (this process's
memo and the embedding cache). Writes docs/results.md (section "defaults").

    python benchmarks/defaults.py [--sets sms_spam,banking77] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from results_md import publish

from bertclf import Embedder, TextClassifier
from bertclf.io.labels import read_labelled

SETS = ["sms_spam", "banking77", "sst2", "ag_news", "disaster_tweets", "bbc_news", "tweepfake"]
ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # column name: TextClassifier settings
    "frozen, C=1 (old default)": {"features": "embedding", "C": 1.0},
    "frozen, C=10": {"features": "embedding", "C": 10.0},
    "frozen std, C=0.1": {"features": "embedding", "scaling": "standard", "C": 0.1},
    "frozen std, C=1": {"features": "embedding", "scaling": "standard", "C": 1.0},
    "frozen std, C=auto": {"features": "embedding", "scaling": "standard", "C": "auto"},
    "TF-IDF word, C=10": {"features": "tfidf", "C": 10.0},
    "TF-IDF word+char, C=10": {"features": "tfidf", "tfidf": "word+char", "C": 10.0},
    "hybrid, C=1 (new default)": {"features": "hybrid", "C": 1.0},
    "hybrid, C=10": {"features": "hybrid", "C": 10.0},
}


def run_set(folder: Path) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_texts, train_labels = read_labelled(str(folder / "train.csv"), "text", "label")
        test_texts, test_labels = read_labelled(str(folder / "test.csv"), "text", "label")
        embedder = Embedder(cache=True, progress=False)
        row = {}
        for name, settings in VARIANTS.items():
            start = time.perf_counter()
            model = TextClassifier(embedder, **settings).fit(train_texts, train_labels)
            predicted = model.predict(test_texts)
            right = sum(str(p) == str(t) for p, t in zip(predicted, test_labels, strict=True))
            row[name] = right / len(test_labels)
            chosen = f" (C={model.C_:g})" if settings["C"] == "auto" else ""
            seconds = time.perf_counter() - start
            print(f"{folder.name}: {name}{chosen}: {100 * row[name]:.2f} in {seconds:.1f} s", flush=True)
            if chosen:
                row["auto C"] = model.C_
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    start = time.perf_counter()
    rows = {name: run_set(Path(args.data) / name) for name in args.sets.split(",")}
    names = list(VARIANTS)
    lines = ["| set | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, row in rows.items():
        best = max(row[n] for n in names)
        cells = [(f"**{100 * row[n]:.2f}**" if row[n] == best else f"{100 * row[n]:.2f}")
                 + (f" (C={row['auto C']:g})" if n.endswith("C=auto") else "") for n in names]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = [sum(r[n] for r in rows.values()) / len(rows) for n in names]
    lines.append("| **mean** | " + " | ".join(f"{100 * m:.2f}" for m in means) + " |")
    body = "\n".join([
        "Test accuracy (%), full train split, logistic regression, bundled model with its mean pooling, "
        "onnx-int8. \"frozen\" reads the L2-normalised embedding, \"std\" standardises each dimension, "
        "\"hybrid\" is word TF-IDF beside the standardised embedding scaled to unit length. The best "
        "cell of each row is bold.", "",
        *lines])
    publish("defaults", body, "python benchmarks/defaults.py", write=args.sets == ",".join(SETS),
            seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
