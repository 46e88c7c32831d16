"""``train --auto``'s few-shot candidate (``finetune.fewshot.FewShot``): considered when TRAIN is
small, scored on the same folds as every other candidate, refitted on all of TRAIN if it wins.

With a few texts per class, tuning the encoder contrastively beats every frozen candidate (sst2
at 8 per class: 68.9 against 65.1 for frozen + LR, docs/results.md), but each fold tunes an
encoder of its own, so it costs seconds per fold where a head costs milliseconds. Above
``MAX_PER_CLASS`` texts in the median class it is left out: there it no longer beat the frozen
and hybrid candidates on our sets, and its folds would eat the budget the others need.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.errors import BertclfWarning

MAX_PER_CLASS = 64  # median texts per class up to which --auto considers few-shot tuning
TRAIN_PASSES = 3.0  # a tuning step costs about this many forward passes of its texts
TYPICAL_EPOCHS = 10  # the loss settles after about this many of FewShot's 20 (sst2, ag_news at 8 per class)


def few_shot_learner(base: Any, seed: int) -> Any:
    """An unfitted ``FewShot`` starting from the base's encoder and reading texts as it does."""
    from bertclf.finetune.fewshot import FewShot

    embedder = base.embedder_
    return FewShot(model=embedder.model, pooling=embedder.pooling, max_length=embedder.max_length,
                   device=embedder.device, seed=seed, text_col=base.text_col, progress=False)


def why_not(search: Any) -> str | None:
    """Why ``search`` (an ``auto.Search``) leaves few-shot tuning out; None when it considers it."""
    if search.multilabel:
        return "few-shot tuning reads one label per text"
    if search.base.calibrate:
        return "--calibrate calibrates frozen heads"
    if search.base.embedder_.long != "truncate":
        return f"few-shot models truncate long texts, and --long is {search.base.embedder_.long}"
    median = float(np.median(np.bincount(search.target[search.rows])))
    if median > MAX_PER_CLASS:
        return f"{median:.0f} texts in the median class, over the {MAX_PER_CLASS} where it helps"
    return None


def fold_seconds(search: Any) -> float:
    """Rough seconds of one fold: tuning on four fifths of the search rows, from a timed forward
    pass (uncached: a cache hit says nothing of what training costs)."""
    torch_pass = clone(search.base.embedder_).set_params(backend="torch", progress=False, cache=False)
    forward = search.seconds_per_text(torch_pass.encode_texts)
    texts = len(search.splits[0][0])
    return forward * texts * (TRAIN_PASSES * TYPICAL_EPOCHS + 1) + forward * len(search.splits[0][1])


def few_shot_proba(search: Any, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Probabilities of ``test`` rows' classes (``search``'s class order) from a ``FewShot``
    fitted on ``train`` rows."""
    model = few_shot_learner(search.base, search.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BertclfWarning)
        model.fit([search.texts[i] for i in train], search.classes[search.target[train]])
    got = model.predict_proba([search.texts[i] for i in test])
    proba = np.zeros((len(test), search.n_classes))
    columns = {str(label): n for n, label in enumerate(search.classes)}
    for j, label in enumerate(model.classes_):
        proba[:, columns[str(label)]] = got[:, j]
    return proba
