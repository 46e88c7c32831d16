"""Labelled data: reading texts with their labels, checking labels, and the hold-out split.

Labels may be strings or numbers. Rows without a label are dropped and counted (or refused with
``strict``); everything a classifier cannot learn from (one class, no rows) is one clear error.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BertclfWarning, InputError, SpecError
from .textio import flag_rows, read_table, table_column


def is_missing_label(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def normalize_labels(values: list[Any]) -> list[Any]:
    """Integral floats (1.0, as pandas reads an int column with gaps) become ints; text is stripped.
    Mixed kinds (numbers beside strings) all become strings, so classes can be sorted."""
    out = []
    for value in values:
        if isinstance(value, (bool, np.bool_)):
            value = str(bool(value)).lower()
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        elif isinstance(value, np.integer):
            value = int(value)
        elif isinstance(value, str):
            value = value.strip()
        out.append(value)
    kinds = {isinstance(v, str) for v in out}
    if len(kinds) > 1:
        out = [str(v) for v in out]
    return out


def read_labelled(
    path: str, text_col: str, label_col: str, strict: bool = False
) -> tuple[list[Any], list[Any]]:
    """Texts and labels from a table; rows with no label are dropped and counted."""
    table = read_table(path, strict)
    texts = table_column(table, path, text_col, " (choose one with --text-col)")
    labels = table_column(table, path, label_col, " (choose one with --label-col)")
    missing = [i for i, value in enumerate(labels) if is_missing_label(value)]
    if missing:
        flag_rows(f"{path}: {len(missing)} of {len(labels)} rows have no label", missing,
                  "those rows were dropped", strict)
        keep = [i for i, value in enumerate(labels) if not is_missing_label(value)]
        texts = [texts[i] for i in keep]
        labels = [labels[i] for i in keep]
    if not labels:
        raise InputError(f"{path}: no labelled rows")
    return texts, normalize_labels(labels)


def encode_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(classes, class index per row) for a classifier's fit; refuses what cannot be learned."""
    values = list(y.tolist() if hasattr(y, "tolist") else y)
    if getattr(np.asarray(values, dtype=object), "ndim", 1) != 1:
        raise InputError("y must be one label per text (for several labels per text, see multi-label)")
    missing = [i for i, value in enumerate(values) if is_missing_label(value)]
    if missing:
        raise InputError(f"y has {len(missing)} missing or empty labels (rows "
                         f"{', '.join(map(str, missing[:5]))}{', ...' if len(missing) > 5 else ''}); "
                         f"drop those rows first")
    values = normalize_labels(values)
    classes = sorted(set(values))
    if len(classes) < 2:
        shown = repr(classes[0]) if classes else "none"
        raise InputError(f"only one class in the labels ({shown}): a classifier needs at least two")
    index = {label: i for i, label in enumerate(classes)}
    return np.asarray(classes), np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def holdout_split(labels: list[Any], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test): stratified and seeded; a random split where stratifying cannot
    work (a class with one example, or fewer test rows than classes), with a warning saying so."""
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise InputError(f"the hold-out fraction must be between 0 and 1, got {fraction}")
    rows = np.arange(len(labels))
    counts = Counter(labels)
    n_test = math.ceil(len(labels) * fraction)
    if len(labels) - n_test < 2 or n_test < 1:
        raise InputError(f"{len(labels)} labelled rows are too few to hold {fraction:.0%} out; "
                         f"give a --test file or more data")
    singles = [label for label, count in counts.items() if count < 2]
    if singles or n_test < len(counts):
        why = (f"class{'es' if len(singles) > 1 else ''} {', '.join(map(repr, singles[:5]))} "
               f"{'have' if len(singles) > 1 else 'has'} a single example" if singles else
               f"the hold-out ({n_test} rows) is smaller than the number of classes ({len(counts)})")
        warnings.warn(f"cannot stratify the hold-out split: {why}; using a random split",
                      BertclfWarning, stacklevel=2)
        return train_test_split(rows, test_size=fraction, random_state=seed)
    return train_test_split(rows, test_size=fraction, random_state=seed, stratify=np.asarray(labels))


@dataclass
class Split:
    """Training rows, and the rows a report is computed on (None when there are none)."""

    texts: list[Any]
    labels: list[Any]
    eval_texts: list[Any] | None
    eval_labels: list[Any] | None
    description: str


def read_split(train_path: str, test_path: str | None, holdout: float, seed: int, text_col: str,
               label_col: str, strict: bool = False) -> Split:
    """TRAIN and TEST files, or TRAIN with a stratified, seeded hold-out (``holdout`` > 0)."""
    if not 0 <= holdout < 1:
        raise SpecError(f"--holdout must be at least 0 and below 1, got {holdout}")
    texts, labels = read_labelled(train_path, text_col, label_col, strict)
    if test_path:
        eval_texts, eval_labels = read_labelled(test_path, text_col, label_col, strict)
        return Split(texts, labels, eval_texts, eval_labels, f"test file {test_path}")
    if holdout > 0:
        train_rows, test_rows = holdout_split(labels, holdout, seed)
        return Split([texts[i] for i in train_rows], [labels[i] for i in train_rows],
                     [texts[i] for i in test_rows], [labels[i] for i in test_rows],
                     f"{holdout:.0%} hold-out of {train_path} (seed {seed})")
    return Split(texts, labels, None, None, "")
