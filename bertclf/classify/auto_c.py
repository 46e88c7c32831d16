"""Choosing the head's C from the training rows alone: ``C="auto"``.

The best C differs by data set by two orders of magnitude (banking77 wants little regularisation,
sms_spam more), and a wrong one costs up to 2.5 points of accuracy; a quick stratified
cross-validation on a sample of the training rows finds a good one in seconds. The grid and the
sample size were chosen by measurement (docs/results.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

TUNED_HEADS = ("logreg", "svm")  # xgboost ignores C; the mlp's search would cost minutes
C_GRID = (0.01, 0.1, 1.0, 10.0)
SAMPLE_ROWS = 4000
FOLDS = 3


def stratified_sample(target: np.ndarray, rows: int, seed: int | None) -> np.ndarray:
    """Up to ``rows`` row indices, every class kept in proportion (and at least once)."""
    if len(target) <= rows:
        return np.arange(len(target))
    from sklearn.model_selection import train_test_split

    try:
        picked, _ = train_test_split(np.arange(len(target)), train_size=rows, stratify=target,
                                     random_state=seed)
    except ValueError:  # classes too small to stratify at this size: a plain seeded sample
        picked = np.random.default_rng(seed).permutation(len(target))[:rows]
    return np.sort(picked)


def choose_C(head: str, X: Any, target: np.ndarray, n_classes: int, class_weight: str | None = None,
             params: dict[str, Any] | None = None, seed: int | None = 13, grid: tuple[float, ...] = C_GRID,
             rows: int = SAMPLE_ROWS, folds: int = FOLDS) -> float:
    """The C of ``grid`` with the best mean accuracy over stratified folds of a sample of the
    rows (ties go to the smaller C: the simpler model). 1.0 when a class is too small to fold."""
    import warnings

    from sklearn.model_selection import StratifiedKFold

    from bertclf.classify.heads import fit_head

    rows_used = stratified_sample(target, rows, seed)
    y = target[rows_used]
    smallest = int(np.bincount(y, minlength=n_classes).min())
    k = min(folds, smallest)
    if k < 2:
        return 1.0
    Xs = X[rows_used]
    splits = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    scores = []
    for C in grid:
        correct = 0
        for train, test in splits:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = fit_head(head, Xs[train], y[train], n_classes, C=C,
                                  class_weight=class_weight, params=params, random_state=seed)
            # every class is in every training fold, since k <= the smallest class count
            correct += int((fitted.predict_proba(Xs[test]).argmax(axis=1) == y[test]).sum())
        scores.append(correct / len(y))
    return float(grid[int(np.argmax(scores))])

