"""Predictions as a table: the input's columns, then the label and the probabilities."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bertclf.errors import BertclfWarning


def prediction_table(table: Any, classes: np.ndarray, proba: np.ndarray, top_k: int | None = None,
                     thresholds: np.ndarray | None = None, label_sep: str = ";") -> Any:
    """``table`` plus 'label' and 'p_<class>' per class, or with ``top_k`` the label's own
    probability 'p_label' and the next best, top_2, p_top_2, ...
    A multi-label model (``thresholds`` given) writes 'labels': the labels that pass their
    thresholds, joined by ``label_sep``.

    A column the input already has (say, its true 'label') is kept; the prediction then goes
    to 'predicted_label' instead, with a warning, so nothing the user had is overwritten.
    """
    result = table.reset_index(drop=True).copy()
    name = "label" if thresholds is None else "labels"
    label_col = name if name not in result.columns else f"predicted_{name}"
    if label_col != name:
        warnings.warn(f"the input already has a '{name}' column; predictions are in '{label_col}'",
                      BertclfWarning, stacklevel=2)
    best = np.argsort(-proba, axis=1, kind="stable")
    if thresholds is None:
        added: dict[str, Any] = {label_col: classes[best[:, 0]]}
    else:
        from bertclf.io.labels import label_sets

        added = {label_col: label_sets(proba >= thresholds, classes, label_sep)}
    if top_k is None:
        for i, name in enumerate(classes):
            added[f"p_{name}"] = proba[:, i]
    else:  # the label column is the first of the K: top_1 would repeat it
        rows = np.arange(len(proba))
        for k in range(top_k):
            if k == 0 and thresholds is None:
                added[f"p_{label_col}"] = proba[rows, best[:, 0]]
                continue
            added[f"top_{k + 1}"] = classes[best[:, k]]
            added[f"p_top_{k + 1}"] = proba[rows, best[:, k]]
    clashes = [name for name in added if name in result.columns]
    if clashes:
        warnings.warn(f"input columns {', '.join(clashes)} were replaced by predictions",
                      BertclfWarning, stacklevel=2)
    for name, values in added.items():
        result[name] = values
    return result


def add_explanations(result: Any, explanations: list[list[Any]], full: bool) -> Any:
    """``result`` plus each text's explanation: ``full`` (JSONL, --json) the whole list, one
    object per explained label, in 'explanation'; otherwise two compact columns,
    'explain_for' and 'explain_against' ("refund +0.31; charged +0.12", the label first when a
    text has several)."""
    if full:
        result["explanation"] = [[e.to_json() for e in found] for found in explanations]
        return result
    for column, side in (("explain_for", "toward"), ("explain_against", "against")):
        result[column] = [" | ".join(_compact(e, side, len(found) > 1) for e in found)
                          for found in explanations]
    return result


def _compact(explanation: Any, side: str, named: bool) -> str:
    words = "; ".join(f"{w['word']} {w['weight']:+.3f}" for w in getattr(explanation, side))
    return f"{explanation.label}: {words}" if named else words
