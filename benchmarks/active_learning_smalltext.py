"""small-text's BreakingTies and PredictionEntropy in the loop of benchmarks/al_loop.py, on the
embeddings benchmarks/active_learning.py saved: the same head (small-text's SklearnClassifier around
the very logistic regression the loop fits), batches and scoring, from a random first batch as
small-text starts. Runs in small-text's own venv; prints one JSON line of runs per strategy.

    benchmarks/.venv-smalltext/bin/python benchmarks/active_learning_smalltext.py SET.npz SEEDS MAX
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from small_text import BreakingTies, PredictionEntropy, SklearnClassifier, SklearnDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from al_loop import random_first, simulate  # noqa: E402


def main() -> None:
    path, seeds, max_labels = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = np.load(path)
    vectors, target = data["vectors"], data["target"]
    classes = int(max(target.max(), data["test_target"].max())) + 1
    dataset = SklearnDataset(vectors, target, target_labels=np.arange(classes))
    found = {}
    for name, strategy in (("st-BreakingTies", BreakingTies()),
                           ("st-PredictionEntropy", PredictionEntropy())):
        def query(head, proba, labelled, unlabelled, n, strategy=strategy):
            clf = SklearnClassifier(head, classes)  # the loop's fitted head, as small-text sees it
            return strategy.query(clf, dataset, unlabelled, labelled, target[labelled], n=n)

        found[name] = [simulate(vectors, target, data["test_vectors"], data["test_target"],
                                random_first(len(target)), query, seed, max_labels=max_labels)
                       for seed in range(seeds)]
    print(json.dumps(found))


if __name__ == "__main__":
    main()
