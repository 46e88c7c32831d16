"""``train --auto``'s few-shot candidate (``finetune.fewshot.FewShot``): considered when TRAIN is
small, scored on the same folds as every other candidate, refitted on all of TRAIN if it wins.

With a few texts per class, tuning the encoder contrastively beats the frozen candidates (8
per class, frozen + LR beside it: ag_news 80.5 against 76.2, sst2 66.7 against 63.6,
disaster_tweets 70.6 against 69.6 over 5 seeds, banking77 80.7 against 79.8 over 2;
docs/results.md), but each fold tunes an encoder of its own, so it costs seconds per fold where a
head costs milliseconds. At 64 per class it still led the better of frozen + LR and the hybrid
default by 0.7 points on average (sst2 -1.4, ag_news +1.5, disaster_tweets +2.0; one seed) while
its training took 4-10 minutes on 2 shared cores; above ``MAX_PER_CLASS`` texts in the median
class it is left out, and below it the budget decides (``fold_seconds``, then the first fold's
own time).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.classify.compatibility import why_unsupported
from bertclf.errors import BertclfWarning

MAX_PER_CLASS = 64  # median texts per class up to which --auto considers few-shot tuning
TRAIN_PASSES = 5.0  # an epoch costs 3.7-4.8 forward passes of its texts (sst2, ag_news, 16 per class)
LOAD_SECONDS = 3.0  # loading the encoder twice and saving it once, each fit


def few_shot_learner(base: Any, seed: int, backend: str | None = None) -> Any:
    """An unfitted ``FewShot`` starting from the base's encoder and reading texts as it does
    (with the base's backend unless ``backend`` says otherwise)."""
    from bertclf.finetune.fewshot import FewShot

    embedder = base.embedder_
    return FewShot(model=embedder.model, pooling=embedder.pooling, max_length=embedder.max_length,
                   device=embedder.device, backend=backend or embedder.backend, threads=embedder.threads,
                   seed=seed, text_col=base.text_col, progress=False)


def why_not(search: Any) -> str | None:
    """Why ``search`` (an ``auto.Search``) leaves few-shot tuning out; None when it considers it."""
    why = why_unsupported("few-shot", search.base, search.multilabel)
    if why:
        return why
    median = float(np.median(np.bincount(search.target[search.rows])))
    if median > MAX_PER_CLASS:
        return f"{median:.0f} texts in the median class, over the {MAX_PER_CLASS} where it helps"
    return None


def fold_seconds(search: Any) -> float:
    """Seconds of one fold at most: every epoch of tuning on the fold's training rows, from a
    timed forward pass (uncached: a cache hit says nothing of what training costs), then
    embedding all its rows; runs that settle early take half."""
    from bertclf.finetune.fewshot import FewShot

    torch_pass = clone(search.base.embedder_).set_params(backend="torch", progress=False, cache=False)
    forward = search.seconds_per_text(torch_pass.encode_texts)
    train, test = search.splits[0]
    epochs = FewShot().epochs
    return LOAD_SECONDS + forward * (len(train) * (TRAIN_PASSES * epochs + 1) + len(test))


def few_shot_proba(search: Any, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Probabilities of ``test`` rows' classes (``search``'s class order) from a ``FewShot``
    fitted on ``train`` rows. Its tuned encoder embeds through torch: the int8 graph would be
    exported and quantized again for every fold (15 s of a 24 s fit on 16 sst2 texts, busy CPU)."""
    model = few_shot_learner(search.base, search.seed, backend="torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BertclfWarning)
        model.fit([search.texts[i] for i in train], search.classes[search.target[train]])
    got = model.predict_proba([search.texts[i] for i in test])
    proba = np.zeros((len(test), search.n_classes))
    columns = {str(label): n for n, label in enumerate(search.classes)}
    for j, label in enumerate(model.classes_):
        proba[:, columns[str(label)]] = got[:, j]
    return proba
