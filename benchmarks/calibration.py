"""Expected calibration error before and after `--calibrate`, on real sets.

For each set and each of frozen embeddings and the hybrid (`train`'s default since issue 8), with
logistic regression on the full train split: as fitted, then with --calibrate sigmoid and
isotonic; ECE (15 bins, top label), accuracy and log-loss on the test split. Embeddings are
computed once per set (the in-process memo). Writes the "Calibration" section of
docs/results.md, and reliability diagrams of --picture's set (frozen embeddings), before and after
sigmoid calibration, to docs/reliability-<set>-<method>.png.

    python benchmarks/calibration.py [--sets sms_spam,banking77] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from results_md import publish

from bertclf import Embedder, TextClassifier
from bertclf.calibration import reliability, reliability_figure
from bertclf.data import read_labelled
from bertclf.evaluation import save_figure

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sets", default="sms_spam,banking77")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--picture", default="banking77", help="the set whose reliability diagrams are drawn")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()
    began = time.perf_counter()
    lines = ["| set | features | probabilities | accuracy | ECE | log-loss | train s |",
             "|---|---|---|---|---|---|---|"]
    for name in args.sets.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train_texts, train_labels = read_labelled(str(args.data / name / "train.csv"), "text", "label")
            test_texts, test_labels = read_labelled(str(args.data / name / "test.csv"), "text", "label")
        runs = [(f, m) for f in ("embedding", "hybrid") for m in (None, "sigmoid", "isotonic")]
        for features, method in runs:
            start = time.perf_counter()
            model = TextClassifier(Embedder(progress=False), calibrate=method,
                                   features=features).fit(train_texts, train_labels)
            seconds = time.perf_counter() - start
            proba = model.predict_proba(test_texts)
            index = {str(c): i for i, c in enumerate(model.classes_)}
            target = np.array([index.get(str(v), -1) for v in test_labels])
            calibration = reliability(proba, target)
            picked = np.clip(proba[np.arange(len(target)), np.maximum(target, 0)], 1e-12, 1)
            lines.append(f"| {name} | {features} | {method or 'as the head gives them'} | "
                         f"{100 * np.mean(proba.argmax(axis=1) == target):.2f} | "
                         f"{calibration['ece']:.4f} | "
                         f"{-np.mean(np.log(picked)):.4f} | {seconds:.0f} |")
            print(lines[-1], flush=True)
            drawn = name == args.picture and features == "embedding" and method != "isotonic"
            if drawn and not args.no_write:
                save_figure(reliability_figure(calibration, f"{name}: {method or 'uncalibrated'}"),
                            DOCS / f"reliability-{name}-{method or 'uncalibrated'}.png")
    publish("calibration", "\n".join(["### Calibration: ECE before and after `--calibrate`", "", *lines]),
            "python benchmarks/calibration.py", not args.no_write, time.perf_counter() - began)


if __name__ == "__main__":
    main()
