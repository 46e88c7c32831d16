"""The simulated labelling loop shared by benchmarks/active_learning.py (bertclf's strategies, in
the project's venv) and benchmarks/active_learning_smalltext.py (small-text's, in its own venv):
numpy and scikit-learn only, so both run the very same head, batches and scoring.

A simulated annotator answers with the train split's true label. From zero labels, each round
asks ``query`` for a batch, adds those answers, refits the head (logistic regression, C = 10, on
unit-length embeddings, as `bertclf label` fits it) and scores it on the test split.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

C = 10.0


def fit_head(vectors: np.ndarray, target: np.ndarray, seed: int,
             previous: LogisticRegression | None = None) -> LogisticRegression:
    """The head `bertclf label` fits; started from ``previous`` (the last batch's head) when it
    knew the same classes: the same convex objective, reached in fewer iterations."""
    head = LogisticRegression(C=C, max_iter=2000, random_state=seed, warm_start=previous is not None)
    if previous is not None and np.array_equal(previous.classes_, np.unique(target)):
        head.coef_, head.intercept_ = previous.coef_.copy(), previous.intercept_.copy()
    return head.fit(vectors, target)


def full_proba(head: Any, vectors: np.ndarray, n_classes: int) -> np.ndarray:
    proba = head.predict_proba(vectors)
    full = np.zeros((len(vectors), n_classes))
    full[:, head.classes_] = proba
    return full


def simulate(vectors: np.ndarray, target: np.ndarray, test_vectors: np.ndarray, test_target: np.ndarray,
             first: Callable[[np.random.Generator, int], np.ndarray],
             query: Callable[[Any, np.ndarray, np.ndarray, np.ndarray, int], np.ndarray],
             seed: int, batch: int = 10, max_labels: int = 1000) -> dict[str, Any]:
    """Accuracy on the test split after every batch, from ``first(rng, batch)`` (the cold start)
    on; ``query(head, proba_of_unlabelled, labelled, unlabelled, n)`` picks each later batch."""
    rng = np.random.default_rng(seed)
    n_classes = int(max(target.max(), test_target.max())) + 1
    labelled = np.asarray(first(rng, batch), dtype=int)
    points, refits, queries = [], [], []
    head = None
    while True:
        if len(np.unique(target[labelled])) >= 2:
            started = time.perf_counter()
            head = fit_head(vectors[labelled], target[labelled], seed, head)
            refits.append(time.perf_counter() - started)
            accuracy = float((full_proba(head, test_vectors, n_classes).argmax(axis=1) == test_target).mean())
        else:
            head, accuracy = None, float((test_target == target[labelled[0]]).mean())
        points.append({"labels": len(labelled), "accuracy": accuracy})
        if len(labelled) >= max_labels:
            break
        mask = np.ones(len(target), dtype=bool)
        mask[labelled] = False
        unlabelled = np.flatnonzero(mask)
        started = time.perf_counter()
        if head is None:
            chosen = rng.choice(unlabelled, batch, replace=False)
        else:
            proba = full_proba(head, vectors[unlabelled], n_classes)
            chosen = query(head, proba, labelled, unlabelled, batch)
        queries.append(time.perf_counter() - started)
        labelled = np.concatenate([labelled, np.asarray(chosen, dtype=int)])
    return {"points": points, "refit_seconds": float(np.median(refits)) if refits else None,
            "query_seconds": float(np.median(queries)) if queries else None, "order": labelled.tolist()}


def random_first(size: int) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: rng.choice(size, n, replace=False)
