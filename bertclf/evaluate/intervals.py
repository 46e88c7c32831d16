"""How sure a score measured on n texts is: the 95 % interval the --auto check, fine-tuning's
check and the labelling loop's estimate all quote, and micro-F1 for several labels a text."""

from __future__ import annotations

import numpy as np


def interval(accuracy: float, n: int) -> tuple[float, float]:
    """A 95% Wilson interval for an accuracy measured on n texts."""
    z = 1.96
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def micro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Micro-averaged F1 of two (n, L) 0/1 matrices (1.0 when both are empty)."""
    tp = int((truth & predicted).sum())
    wrong = int((truth ^ predicted).sum())
    return 2 * tp / (2 * tp + wrong) if tp or wrong else 1.0


def f1_interval(truth: np.ndarray, predicted: np.ndarray, seed: int = 0,
                rounds: int = 1000) -> tuple[float, float]:
    """A 95% bootstrap interval for the micro-F1 of (truth, predicted), resampling texts."""
    tp = (truth & predicted).sum(axis=1)
    wrong = (truth ^ predicted).sum(axis=1)
    picks = np.random.default_rng(seed).integers(0, len(tp), size=(rounds, len(tp)))
    t, w = tp[picks].sum(axis=1), wrong[picks].sum(axis=1)
    scores = np.where(t + w > 0, 2 * t / np.maximum(2 * t + w, 1), 1.0)
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)
