"""TF-IDF rows as the runtime multiplies them: CSR arrays in numpy, never made dense.

A text has a few dozen TF-IDF columns out of up to 200,000. Made dense, each row cost a 200,000 x
n_classes product and 1.6 MB of zeros; kept sparse, a head multiplies only the columns a text
has. Training and the Python API use scipy's CSR matrices instead (``TfidfFeatures.transform``);
the runtime has no scipy, and this is all it needs of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CELLS = 1 << 22  # nonzeros x output columns multiplied in one pass (32 MB a temporary)


@dataclass(frozen=True)
class SparseRows:
    """``indptr``, ``indices``, ``data`` of rows ``width`` columns wide, then ``dense`` columns
    beside them (the embedding, metadata; None: none). ``rows @ M`` is what the dense rows
    times ``M`` would be; ``tocsr`` and ``astype`` let the heads take it for a sparse matrix,
    and an XGBoost head reads ``to_scipy()``."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    width: int
    dense: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.width + (0 if self.dense is None else self.dense.shape[1])

    def beside(self, dense: np.ndarray | None) -> SparseRows:
        """These rows with ``dense`` columns after them."""
        if dense is None:
            return self
        dense = np.asarray(dense, dtype=np.float64)
        if self.dense is not None:
            dense = np.hstack([self.dense, dense])
        return SparseRows(self.indptr, self.indices, self.data, self.width, dense)

    def tocsr(self) -> SparseRows:
        return self

    def astype(self, dtype: Any, copy: bool = False) -> SparseRows:
        return self

    def toarray(self) -> np.ndarray:
        n = self.shape[0]
        out = np.zeros((n, self.width))
        out[np.repeat(np.arange(n), np.diff(self.indptr)), self.indices] = self.data
        return out if self.dense is None else np.hstack([out, self.dense])

    def to_scipy(self) -> Any:
        """scipy CSR of these rows, built as the full install builds them: for XGBoost, to which
        an absent entry is missing and a dense zero a value (it brings scipy along)."""
        from scipy import sparse

        words = sparse.csr_matrix((self.data, self.indices, self.indptr), shape=(self.shape[0], self.width))
        if self.dense is None:
            return words
        return sparse.hstack([words, sparse.csr_matrix(self.dense)], format="csr")

    def __matmul__(self, M: np.ndarray) -> np.ndarray:
        from bertclf.classify.heads import product

        M = np.asarray(M)
        n, k = self.shape[0], M.shape[1]
        rows = np.repeat(np.arange(n), np.diff(self.indptr))
        out = np.zeros(n * k)
        step = max(1, CELLS // k)  # nonzeros a pass: the temporaries stay at CELLS numbers
        for start in range(0, len(rows), step):
            part = slice(start, start + step)
            cells = (rows[part, None] * k + np.arange(k)).ravel()
            out += np.bincount(cells, weights=(self.data[part, None] * M[self.indices[part]]).ravel(),
                               minlength=n * k)
        out = out.reshape(n, k)
        if self.dense is not None:
            out += product(self.dense, M[self.width:], transposed=False)
        return out
