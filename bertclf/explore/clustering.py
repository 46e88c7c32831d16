"""Clustering texts without labels: k-means on embeddings, k picked by silhouette, and what each
cluster is about (class-based TF-IDF keywords, the texts nearest its centre).

MiniBatchKMeans takes over from KMeans on large inputs (as MTEB's clustering tasks do), so a
million texts cluster in memory and minutes. With true labels at hand, V-measure, adjusted Rand
index and NMI say how well the clusters recover them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertclf.errors import InputError, SpecError

MINIBATCH_FROM = 10_000  # texts; above this, MiniBatchKMeans (batch 500, as MTEB)
SILHOUETTE_SAMPLE = 5_000
AUTO_RANGE = (2, 10)


@dataclass
class Cluster:
    """One cluster: its id, size, top keywords and the texts nearest its centre (row indices)."""

    id: int
    size: int
    keywords: list[str]
    nearest: list[int]


@dataclass
class Clustering:
    """Cluster per text, the clusters, and how k was chosen (silhouette per k for ``auto``)."""

    labels: np.ndarray
    clusters: list[Cluster]
    k: int
    algorithm: str
    silhouette: dict[int, float] = field(default_factory=dict)
    scores: dict[str, float] | None = None


def parse_k(value: str | int) -> int | None:
    """An integer k, or None for 'auto'."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise SpecError(f"k must be a whole number or 'auto', got {value!r}") from None
    if k < 2:
        raise SpecError(f"k must be at least 2, got {k}")
    return k


def parse_k_range(text: str) -> tuple[int, int]:
    """'LOW..HIGH' for ``-k auto``: both whole numbers, 2 <= LOW <= HIGH."""
    try:
        low, high = (int(part) for part in text.split(".."))
    except ValueError:
        raise SpecError(f"--k-range must look like 2..10, got {text!r}") from None
    if not 2 <= low <= high:
        raise SpecError(f"--k-range needs 2 <= LOW <= HIGH, got {text!r}")
    return low, high


def check_k(k: int | None, n_texts: int) -> None:
    """Refuse more clusters than texts (called before embedding, so it fails at once)."""
    if k is not None and k > n_texts:
        raise InputError(f"k = {k} is more than the {n_texts} texts to cluster; choose a smaller k")


def kmeans(vectors: np.ndarray, k: int, seed: int = 13, minibatch: bool | None = None) -> tuple[Any, str]:
    """A fitted (MiniBatch)KMeans and its name."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    check_k(k, len(vectors))
    small = len(vectors) <= MINIBATCH_FROM if minibatch is None else not minibatch
    model = KMeans(k, n_init="auto", random_state=seed) if small else \
        MiniBatchKMeans(k, batch_size=500, n_init="auto", random_state=seed)
    return model.fit(vectors), type(model).__name__


def pick_k(vectors: np.ndarray, low: int, high: int, seed: int = 13) -> dict[int, float]:
    """Silhouette of each k in low..high (on a seeded sample of at most 5,000 texts)."""
    from sklearn.metrics import silhouette_score

    high = min(high, len(vectors) - 1)
    if high < low:
        raise InputError(f"{len(vectors)} texts are too few to choose k automatically; give -k")
    sample = min(len(vectors), SILHOUETTE_SAMPLE)
    scores = {}
    for k in range(low, high + 1):
        labels = kmeans(vectors, k, seed)[0].labels_
        if len(set(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(vectors, labels, sample_size=sample, random_state=seed))
    if not scores:
        raise InputError("every k gave a single cluster: the texts' embeddings are too alike to split")
    return scores


def cluster(vectors: np.ndarray, texts: list[str], k: int | None = None, seed: int = 13,
            k_range: tuple[int, int] = AUTO_RANGE, keywords: int = 8, nearest: int = 3,
            truth: list[Any] | None = None) -> Clustering:
    """Cluster ``vectors`` (one per text) into k groups, or pick k by silhouette when k is None."""
    if len(vectors) < 2:
        raise InputError(f"{len(vectors)} text{'s' if len(vectors) != 1 else ''} cannot be clustered; "
                         f"give at least 2")
    silhouette = {}
    if k is None:
        silhouette = pick_k(vectors, *k_range, seed=seed)
        k = max(silhouette, key=lambda key: silhouette[key])
    model, algorithm = kmeans(vectors, k, seed)
    labels = model.labels_.astype(np.int64)
    words = class_tfidf(texts, labels, k, keywords)
    distances = np.linalg.norm(vectors - model.cluster_centers_[labels], axis=1)
    clusters = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        closest = rows[np.argsort(distances[rows], kind="stable")[:nearest]]
        clusters.append(Cluster(c, int(len(rows)), words[c], [int(i) for i in closest]))
    scores = agreement(truth, labels) if truth is not None else None
    return Clustering(labels, clusters, k, algorithm, silhouette, scores)


def class_tfidf(texts: list[str], labels: np.ndarray, k: int, top: int = 8) -> list[list[str]]:
    """Top words per cluster by class-based TF-IDF (each cluster's texts read as one document):
    term frequency within the cluster times log(1 + average words per cluster / the term's
    frequency over all clusters), as BERTopic defines it."""
    from sklearn.feature_extraction.text import CountVectorizer

    documents = [" ".join(t for t, c in zip(texts, labels, strict=True) if c == cluster)
                 for cluster in range(k)]
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
    try:
        counts = vectorizer.fit_transform(documents).toarray().astype(np.float64)
    except ValueError:  # no words at all (empty or numeric texts)
        return [[] for _ in range(k)]
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    idf = np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
    scores = tf * idf
    vocabulary = vectorizer.get_feature_names_out()
    return [[str(vocabulary[j]) for j in np.argsort(-row, kind="stable")[:top] if row[j] > 0]
            for row in scores]


def agreement(truth: list[Any], labels: np.ndarray) -> dict[str, float]:
    """How well clusters recover known labels: V-measure, adjusted Rand index, NMI."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score

    known = [i for i, t in enumerate(truth) if t is not None]  # rows without a label are left out
    truth, labels = [str(truth[i]) for i in known], labels[known]
    return {"v_measure": float(v_measure_score(truth, labels)),
            "adjusted_rand": float(adjusted_rand_score(truth, labels)),
            "nmi": float(normalized_mutual_info_score(truth, labels)), "labelled_texts": len(known)}


def summary(result: Clustering, texts: list[str], width: int = 100) -> dict[str, Any]:
    """JSON-ready description of the clusters, with the nearest texts quoted (shortened)."""
    def short(text: str) -> str:
        text = re.sub(r"\s+", " ", text).strip()
        return text if len(text) <= width else text[: width - 1] + "…"

    return {"k": result.k, "algorithm": result.algorithm,
            "silhouette_by_k": {str(k): round(v, 4) for k, v in result.silhouette.items()},
            "agreement_with_labels": result.scores,
            "clusters": [{"cluster": c.id, "size": c.size, "keywords": c.keywords,
                          "nearest_texts": [short(texts[i]) for i in c.nearest]} for c in result.clusters]}
