"""Clustering quality on labelled shared sets, computed the way MTEB does: embed, then
MiniBatchKMeans with k = number of labels and batches of 500, then V-measure against the labels
(MTEB averages 10 runs; so does this, over seeds 0..9). Writes docs/results.md's section.

    python benchmarks/clustering.py [--no-write]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from results_md import publish

from bertclf import Embedder
from bertclf.explore.clustering import agreement, cluster, kmeans

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = [("bbc_news", ("train", "test")), ("ag_news", ("test",))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    embedder = Embedder(progress=False)
    embedder.load_encoder()
    lines = ["| set | texts | k | V-measure (mean ± sd of 10 seeds) | adjusted Rand | NMI | embed s | "
             "keywords of the k clusters (seed 13, `bertclf cluster`) |", "|---|---|---|---|---|---|---|---|"]
    for name, splits in SETS:
        frame = pd.concat([pd.read_csv(DATA / name / f"{s}.csv", dtype=str, keep_default_na=False)
                           for s in splits], ignore_index=True)
        start = time.perf_counter()
        vectors = embedder.transform(frame["text"].tolist())
        seconds = time.perf_counter() - start
        k = frame["label"].nunique()
        runs = [agreement(frame["label"].tolist(), kmeans(vectors, k, seed, minibatch=True)[0].labels_)
                for seed in range(10)]
        v = np.array([r["v_measure"] for r in runs])
        described = cluster(vectors, frame["text"].tolist(), k)
        words = "; ".join(", ".join(c.keywords[:4]) for c in described.clusters)
        ari, nmi = (np.mean([r[key] for r in runs]) for key in ("adjusted_rand", "nmi"))
        lines.append(f"| {name} ({'+'.join(splits)}) | {len(frame):,} | {k} | "
                     f"{v.mean():.4f} ± {v.std():.4f} | {ari:.4f} | {nmi:.4f} | {seconds:.0f} | {words} |")
        print(lines[-1], flush=True)
    body = "Bundled model, its own settings (mean pooling, L2-normalised, 256 tokens).\n\n" + "\n".join(lines)
    publish("clustering.py", body, "benchmarks/clustering.py", write=not args.no_write)


if __name__ == "__main__":
    main()
