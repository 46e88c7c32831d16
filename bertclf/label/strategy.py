"""Which texts to ask about next.

- **Cold start** (the first ``COVER_FIRST`` answers): texts that cover the pool, one nearest each
  k-means centre of the embeddings, so the first answers see every region of the data; with
  keyword categories, the texts each category's keywords are surest of, in turn, so every class is
  seen early. The model is fitted from ``MIN_LABELS`` answers on and asks once the ``COVER_FIRST``
  covering texts are answered: covering longer (50 or 100 answers) lost area under the learning
  curve on 4 of 5 sets when chosen leave-one-set-out (``benchmarks/cover_first.py``).
- **The loop**: breaking ties (the smallest margin between the model's two most likely labels,
  Luo et al. 2005) among the most uncertain texts, then diversity inside the batch: of the
  ``POOL_FACTOR`` x batch most uncertain, one nearest each k-means centre. Chosen by
  ``benchmarks/active_learning.py`` against random order, entropy and plain margin.
"""

from __future__ import annotations

import numpy as np

POOL_FACTOR = 10  # uncertain candidates considered per text asked (diversity among them)
MIN_LABELS = 10  # fewer: no model yet
COVER_FIRST = 10  # answers taken from the covering texts before the model asks (50 and 100 measured worse)
RANDOM_PART = 0.0  # share of each batch drawn at random (exploration); 0 measured best


def covering(vectors: np.ndarray, candidates: np.ndarray, n: int, seed: int = 13) -> np.ndarray:
    """``n`` of ``candidates`` (row numbers of ``vectors``) spread over the space: the one nearest
    each centre of a k-means with ``n`` clusters, biggest clusters first."""
    candidates = np.asarray(candidates)
    if len(candidates) <= n:
        return candidates
    from bertclf.explore.clustering import kmeans

    points = vectors[candidates]
    model, _ = kmeans(points, n, seed)  # what `bertclf cluster` runs
    distance = ((points - model.cluster_centers_[model.labels_]) ** 2).sum(axis=1)
    chosen, sizes = [], np.bincount(model.labels_, minlength=n)
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(model.labels_ == cluster)
        if len(members):
            chosen.append(candidates[members[np.argmin(distance[members])]])
    return np.asarray(chosen[:n])


def keyword_start(scores: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """``n`` of ``candidates`` taken in turn from each category's best-scored texts (``scores``:
    one column per category, as ``explore.zeroshot`` computes them)."""
    candidates = np.asarray(candidates)
    order = [candidates[np.argsort(-scores[candidates, c], kind="stable")] for c in range(scores.shape[1])]
    chosen: list[int] = []
    for rank in range(len(candidates)):
        for ranked in order:
            if len(chosen) == n:
                return np.asarray(chosen)
            if ranked[rank] not in chosen:
                chosen.append(int(ranked[rank]))
    return np.asarray(chosen)


def margins(proba: np.ndarray, multi_label: bool = False) -> np.ndarray:
    """How sure the model is of each text: the gap between its two most likely labels (one label
    a text), or the smallest distance of any label's probability from 0.5 (several), doubled."""
    if multi_label:
        return 2 * np.abs(proba - 0.5).min(axis=1)
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2]


def entropy(proba: np.ndarray) -> np.ndarray:
    p = np.clip(proba, 1e-12, 1)
    return -(p * np.log(p)).sum(axis=1)


def next_batch(proba: np.ndarray, vectors: np.ndarray, candidates: np.ndarray, n: int,
               multi_label: bool = False, seed: int = 13, diverse: bool = True) -> np.ndarray:
    """``n`` of ``candidates`` to ask about: smallest margins first, spread over the space among
    the ``POOL_FACTOR`` x ``n`` most uncertain when ``diverse``. ``proba`` has one row per candidate."""
    candidates = np.asarray(candidates)
    order = np.argsort(margins(proba, multi_label), kind="stable")
    if not diverse or n <= 1:
        return candidates[order[:n]]
    pool = order[: max(n * POOL_FACTOR, n)]
    spread = covering(vectors, candidates[pool], n, seed)
    # the most uncertain of the chosen first: the page shows them in this order
    rank = {int(c): i for i, c in enumerate(candidates[pool])}
    return np.asarray(sorted(spread.tolist(), key=lambda c: rank[int(c)]))
