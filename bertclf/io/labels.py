"""Labelled data: reading texts with their labels, checking labels (one per text, or several as
0/1 columns or label sets), and the hold-out split.

Labels may be strings or numbers. Rows without a label are dropped and counted (or refused with
``strict``); everything a classifier cannot learn from (one class, no rows) is one clear error.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bertclf.errors import BertclfWarning, InputError, SpecError
from bertclf.io.files import check_texts, flag_rows, is_blank, read_table, table_column


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


def read_labelled(path: str, text_col: str, label_col: str, strict: bool = False,
                  with_rows: bool = False, table: Any = None) -> Any:
    """Texts and labels from a table (``table``, if already read); rows with no label are
    dropped and counted (``with_rows`` also returns the indices of the rows kept)."""
    table = read_table(path, strict) if table is None else table
    texts = table_column(table, path, text_col, " (choose one with --text-col)")
    labels = table_column(table, path, label_col, " (choose one with --label-col)")
    keep = [i for i, value in enumerate(labels) if not is_missing_label(value)]
    if len(keep) < len(labels):
        missing = sorted(set(range(len(labels))) - set(keep))
        flag_rows(f"{len(missing)} of {len(labels)} rows have no label", missing,
                  "those rows were dropped", strict, table.attrs.get("source"))
        texts = [texts[i] for i in keep]
        labels = [labels[i] for i in keep]
    if not labels:
        raise InputError(f"{path}: no labelled rows{' (the file is empty)' if is_blank(table) else ''}")
    check_texts(texts, table.attrs.get("source"), keep, strict)
    return (texts, normalize_labels(labels), keep) if with_rows else (texts, normalize_labels(labels))


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


@dataclass(frozen=True)
class Columns:
    """Where a table keeps its inputs and labels: one label column, several 0/1 label columns
    (``labels``), or one column of separated label sets (``label_sep``)."""

    text: str = "text"
    label: str = "label"
    labels: tuple[str, ...] = ()
    label_sep: str | None = None
    pair: str | None = None
    meta: tuple[str, ...] = ()
    join_on: str | None = None
    time: str | None = None  # each row's date or number, for splits that respect time (--time-col)

    @property
    def multilabel(self) -> bool:
        return bool(self.labels) or self.label_sep is not None

    @property
    def inputs(self) -> list[str]:
        """Every input column, texts first; more than one means X is a DataFrame."""
        return [self.text, *([self.pair] if self.pair else []), *self.meta,
                *([self.join_on] if self.join_on and self.join_on not in self.meta else [])]


def read_rows(path: str, columns: Columns, strict: bool = False) -> tuple[Any, Any]:
    """(X, y) from a table: X is the text list, or a DataFrame when pairs or metadata are read
    too; y is a label list, a 0/1 DataFrame (label columns) or a list of label lists."""
    X, y, _ = _read_rows(path, columns, strict)
    return X, y


def _read_rows(path: str, columns: Columns, strict: bool) -> tuple[Any, Any, Any]:
    """``read_rows``'s (X, y) and each row's time (``columns.time``; None without one)."""
    from bertclf.io.files import require_columns
    from bertclf.io.label_db import is_label_db, read_labelled_db

    if is_label_db(path):  # what `bertclf label` collected
        if len(columns.inputs) > 1 or columns.time:
            raise SpecError(f"{path}: a labelling database holds single texts: drop --pair-col, "
                            f"--meta-cols, --join-on and --time-col")
        return (*read_labelled_db(path), None)
    reader = _read_multi if columns.multilabel else _read_single
    texts, labels, table = reader(path, columns, strict)
    times = read_times(table, path, columns.time) if columns.time else None
    if len(columns.inputs) == 1:
        return texts, labels, times
    require_columns(table, columns.inputs, path, "inputs named by --pair-col, --meta-cols or --join-on")
    return table[columns.inputs].reset_index(drop=True), labels, times


def read_times(table: Any, path: str, column: str) -> np.ndarray:
    """A column of dates (any format pandas reads) or numbers (a year, a timestamp, a counter) as
    floats that sort as the times do; one error naming the column and a bad value otherwise."""
    import pandas as pd

    values = pd.Series(table_column(table, path, column, " (--time-col)"), dtype=object)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' advice on formats: a bad value is reported below
        dates = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        first = values.iloc[bad[0]]
        raise InputError(f"{path}: column '{column}' (--time-col) must hold dates or numbers: {len(bad)} of "
                         f"{len(values)} rows do not, the first "
                         f"{'an empty cell' if first is None else repr(first)}")
    return (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def _read_multi(path: str, columns: Columns, strict: bool) -> tuple[list[Any], Any, Any]:
    """Several labels per row: 0/1 columns (rows with an empty cell dropped and counted), or one
    column of separated label sets (an empty cell is a row with no label)."""
    import pandas as pd

    from bertclf.io.files import require_columns

    table = read_table(path, strict)
    source, rows = table.attrs.get("source"), list(range(len(table)))
    table_column(table, path, columns.text, " (choose one with --text-col)")
    if columns.labels:
        names = list(columns.labels)
        require_columns(table, names, path, "--label-cols")
        missing = [i for i, row in enumerate(table[names].itertuples(index=False))
                   if any(map(is_missing_label, row))]
        if missing:
            flag_rows(f"{len(missing)} of {len(table)} rows have an empty label cell", missing,
                      "those rows were dropped", strict, table.attrs.get("source"))
            table = table.drop(index=table.index[missing]).reset_index(drop=True)
            rows = sorted(set(rows) - set(missing))
        try:
            labels: Any = pd.DataFrame(check_binary(table[names].to_numpy(), names), columns=names)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
    else:
        raw = table_column(table, path, columns.label, " (choose one with --label-col)")
        labels = [[] if is_missing_label(v) else [p.strip() for p in str(v).split(columns.label_sep)
                                                  if p.strip()] for v in raw]
    if not len(table):
        raise InputError(f"{path}: no labelled rows")
    texts = table_column(table, path, columns.text)
    check_texts(texts, source, rows, strict)
    return texts, labels, table


def _read_single(path: str, columns: Columns, strict: bool) -> tuple[list[Any], list[Any], Any]:
    table = read_table(path, strict)
    texts, labels, keep = read_labelled(path, columns.text, columns.label, strict, with_rows=True,
                                        table=table)
    return texts, labels, table.iloc[keep].reset_index(drop=True)


def take(rows_of: Any, rows: np.ndarray) -> Any:
    """The given rows of a list, a DataFrame or a list of label lists."""
    if hasattr(rows_of, "iloc"):
        return rows_of.iloc[rows].reset_index(drop=True)
    return [rows_of[i] for i in rows]


@dataclass
class Split:
    """Training rows, and the rows a report is computed on (None when there are none)."""

    texts: Any
    labels: Any
    eval_texts: Any | None
    eval_labels: Any | None
    description: str
    held_out: float = 0.0  # the share of TRAIN held out for the report (0: a test file, or none)
    times: Any | None = None  # each training row's time (--time-col), else None


def read_split(train_path: str, test_path: str | None, holdout: float, seed: int, columns: Columns,
               strict: bool = False) -> Split:
    """TRAIN and TEST files, or TRAIN with a seeded hold-out (``holdout`` > 0), stratified by
    label for one label per text and random for several; with a time column, the latest rows."""
    if not 0 <= holdout < 1:
        raise SpecError(f"--holdout must be at least 0 and below 1, got {holdout}")
    X, y, times = _read_rows(train_path, columns, strict)
    if test_path:
        eval_X, eval_y = read_rows(test_path, replace(columns, time=None), strict)
        return Split(X, y, eval_X, eval_y, f"test file {test_path}", times=times)
    if holdout > 0:
        if times is not None or columns.multilabel or is_multilabel(y):
            # the latest rows first (what comes later is what the model will meet), or for several
            # labels per text (label columns, or a multi-label database) a seeded shuffle
            rows = (np.argsort(times, kind="stable")[::-1] if times is not None
                    else np.random.default_rng(seed).permutation(len(y)))
            n_test = math.ceil(len(rows) * holdout)
            if len(rows) - n_test < 2:
                raise InputError(f"{len(rows)} labelled rows are too few to hold {holdout:.0%} out")
            test_rows, train_rows = np.sort(rows[:n_test]), np.sort(rows[n_test:])
        else:
            train_rows, test_rows = holdout_split(y, holdout, seed)
        what = (f"the latest {holdout:.0%} of {train_path} by {columns.time}" if times is not None
                else f"{holdout:.0%} hold-out of {train_path} (seed {seed})")
        return Split(take(X, train_rows), take(y, train_rows), take(X, test_rows), take(y, test_rows),
                     what, holdout, times=None if times is None else times[train_rows])
    return Split(X, y, None, None, "", times=times)


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
