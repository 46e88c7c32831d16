"""Scores for several labels per text: micro and macro F1, per-label scores, ROC-AUC, subset
accuracy and Hamming loss."""

from __future__ import annotations

from typing import Any

import numpy as np


def evaluate_multilabel(truth: np.ndarray, predicted: np.ndarray, proba: np.ndarray | None,
                        classes: Any, unseen: dict[str, int] | None = None) -> dict[str, Any]:
    """A JSON-ready multi-label report."""
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        hamming_loss,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    names = [str(c) for c in classes]
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, zero_division=0)
    aucs = [float(roc_auc_score(truth[:, j], proba[:, j])) for j in range(truth.shape[1])
            if proba is not None and 0 < truth[:, j].sum() < len(truth)]
    return {
        "task": "multi-label",
        "n": int(len(truth)),
        "micro_f1": float(f1_score(truth, predicted, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(truth, predicted)),
        "hamming_loss": float(hamming_loss(truth, predicted)),
        "mean_roc_auc": float(np.mean(aucs)) if aucs else None,
        "roc_auc_labels": len(aucs),
        "rows_without_labels": int((truth.sum(axis=1) == 0).sum()),
        "per_label": [
            {"label": n, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for n, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        ],
        "unseen_labels": dict(unseen or {}),
    }
