"""Evaluation reports as numbers (accuracy, macro-F1, per-class scores, confusion matrix, ECE),
ready for JSON; ``render`` prints and draws them.

Labels are compared by their text, so a model trained on the labels 0/1 from JSON scores
correctly on the "0"/"1" of a CSV file. Test labels the model never saw are kept: they appear in
the table and the matrix (always wrong, by necessity) and are listed, rather than crashing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np


def evaluate_predictions(y_true: Any, y_pred: Any, classes: Any,
                         macro_over_truth: bool = False) -> dict[str, Any]:
    """A JSON-ready report of predictions ``y_pred`` against ``y_true`` for a model with ``classes``.

    ``macro_over_truth`` averages macro-F1 over the labels the truth has: for a predicted-only
    class such as zero-shot's 'other', whose F1 is 0 by definition and says nothing new."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    known = [str(c) for c in classes]
    truth = [str(v) for v in y_true]
    pred = [str(v) for v in y_pred]
    known_set = set(known)
    unseen = Counter(t for t in truth if t not in known_set)
    present = set(truth) | set(pred)
    labels = [c for c in known if c in present] + sorted(unseen)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=labels, zero_division=0)
    return {
        "n": len(truth),
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(np.mean(f1[support > 0] if macro_over_truth else f1)) if support.sum() else 0.0,
        "weighted_f1": float(np.average(f1, weights=support)) if support.sum() else 0.0,
        "per_class": [
            {"label": label, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ],
        "confusion_matrix": {"labels": labels,
                             "matrix": confusion_matrix(truth, pred, labels=labels).tolist()},
        "unseen_labels": dict(unseen.most_common()),
    }


def evaluate_model(model: Any, X: Any, y: Any) -> dict[str, Any]:
    """The report of a fitted model on (X, y), single- or multi-label as the model is."""
    if model.task != "multi-label":
        return evaluate_proba(model, model.predict_proba(X), y)
    from bertclf.evaluate.multilabel import evaluate_multilabel
    from bertclf.io.labels import truth_matrix

    truth, unseen = truth_matrix(y, model.classes_)
    proba = model.predict_proba(X)
    return evaluate_multilabel(truth, (proba >= model.thresholds_).astype(int), proba, model.classes_, unseen)


def evaluate_proba(model: Any, proba: np.ndarray, y: Any) -> dict[str, Any]:
    """The single-label report of ``model``'s probabilities ``proba`` against ``y``, with the
    calibration (reliability bins and ECE), for callers that need the probabilities too."""
    from bertclf.evaluate.ece import calibrated_ece, reliability

    report = evaluate_predictions(y, model.classes_[np.argmax(proba, axis=1)], model.classes_)
    index = {str(c): i for i, c in enumerate(model.classes_)}
    target = np.array([index.get(str(v), -1) for v in y])
    report["calibration"] = reliability(proba, target)
    report["ece"] = report["calibration"]["ece"]
    report["calibrated"] = getattr(model, "calibrate", None)
    report["ece_if_calibrated"] = None if report["calibrated"] else calibrated_ece(proba, target)
    return report


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a model folder keeps from a report."""
    keys = ("n", "micro_f1", "macro_f1", "mean_roc_auc", "subset_accuracy", "hamming_loss") \
        if report.get("task") == "multi-label" else ("n", "accuracy", "macro_f1", "weighted_f1", "ece")
    return {k: report[k] for k in keys if k in report}
