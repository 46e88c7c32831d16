"""The four heads side by side on the same frozen embeddings (default embedder), per shared set.

Embeds each set's train and test split once, fits logreg, svm, mlp and xgboost with their
defaults, and prints test accuracy, macro-F1 and head fit time as a Markdown table.

    python benchmarks/heads.py [--sets sms_spam,disaster_tweets,banking77] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from bertclf import Embedder
from bertclf.classify.heads import HEADS, fit_head
from bertclf.evaluate.metrics import evaluate_predictions
from bertclf.io.labels import encode_labels, read_labelled

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="sms_spam,disaster_tweets,banking77")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    print("| set | head | accuracy | macro-F1 | head fit s |\n|---|---|---|---|---|")
    for name in args.sets.split(","):
        folder = Path(args.data) / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train_texts, train_labels = read_labelled(str(folder / "train.csv"), "text", "label")
            test_texts, test_labels = read_labelled(str(folder / "test.csv"), "text", "label")
        embedder = Embedder(progress=False)
        train, test = embedder.transform(train_texts), embedder.transform(test_texts)
        classes, y = encode_labels(train_labels)
        for head in HEADS:
            start = time.perf_counter()
            fitted = fit_head(head, train, y, len(classes), random_state=13)
            seconds = time.perf_counter() - start
            predicted = classes[fitted.predict_proba(test).argmax(axis=1)]
            report = evaluate_predictions(test_labels, predicted, classes)
            scores = f"{report['accuracy']:.4f} | {report['macro_f1']:.4f}"
            print(f"| {name} | {head} | {scores} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
