"""What texts come as: lists, arrays, Series, DataFrames, sentence pairs; checked once and cleaned.

Shared by the Embedder, the classifiers and the runtime, so it imports neither scikit-learn nor
pandas (a DataFrame is recognised by its ``columns``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bertclf.errors import InputError
from bertclf.io.files import clean_texts, flag_rows


def as_inputs(X: Any) -> tuple[list[Any], list[Any] | None]:
    """(texts, pairs or None): sentence pairs come as (a, b) tuples, a two-column DataFrame or an
    (n, 2) array; everything else is one text per row."""
    if hasattr(X, "columns") and len(X.columns) == 2:
        return X.iloc[:, 0].tolist(), X.iloc[:, 1].tolist()
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 2:
        return X[:, 0].tolist(), X[:, 1].tolist()
    if isinstance(X, (list, tuple)) and X and all(isinstance(x, tuple) for x in X):
        if any(len(x) != 2 for x in X):
            raise InputError("sentence pairs must be (text, pair) tuples of two")
        return [x[0] for x in X], [x[1] for x in X]
    return as_text_list(X), None


def split_inputs(X: Any, text_col: str = "text", pair_col: str | None = None, others: tuple[str, ...] = (),
                 strict: bool = False, where: str = "input") -> tuple[list[str], list[str] | None, Any]:
    """(texts, second texts of pairs or None, the table or None) from X, checked and cleaned.

    A DataFrame is read by column name when it has ``text_col`` or when pairs or ``others``
    (metadata, join keys) are wanted; anything else goes through ``as_inputs``."""
    from bertclf.io.files import require_columns

    columns = [text_col, *([pair_col] if pair_col else []), *others]
    if hasattr(X, "columns") and (text_col in X.columns or len(columns) > 1):
        require_columns(X, columns, where, "the model's inputs")
        texts, table = X[text_col].tolist(), X.reset_index(drop=True)
        pairs = X[pair_col].tolist() if pair_col else None
    else:
        if others:
            raise InputError(f"metadata columns ({', '.join(others)}) need X as a DataFrame holding them "
                             f"beside '{text_col}'")
        (texts, pairs), table = as_inputs(X), None
        if pair_col and pairs is None:
            raise InputError(f"this model reads sentence pairs: give (text, {pair_col}) tuples or a "
                             f"DataFrame with '{text_col}' and '{pair_col}'")
    return clean_texts(texts, strict=strict), None if pairs is None else clean_pairs(pairs), table


def clean_pairs(pairs: list[Any]) -> list[str]:
    """The second texts of sentence pairs; a missing one is an error (a pair with half of it
    gone is not the same input, so nothing is guessed)."""
    from bertclf.io.files import is_missing

    missing = [i for i, value in enumerate(pairs) if is_missing(value)]
    if missing:
        flag_rows(f"{len(missing)} of {len(pairs)} sentence pairs have no second text", missing,
                  "", strict=True)
    return [v if isinstance(v, str) else str(v) for v in pairs]


def as_text_list(X: Any) -> list[Any]:
    """Accept the shapes texts come in; a one-column 2-D input (ColumnTransformer) is unwrapped."""
    if isinstance(X, (str, bytes)):
        raise InputError("expected a list of texts, got a single string: wrap it in a list")
    if hasattr(X, "columns"):  # DataFrame
        if len(X.columns) != 1:
            raise InputError(f"expected one text column (or two for sentence pairs), got "
                             f"{len(X.columns)}: {list(X.columns)}")
        return X.iloc[:, 0].tolist()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            return X[:, 0].tolist()
        if X.ndim != 1:
            raise InputError(f"expected a 1-D sequence of texts, got an array of shape {X.shape}")
        return X.tolist()
    if hasattr(X, "tolist"):
        return X.tolist()
    return list(X)


def table_inputs(table: Any, needed: list[str], where: str) -> Any:
    """X from a table for a model reading columns ``needed`` (texts first): the text column, or
    the table of every input. An empty file has every column, empty."""
    from bertclf.io.files import is_blank, require_columns

    if is_blank(table):
        table = table.reindex(columns=needed)
    require_columns(table, needed, where, "the model's inputs")
    return table[needed[0]].tolist() if len(needed) == 1 else table[needed]
