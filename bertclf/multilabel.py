"""Multi-label data: several labels per text, as 0/1 columns or one separated column.

A multi-label target is held as an (n, L) 0/1 matrix with the label names beside it. Per-label
decision thresholds are tuned on a validation split (each maximising that label's F1), and the
report carries the usual multi-label scores: micro and macro F1, per-label precision, recall and
F1, mean column-wise ROC-AUC (the toxic-comment challenge's metric), subset accuracy and Hamming
loss.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .errors import BertclfWarning, InputError

DEFAULT_THRESHOLD = 0.5


def is_multilabel(y: Any) -> bool:
    """A 2-D target (0/1 matrix or DataFrame) or a list of label lists/sets/tuples."""
    if hasattr(y, "columns"):
        return True
    if isinstance(y, np.ndarray):
        return y.ndim == 2
    values = list(y)
    return bool(values) and all(isinstance(v, (list, set, frozenset, tuple)) for v in values)


def encode_multilabel(y: Any, classes: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(label names, (n, L) uint8 matrix) from a 0/1 DataFrame or array, or from label sets."""
    if hasattr(y, "columns"):
        names = [str(c) for c in y.columns]
        matrix = check_binary(y.to_numpy(), names)
    elif isinstance(y, np.ndarray) and y.ndim == 2:
        names = [str(c) for c in classes] if classes is not None else [str(i) for i in range(y.shape[1])]
        matrix = check_binary(y, names)
    else:
        sets = [{str(label).strip() for label in labels} - {""} for labels in y]
        names = [str(c) for c in classes] if classes is not None else sorted(set().union(*sets))
        index = {name: i for i, name in enumerate(names)}
        matrix = np.zeros((len(sets), len(names)), dtype=np.uint8)
        for row, labels in enumerate(sets):
            for label in labels:
                if label in index:
                    matrix[row, index[label]] = 1
    if len(names) < 1:
        raise InputError("no labels found: a multi-label target needs at least one label")
    return np.asarray(names), matrix


def check_binary(values: Any, names: list[str]) -> np.ndarray:
    """A 0/1 matrix, or an InputError naming the first column with anything else in it."""
    raw = np.asarray(values, dtype=object)
    for j, name in enumerate(names):
        column = raw[:, j]
        bad = [i for i, v in enumerate(column) if _as_bit(v) is None]
        if bad:
            shown = ", ".join(repr(column[i]) for i in bad[:3])
            rows = ", ".join(str(i + 1) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
            raise InputError(f"label column '{name}' must hold only 0 and 1: found {shown} "
                             f"({len(bad)} rows: {rows})")
    return np.vectorize(_as_bit, otypes=[np.uint8])(raw) if raw.size else np.zeros(raw.shape, np.uint8)


def _as_bit(value: Any) -> int | None:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, str):
        value = value.strip().lower()
        return {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "true": 1, "false": 0}.get(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number in (0.0, 1.0) else None


def report_label_counts(matrix: np.ndarray, names: np.ndarray, where: str) -> None:
    """Rows with no label are fine (counted); a label never or always present cannot be learned
    and is predicted from its prevalence alone (warned)."""
    empty = int((matrix.sum(axis=1) == 0).sum())
    if empty:
        warnings.warn(f"{where}: {empty} of {len(matrix)} rows have no positive label (kept: they "
                      f"teach every label's 'no')", BertclfWarning, stacklevel=3)
    positives = matrix.sum(axis=0)
    constant = [str(n) for n, p in zip(names, positives, strict=True) if p in (0, len(matrix))]
    if constant:
        warnings.warn(f"{where}: label{'s' if len(constant) > 1 else ''} {', '.join(constant[:5])} "
                      f"{'are' if len(constant) > 1 else 'is'} never or always present; predicted "
                      f"from {'their' if len(constant) > 1 else 'its'} prevalence alone",
                      BertclfWarning, stacklevel=3)


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


def print_multilabel_report(report: dict[str, Any], title: str, console: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console(highlight=False)
    auc = report["mean_roc_auc"]
    console.print(f"[bold]{escape(title)}[/]: {report['n']} texts, micro-F1 {report['micro_f1']:.4f}, "
                  f"macro-F1 {report['macro_f1']:.4f}, mean ROC-AUC "
                  f"{'n/a' if auc is None else f'{auc:.4f}'}, subset accuracy "
                  f"{report['subset_accuracy']:.4f}, Hamming loss {report['hamming_loss']:.4f}",
                  soft_wrap=True)
    table = Table(title_justify="left")
    for name in ("label", "precision", "recall", "f1", "support"):
        table.add_column(name, justify="left" if name == "label" else "right")
    for row in report["per_label"]:
        table.add_row(escape(row["label"]), f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                      f"{row['f1']:.3f}", str(row["support"]))
    console.print(table)
    if report["rows_without_labels"]:
        console.print(f"[dim]{report['rows_without_labels']} rows have no true label[/]")
    if report["unseen_labels"]:
        shown = ", ".join(f"{escape(k)} ({v})" for k, v in list(report["unseen_labels"].items())[:10])
        console.print(f"[yellow]test labels the model never saw: {shown}; they are not scored[/]",
                      soft_wrap=True)


def truth_matrix(y: Any, classes: Any) -> tuple[np.ndarray, dict[str, int]]:
    """Test labels as a 0/1 matrix over the model's labels, with labels the model never saw
    counted (they cannot be scored); label columns the model lacks are ignored the same way."""
    names = [str(c) for c in classes]
    if hasattr(y, "columns"):
        missing = [n for n in names if n not in map(str, y.columns)]
        if missing:
            raise InputError(f"the test labels lack the model's label column"
                             f"{'s' if len(missing) > 1 else ''} {', '.join(missing[:5])}")
        extra = {str(c): int(np.asarray(check_binary(y[[c]].to_numpy(), [str(c)])).sum())
                 for c in y.columns if str(c) not in names}
        y = y.rename(columns=str)[names]
        return encode_multilabel(y)[1], extra
    sets = [[str(label).strip() for label in labels] for labels in y]
    unseen: dict[str, int] = {}
    for labels in sets:
        for label in labels:
            if label and label not in names:
                unseen[label] = unseen.get(label, 0) + 1
    return encode_multilabel(sets, classes=names)[1], unseen


def label_sets(matrix: np.ndarray, classes: Any, sep: str = ";") -> list[str]:
    """Each row's predicted labels joined by ``sep`` (empty when none passed its threshold)."""
    names = [str(c) for c in classes]
    return [sep.join(n for n, on in zip(names, row, strict=True) if on) for row in matrix]
