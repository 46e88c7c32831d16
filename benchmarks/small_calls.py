"""Predicting a few texts a call, as a user's own web app or queue worker does: the runtime's
``Model.predict_proba`` in calls of 1, 8, 32, 256 texts and all at once, for a frozen model
(MiniLM + logistic regression) and for `train`'s default (hybrid: TF-IDF beside the embedding),
the frozen one also with its head's product always through BLAS (as before
``classify.heads.product``); beside sentence-transformers + scikit-learn ``LogisticRegression`` in
calls of the same size, in one run. Texts/s and CPU milliseconds a text (both cores' time). The
models are trained on banking77 (77 labels); the texts are its test set. Writes the
"small-calls" section of docs/performance.md ("small-calls-avx2" on a CPU without VNNI).

    python benchmarks/small_calls.py [--data ../shared/data] [--texts 1024]
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from results_md import PERFORMANCE, cpu_line, isa_section, publish

from bertclf import runtime
from bertclf.classify import heads

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SIZES = (1, 8, 32, 256)


def texts_of(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def timed(predict: Callable[[list[str]], object], texts: list[str], size: int) -> tuple[float, float]:
    """(texts/s, CPU ms a text) of ``predict`` over ``texts`` in calls of ``size``."""
    predict(texts[:size])  # warm
    began, cpu = time.perf_counter(), cpu_seconds()
    for start in range(0, len(texts), size):
        predict(texts[start:start + size])
    wall, used = time.perf_counter() - began, cpu_seconds() - cpu
    return len(texts) / wall, 1000 * used / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--texts", type=int, default=1024, help="texts predicted per measurement")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    train = args.data / "banking77" / "train.csv"
    work = Path(tempfile.mkdtemp(prefix="bertclf-small-calls-"))
    for features in ("embedding", "hybrid"):
        subprocess.run([str(Path(sys.executable).parent / "bertclf"), "train", str(train), "--out",
                        str(work / features), "--features", features, "-q"], check=True, capture_output=True)
    texts = texts_of(args.data / "banking77" / "test.csv")[0]
    some = texts[:args.texts]
    loaded = runtime.load(work / "embedding", progress=False)
    hybrid = runtime.load(work / "hybrid", progress=False)

    def blas_always(batch: list[str]) -> object:
        keep, heads.SMALL_PRODUCT = heads.SMALL_PRODUCT, -1
        try:
            return loaded.predict_proba(batch)
        finally:
            heads.SMALL_PRODUCT = keep

    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    from bertclf.encode.sources import bundled_model_dir

    encoder = SentenceTransformer(str(bundled_model_dir()), device="cpu")
    train_texts, labels = texts_of(train)
    vectors = encoder.encode(train_texts[:3000], batch_size=64)
    head = LogisticRegression(max_iter=1000).fit(vectors, labels[:3000])
    before = "bertclf runtime, frozen, head through BLAS (before)"
    rows = {"bertclf runtime, frozen": loaded.predict_proba, before: blas_always,
            "bertclf runtime, hybrid (train's default)": hybrid.predict_proba,
            "sentence-transformers + scikit-learn": lambda batch: head.predict_proba(encoder.encode(batch))}
    sizes = (*SIZES, len(texts))
    found = {name: [timed(call, texts if size == len(texts) else some, size) for size in sizes]
             for name, call in rows.items()}
    section, on = isa_section("small-calls")
    header = " | ".join(f"{s:,} a call" for s in sizes)
    lines = [f"### A few texts a call: `Model.predict_proba`{on}", "",
             f"{cpu_line()}; banking77 test texts ({len(some):,} a measurement, all {len(texts):,} in one "
             f"call for the last column), models trained on banking77's train split (77 labels), logistic "
             f"regression heads. Texts/s, and CPU ms a text (the time of both cores).", "",
             f"| predictor | {header} |", "|---|" + "---|" * len(sizes)]
    for name, cells in found.items():
        cells_text = " | ".join(f"{rate:.0f} /s, {cpu:.1f} ms" for rate, cpu in cells)
        lines.append(f"| {name} | {cells_text} |")
    gains = ", ".join(f"{s:,}: {a[0] / b[0]:.2f}x" for s, a, b in zip(sizes, found["bertclf runtime, frozen"],
                                                                     found[before], strict=True))
    lines += ["", f"- The frozen model against its head through BLAS, by texts a call: {gains}."]
    publish(section, "\n".join(lines), "python benchmarks/small_calls.py", not args.no_write,
            time.perf_counter() - began, PERFORMANCE)


if __name__ == "__main__":
    main()
