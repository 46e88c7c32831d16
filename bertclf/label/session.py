"""Setting up a labelling session: the database for TEXTS, the pool's embeddings (once, through the
embedding cache), the cold-start order, and the learner that refits as answers arrive."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bertclf.label import strategy
from bertclf.label.learner import Learner, unit_vectors
from bertclf.label.store import LabelStore
from bertclf.label.tuning import Tuner

KEYWORD_START = 50  # texts the keywords choose, each category in turn, before the file order


def default_db(texts_path: str | os.PathLike[str]) -> Path:
    """``tickets.csv`` -> ``tickets.labels.db`` beside it."""
    path = Path(texts_path)
    return path.with_name(path.stem + ".labels.db")


def start_session(texts: Sequence[str], labels: Sequence[str], db: str | os.PathLike[str],
                  embedder: Any = None, categories: Any = None, multi_label: bool = False, seed: int = 13,
                  source: str | None = None, log: Callable[[str], None] | None = None,
                  tune: bool = True) -> tuple[Any, Any, int]:
    """(store, started learner, answers that no longer match a text of ``texts``). ``tune``: few-shot
    tuning in the background (``tuning``), one label a text only."""
    from bertclf.encode.embedder import Embedder

    log = log or (lambda message: None)
    embedder = embedder if embedder is not None else Embedder()
    store, gone = LabelStore.create_or_open(db, texts, labels, multi_label, source, str(embedder.model))
    pool = store.texts(store.ids)
    vectors = unit_vectors([pool[i] for i in store.ids], embedder)
    rows = np.arange(len(store.ids))
    if categories:
        from bertclf.explore.zeroshot import ZeroShot

        scores = ZeroShot(embedder, categories).fit().scores([pool[i] for i in store.ids])
        cold = strategy.keyword_start(scores, rows, min(KEYWORD_START, len(rows)))
    else:
        cold = strategy.covering(vectors, rows, min(strategy.COVER_FIRST, len(rows)), seed)
    cold = np.concatenate([cold, np.setdiff1d(rows, cold)])  # then the rest, in file order
    tuner = Tuner(db, store.ids, str(embedder.model), seed, log=log) if tune and not multi_label else None
    learner = Learner(store, vectors, cold, seed, log, tuner)
    if tuner is not None:
        tuner.done = learner.changed  # a finished run's vectors are taken at the next refit
    return store, learner.start(), gone
