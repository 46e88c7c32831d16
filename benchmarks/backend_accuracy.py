"""Does a faster backend change what a classifier learns? Test accuracy of `train`'s defaults
(frozen embeddings + logistic regression, full train split, test split) with each encoder backend,
and the change against torch fp32. A backend that moves accuracy by more than 0.5 point on any
set may not be the default. Writes the "Backend accuracy" section of docs/performance.md.

    python benchmarks/backend_accuracy.py [--sets sms_spam,banking77,ag_news] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from results_md import PERFORMANCE, isa_section, publish

from bertclf import Embedder, TextClassifier
from bertclf.evaluate.metrics import evaluate_predictions
from bertclf.io.labels import read_labelled

SETS = ["sms_spam", "banking77", "ag_news"]
BACKENDS = [("torch", "fp32"), ("torch", "bf16"), ("onnx", "fp32"), ("onnx-int8", "fp32")]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def score(folder: Path, backend: str, dtype: str) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_texts, train_labels = read_labelled(str(folder / "train.csv"), "text", "label")
        test_texts, test_labels = read_labelled(str(folder / "test.csv"), "text", "label")
        embedder = Embedder(backend=backend, dtype=dtype, progress=False, device="cpu")
        embedder.load_encoder()
        model = TextClassifier(embedder, reuse_embeddings=False, features="embedding")
        start = time.perf_counter()
        model.fit(train_texts, train_labels)
        predicted = model.predict(test_texts)
        seconds = time.perf_counter() - start
    report = evaluate_predictions(test_labels, predicted, model.classes_)
    return {"acc": 100 * report["accuracy"], "f1": 100 * report["macro_f1"], "seconds": seconds,
            "texts": len(train_texts) + len(test_texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backends", default=",".join(f"{b}:{d}" for b, d in BACKENDS),
                        help="BACKEND:DTYPE,... (the first is the reference)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    began = time.perf_counter()
    section, on = isa_section("backend-accuracy")
    lines = [f"### Backend accuracy: `train`'s defaults, each backend{on}", "",
             "| set | backend | accuracy | change vs torch fp32 | macro-F1 | train + predict s |",
             "|---|---|---|---|---|---|"]
    worst: dict[str, float] = {}
    for name in args.sets.split(","):
        reference = None
        for backend, dtype in (spec.split(":") for spec in args.backends.split(",")):
            r = score(args.data / name, backend, dtype)
            reference = reference if reference is not None else r["acc"]
            label = f"{backend} {dtype}" if backend == "torch" else backend
            change = r["acc"] - reference
            worst[label] = max(worst.get(label, 0.0), abs(change))
            lines.append(f"| {name} | {label} | {r['acc']:.2f} | {change:+.2f} | {r['f1']:.2f} | "
                         f"{r['seconds']:.0f} |")
            print(lines[-1], flush=True)
    lines += ["", "Largest change on any set: " + ", ".join(f"{k} {v:.2f}" for k, v in worst.items()) + "."]
    publish(section, "\n".join(lines), "python benchmarks/backend_accuracy.py", not args.no_write,
            time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
