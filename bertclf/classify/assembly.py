"""What a head reads, built in one place for a fitted model and for the ``--auto`` search alike,
so cross-validation scores the very features the saved model will see.

Blocks go side by side: TF-IDF columns (sparse) first, then the embedding (standardised,
L2-normalised or raw), then metadata and joined vectors. In a hybrid the standardised embedding is
divided by the square root of its width, so its rows have about unit length like the TF-IDF rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bertclf.classify.sparse import SparseRows
from bertclf.classify.tfidf import Standardizer
from bertclf.encode.pooling import l2_normalize


def fit_scaler(vectors: np.ndarray | None, features: str, scaling: str) -> Standardizer | None:
    """The standardiser the embedding needs: always in a hybrid, else with ``scaling="standard"``."""
    if vectors is None or not (scaling == "standard" or features == "hybrid"):
        return None
    return Standardizer.fit(vectors)


def assemble(words: Any, vectors: np.ndarray | None, scaler: Standardizer | None, scaling: str,
             extras: Sequence[np.ndarray] = ()) -> Any:
    """The head's input: ``words`` (TF-IDF rows: scipy CSR, the runtime's ``SparseRows``, or
    None), then ``vectors`` scaled as fitted, then ``extras`` (dense blocks such as metadata)."""
    blocks = []
    if vectors is not None:
        if scaler is not None:
            vectors = scaler.transform(vectors)
        elif scaling == "l2":
            vectors = l2_normalize(vectors)
        if words is not None:
            vectors = vectors / math.sqrt(vectors.shape[1])
        blocks.append(vectors)
    blocks += list(extras)
    dense = (np.hstack(blocks) if len(blocks) > 1 else blocks[0]) if blocks else None
    if words is None:
        return dense
    if isinstance(words, SparseRows):  # the runtime's TF-IDF rows: numpy CSR arrays
        return words.beside(dense)
    from scipy import sparse

    return words if dense is None else sparse.hstack([words, sparse.csr_matrix(dense)], format="csr")
