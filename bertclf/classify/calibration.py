"""Calibrated probabilities: a per-class map fitted on out-of-fold probabilities, and the
expected calibration error (ECE) with its reliability diagram.

The head is fitted on every training text as usual; its probabilities are then mapped by
calibrators learned from cross-validated probabilities of the same head (scikit-learn's
``CalibratedClassifierCV(ensemble=False)`` recipe), so no text calibrates its own prediction.
``sigmoid`` is Platt scaling on the log-odds, ``isotonic`` a monotone step function; both are
stored as plain numbers in config.json and replayed with numpy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertclf.errors import BertclfWarning, InputError, SpecError

METHODS = ("sigmoid", "isotonic")


FOLDS = 5


_EPS = 1e-6


def check_method(method: str | None) -> str | None:
    if method is not None and method not in METHODS:
        raise SpecError(f"unknown calibration {method!r}: use one of {', '.join(METHODS)}")
    return method


@dataclass
class Calibrator:
    """One map per class from the head's probability to a calibrated one; rows renormalised."""

    method: str
    params: list[dict[str, list[float]]]

    @classmethod
    def fit(cls, method: str, proba: np.ndarray, target: np.ndarray) -> Calibrator:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        params = []
        for c in range(proba.shape[1]):
            hit = (target == c).astype(int)
            if method == "sigmoid":
                x = _logit(proba[:, c])[:, None]
                model = LogisticRegression(C=1e4, max_iter=1000).fit(x, hit)
                params.append({"a": [float(model.coef_[0, 0])], "b": [float(model.intercept_[0])]})
            else:
                iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba[:, c], hit)
                params.append({"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()})
        return cls(method, params)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        out = np.empty_like(proba, dtype=np.float64)
        for c, p in enumerate(self.params):
            if self.method == "sigmoid":
                out[:, c] = 1.0 / (1.0 + np.exp(-(p["a"][0] * _logit(proba[:, c]) + p["b"][0])))
            else:
                out[:, c] = np.interp(proba[:, c], p["x"], p["y"])
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / out.shape[1])
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), uniform)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {**self.to_json(), "n_classes": len(self.params)}, {}  # numbers: kept in config.json

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> Calibrator:
        return cls.from_json(settings, int(settings["n_classes"]))

    @classmethod
    def from_json(cls, data: dict[str, Any], n_classes: int) -> Calibrator:
        method, params = data["method"], data["params"]
        if method not in METHODS or not isinstance(params, list) or len(params) != n_classes:
            raise ValueError("calibration needs a known method and one map per label")
        return cls(method, params)


def out_of_fold_proba(fit: Callable[[np.ndarray, np.ndarray], Any], features: np.ndarray,
                      target: np.ndarray, n_classes: int, seed: int | None,
                      purpose: str = "calibration", fix: str = "train without --calibrate") -> np.ndarray:
    """Each training text's probabilities from a head that never saw it (stratified folds)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(target, minlength=n_classes).min())
    if smallest < 2:
        raise InputError(f"{purpose} needs at least 2 training texts of every label (cross-validated); "
                         f"one label has fewer: {fix}")
    folds = min(FOLDS, smallest)
    if folds < FOLDS:
        warnings.warn(f"the smallest label has {smallest} training texts: {purpose} uses {folds} folds "
                      f"instead of {FOLDS}", BertclfWarning, stacklevel=3)
    proba = np.zeros((len(target), n_classes))
    for train, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(features, target):
        proba[held] = fit(features[train], target[train]).predict_proba(features[held])
    return proba


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))
