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

from .errors import BertclfWarning, InputError, SpecError
from .figures import wrap_title

METHODS = ("sigmoid", "isotonic")
FOLDS = 5
_EPS = 1e-6


ECE_MEANING = ("ECE, the expected calibration error, is how far the top label's probability is from "
               "how often it is right, averaged over 15 confidence bins: 0 is perfect, 0.10 is 10 points "
               "off.")


def ece_hint(method: str | None) -> str:
    """One line to print beside an ECE: how the probabilities were made, and what would lower it.
    Calibration stays an option: measured on seven sets it lowered ECE on six but raised it on
    sst2, and cost bbc_news 0.23 accuracy points (docs/results.md, Calibration)."""
    if method:
        return f"probabilities calibrated by --calibrate {method} on out-of-fold predictions."
    return ("probabilities as the head gives them; train with --calibrate sigmoid to bring ECE down "
            "(banking77: 0.21 -> 0.03).")


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


def reliability_figure(calibration: dict[str, Any], title: str = "") -> Any:
    """Accuracy against confidence per bin (a calibrated model sits on the diagonal), with how
    many predictions each bin holds below it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = calibration["bins"]
    mids = [(r["low"] + r["high"]) / 2 for r in rows]
    width = rows[0]["high"] - rows[0]["low"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6.2), dpi=110, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    top.bar(mids, [r["accuracy"] for r in rows], width=width * 0.95, color="#4c72b0",
            label="accuracy in the bin")
    top.plot([0, 1], [0, 1], "--", color="#555555", label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.legend(loc="upper left", frameon=False)
    head = f"ECE {calibration['ece']:.4f}"
    top.set_title(f"{wrap_title(title, fig.get_figwidth())}\n{head}" if title else head, fontsize=10)
    bottom.bar(mids, [r["count"] for r in rows], width=width * 0.95, color="#999999")
    bottom.set_xlabel("confidence (the top label's probability)")
    bottom.set_ylabel("texts")
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    return fig


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))
