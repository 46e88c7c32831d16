"""How ``train --auto`` divides TRAIN: check rows set aside first, then cross-validation folds;
both stratified by label and never splitting a group of overlapping texts (``groups``). For
several labels per text, each text is stratified by its rarest label (``strata_of``). The
intervals around a score measured on the check rows are in ``evaluate.intervals``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from bertclf.errors import InputError, SpecError

CHECK_SHARE = 0.15  # of TRAIN, set aside to score the winner once
CHECK_MAX = 2000  # check rows at most: enough for a ±2-point interval, the rest trains
CHECK_MIN_PER_LABEL = 10  # below this many texts in the rarest label, no rows are set aside


def strata_of(target: np.ndarray) -> np.ndarray:
    """What to stratify by: the label, or (an (n, L) 0/1 matrix) each text's rarest label, with
    texts of no label as one more stratum; a label too rare to split is folded into that one."""
    if target.ndim == 1:
        return target
    counts = target.sum(axis=0)
    rarity = np.where(target > 0, counts[None, :], np.inf)
    strata = np.where(np.isinf(rarity.min(axis=1)), target.shape[1], rarity.argmin(axis=1))
    sizes = np.bincount(strata, minlength=target.shape[1] + 1)
    return np.where(sizes[strata] < 2, target.shape[1], strata)


def cv_folds(strata: np.ndarray, wanted: int, log: Callable[[str], None], multilabel: bool = False) -> int:
    """``wanted`` folds, or fewer when the smallest class has fewer texts (said once)."""
    smallest = int(np.bincount(strata).min()) if not multilabel else wanted
    if smallest < 2:
        raise InputError("--auto needs at least 2 training texts of every label to cross-validate; "
                         "add texts to the rarest label or train without --auto")
    if smallest < wanted:
        log(f"the rarest label has {smallest} training texts: cross-validating with {smallest} folds, "
            f"not {wanted}")
        return smallest
    return wanted


def grouped_folds(strata: np.ndarray, groups: np.ndarray | None, k: int,
                  seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k stratified folds that never split a group (plain stratified folds without groups)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    rows = np.zeros(len(strata))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a stratum smaller than k: it goes where it can
        if groups is None:
            return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(rows, strata))
        return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(rows, strata, groups))


def check_rows(strata: np.ndarray, groups: np.ndarray | None, seed: int,
               multilabel: bool = False, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(search rows, check rows): a seeded ``CHECK_SHARE`` of the texts (at most ``CHECK_MAX``),
    stratified and drawn whole groups at a time; no check rows when the rarest label has fewer
    than ``CHECK_MIN_PER_LABEL`` texts (for several labels per text: fewer than 10 texts a label
    on average). With ``order`` (each row's time, ``--time-col``) the check rows are the latest
    rows instead, whole groups, unstratified: what comes later is what the model will meet, and a
    shuffled draw would score the winner on the train split's own period."""
    every = np.arange(len(strata))
    if order is not None and len(order) != len(strata):
        raise SpecError(f"order has {len(order)} times for {len(strata)} texts")
    few = len(strata) < CHECK_MIN_PER_LABEL * len(set(strata.tolist())) if multilabel \
        else np.bincount(strata).min() < CHECK_MIN_PER_LABEL
    if few:
        return every, every[:0]
    groups = every if groups is None else groups
    heads, first = np.unique(groups, return_index=True)  # one row stands for its group
    size = min(CHECK_SHARE, CHECK_MAX / len(strata))
    if order is not None:
        latest = np.argsort(np.asarray(order), kind="stable")[len(strata) - math.ceil(size * len(strata)):]
        check = np.isin(groups, groups[latest])
    else:
        check = np.isin(groups, heads[_drawn(heads, strata[first], size, seed)])
    if not multilabel and np.bincount(strata[~check], minlength=int(strata.max()) + 1).min() < 2:
        return every, every[:0]
    return every[~check], every[check]


def check_rows_line(count: int, ordered: bool) -> str | None:
    """What the log says of the ``count`` check rows: that they are the latest (``ordered``), or
    why there are none; nothing for the usual draw."""
    if count:
        return f"check rows: the latest {count:,} texts in time, not a shuffled draw (--time-col)" \
            if ordered else None
    also = ", and the latest rows may not hold every text of a label" if ordered else ""
    return (f"too few texts to set rows aside (the rarest label needs {CHECK_MIN_PER_LABEL}{also}): the "
            f"winner's cross-validated score is its only estimate, and it runs high")


def _drawn(heads: np.ndarray, strata: np.ndarray, size: float, seed: int) -> np.ndarray:
    """Indices into ``heads`` of a seeded ``size`` share, stratified (plain where a stratum's
    texts are all one group)."""
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    try:
        _, chosen = next(StratifiedShuffleSplit(1, test_size=size, random_state=seed).split(heads, strata))
    except ValueError:  # a stratum whose texts are all one group
        _, chosen = next(ShuffleSplit(1, test_size=size, random_state=seed).split(heads))
    return chosen
