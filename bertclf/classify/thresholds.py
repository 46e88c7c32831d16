"""Multi-label cut-offs: one per label, tuned for F1 on a held-out part of the training rows."""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5


def tune_thresholds(truth: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per label, the probability cut-off that maximises F1 on (truth, proba); 0.5 for a label
    with no positive example to tune on. The cut-off sits midway between neighbouring scores."""
    from sklearn.metrics import precision_recall_curve

    thresholds = np.full(truth.shape[1], DEFAULT_THRESHOLD)
    for j in range(truth.shape[1]):
        if truth[:, j].min() == truth[:, j].max():
            continue
        precision, recall, cuts = precision_recall_curve(truth[:, j], proba[:, j])
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = int(np.argmax(f1[:-1]))
        below = proba[:, j][proba[:, j] < cuts[best]]
        thresholds[j] = (cuts[best] + below.max()) / 2 if below.size else cuts[best]
    return thresholds
