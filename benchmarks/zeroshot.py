"""Zero-shot on the ag_news test split: categories from 3 or 5 keywords each, no training, beside
TF-IDF + logistic regression and frozen embeddings + logistic regression trained on 8 labelled
examples per class (the mean over 10 seeded draws from the train split). Writes docs/results.md.

    python benchmarks/zeroshot.py [--no-write]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from results_md import publish
from sklearn.linear_model import LogisticRegression

from bertclf import Embedder
from bertclf.explore.zeroshot import ZeroShot, parse_categories
from bertclf.search.baseline import baseline_scores

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ag_news"
KEYWORDS = {
    "World": ["government", "war", "election", "president", "country"],
    "Sports": ["football", "match", "team", "game", "championship"],
    "Business": ["market", "company", "shares", "profit", "economy"],
    "Sci/Tech": ["software", "internet", "computer", "science", "technology"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    train = pd.read_csv(DATA / "train.csv", dtype=str, keep_default_na=False)
    test = pd.read_csv(DATA / "test.csv", dtype=str, keep_default_na=False)
    embedder = Embedder(progress=False)
    start = time.perf_counter()
    vectors = embedder.transform(test["text"].tolist())
    embed_seconds = time.perf_counter() - start
    truth = test["label"].to_numpy()
    rows = []
    for count in (3, 5):
        categories = parse_categories({k: v[:count] for k, v in KEYWORDS.items()})
        model = ZeroShot(embedder, categories).fit()
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        predicted = model.names[(unit @ model.centres.T).argmax(axis=1)]
        rows.append((f"zero-shot, {count} keywords per class", float((predicted == truth).mean()), "-"))
    tfidf, frozen = [], []
    for seed in range(10):
        sample = train.groupby("label", group_keys=False).sample(8, random_state=seed)
        scores = baseline_scores(sample["text"], sample["label"], test["text"], test["label"])
        tfidf.append(scores["accuracy"])
        few = embedder.transform(sample["text"].tolist())
        head = LogisticRegression(max_iter=2000).fit(few, sample["label"])
        frozen.append(float((head.predict(vectors) == truth).mean()))
    rows.append(("TF-IDF + LR, 8 labelled examples per class", float(np.mean(tfidf)),
                 f"± {np.std(tfidf):.4f}"))
    rows.append(("frozen embeddings + LR, 8 labelled examples per class", float(np.mean(frozen)),
                 f"± {np.std(frozen):.4f}"))
    lines = ["| approach | accuracy | sd over 10 draws |", "|---|---|---|"]
    lines += [f"| {name} | {acc * 100:.2f} | {sd} |" for name, acc, sd in rows]
    keywords = "; ".join(f"{k}: {', '.join(v)}" for k, v in KEYWORDS.items())
    body = (f"ag_news test split ({len(test):,} texts, 4 balanced classes), bundled model. Keywords (the "
            f"first 3 or all 5): {keywords}. Embedding the test split took {embed_seconds:.0f} s.\n\n"
            + "\n".join(lines))
    publish("zeroshot.py", body, "benchmarks/zeroshot.py", write=not args.no_write)


if __name__ == "__main__":
    main()
