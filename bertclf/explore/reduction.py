"""Embeddings to two dimensions for a map: UMAP when installed, else PCA then t-SNE."""

from __future__ import annotations

import numpy as np

from bertclf.errors import InputError, SpecError


def project_2d(vectors: np.ndarray, seed: int = 13, method: str = "auto") -> tuple[np.ndarray, str]:
    """(n, 2) coordinates and the method's name ('UMAP' or 'PCA + t-SNE'). Sparse features (a
    model reading TF-IDF) are first reduced to 50 dimensions by truncated SVD."""
    from scipy import sparse

    check_map_size(vectors.shape[0])
    if sparse.issparse(vectors):
        from sklearn.decomposition import TruncatedSVD

        width = max(1, min(50, vectors.shape[1] - 1, vectors.shape[0] - 1))
        vectors = TruncatedSVD(width, random_state=seed).fit_transform(vectors)
    if method not in ("auto", "umap", "tsne"):
        raise SpecError(f"unknown projection {method!r}: use auto, umap or tsne")
    if method in ("auto", "umap"):
        try:
            import umap  # type: ignore[import-not-found]

            reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(vectors) - 1))
            return np.asarray(reducer.fit_transform(vectors)), "UMAP"
        except ImportError:
            if method == "umap":
                raise SpecError("UMAP needs umap-learn: pip install umap-learn (or use --projection tsne)") \
                    from None
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    reduced = PCA(min(50, *vectors.shape), random_state=seed).fit_transform(vectors)
    perplexity = float(min(30, max(1, (len(vectors) - 1) / 3)))
    coords = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    return np.asarray(coords), "PCA + t-SNE"


def check_map_size(n_texts: int) -> None:
    """A map needs at least 3 texts (called before embedding, so it fails at once)."""
    if n_texts < 3:
        raise InputError(f"{n_texts} text{'s' if n_texts != 1 else ''} are too few to map: a map needs at "
                         f"least 3")
