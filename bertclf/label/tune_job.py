"""The background tuning job of `bertclf label` (``tuning.Tuner`` starts it):

    python -m bertclf.label.tune_job FOLDER

reads FOLDER/job.json (the database, the pool's ids, the answers) and FOLDER/frozen.npy, runs at
the lowest CPU priority, and writes FOLDER/vectors.npy (when the tuned encoder is adopted) and then
FOLDER/result.json, each whole or not at all.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from bertclf.io.files import atomic_path
from bertclf.label.learner import unit_vectors
from bertclf.label.store import LabelStore
from bertclf.label.tuning import JOB, RESULT, VECTORS, tune_and_check


def run(folder: Path) -> dict:
    job = json.loads((folder / JOB).read_text(encoding="utf-8"))
    store = LabelStore.open(job["db"])
    try:
        texts = store.texts(job["ids"])
        labels = store.labels
    finally:
        store.close()
    answered = [texts[i] for i in job["answered"]]
    frozen = np.load(folder / "frozen.npy")
    result, tuned = tune_and_check(answered, np.asarray(job["target"]), frozen, labels, job["model"],
                                   job["seed"])
    result["ids"] = job["ids"]
    if result["adopted"]:
        vectors = unit_vectors([texts[i] for i in job["ids"]], tuned.embedder_)
        with atomic_path(folder / VECTORS) as tmp, open(tmp, "wb") as handle:
            np.save(handle, vectors)
    with atomic_path(folder / RESULT) as tmp:  # last: the vectors are in place when it says so
        tmp.write_text(json.dumps(result), encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bertclf.label.tune_job FOLDER", file=sys.stderr)
        return 2
    if hasattr(os, "nice"):
        os.nice(19)  # the page's process comes first on a shared CPU
    run(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
