"""Top-label calibration of predicted probabilities: reliability bins and the expected
calibration error (ECE). Numbers only; render.figures draws the diagram."""

from __future__ import annotations

from typing import Any

import numpy as np


def reliability(proba: np.ndarray, target: np.ndarray, bins: int = 15) -> dict[str, Any]:
    """Top-label calibration: per equal-width confidence bin, how many predictions, their mean
    confidence and their accuracy; ``ece`` is the count-weighted mean gap (Guo et al., 2017).
    ``target`` holds class indices; -1 (a label the model never saw) is always wrong."""
    confidence, correct = proba.max(axis=1), (proba.argmax(axis=1) == target)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        count = int(inside.sum())
        conf = float(confidence[inside].mean()) if count else 0.0
        acc = float(correct[inside].mean()) if count else 0.0
        ece += count / max(1, len(target)) * abs(acc - conf)
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": count,
                     "confidence": conf, "accuracy": acc})
    return {"ece": float(ece), "bins": rows}
