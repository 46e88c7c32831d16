"""Multi-label cut-offs: one per label, tuned for F1 on a held-out part of the training rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bertclf.errors import SpecError

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


def check_thresholds(spec: Any) -> None:
    """Refuse a thresholds setting that is not "tune", a cut-off in (0, 1), or a mapping of labels
    to such cut-offs."""
    values = list(spec.values()) if isinstance(spec, Mapping) else [spec]
    if spec == "tune" or (values and all(_is_cut(v) for v in values)):
        return
    raise SpecError(f"thresholds must be 'tune', a number between 0 and 1 or a mapping of every label to "
                    f"one, got {spec!r}")


def fixed_thresholds(spec: float | Mapping[str, float], classes: Any) -> np.ndarray:
    """The cut-off of each of ``classes``: one number for all, or each label's from a mapping
    (which must name every label and no other)."""
    if not isinstance(spec, Mapping):
        return np.full(len(classes), float(spec))
    names = [str(c) for c in classes]
    given = {str(k): float(v) for k, v in spec.items()}
    if set(given) != set(names):
        missing, unknown = sorted(set(names) - set(given)), sorted(set(given) - set(names))
        raise SpecError(f"thresholds must give a cut-off for every label: missing {missing}, "
                        f"unknown {unknown}")
    return np.array([given[n] for n in names])


def _is_cut(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
