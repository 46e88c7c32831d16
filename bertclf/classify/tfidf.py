"""Sparse TF-IDF features that a model folder can store as JSON, and the scaling of dense ones.

TF-IDF wins on about half of our real sets and joins the dense embedding in the hybrid models,
so a saved model must be able to carry it. scikit-learn's vectorizer is rebuilt from its settings,
vocabulary and idf weights alone (no pickle), and transforms exactly as the fitted one did.

Kinds: "word" is word uni- and bigrams (the baseline's settings); "word+char" adds character
2- to 5-grams within word boundaries, which help with misspellings, hashtags and short texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from bertclf.classify.choices import TFIDF_KINDS as KINDS
from bertclf.errors import InputError, SpecError
from bertclf.io.parts import json_file, read_json

TFIDF_FILE, SCALING_FILE = "tfidf.json", "scaling.safetensors"
_SETTINGS = {
    "word": {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True, "min_df": 2},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "min_df": 2,
             "max_features": 200_000},
}
_PARTS = {"word": ("word",), "word+char": ("word", "char")}


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise SpecError(f"unknown TF-IDF kind {kind!r}: use one of {', '.join(KINDS)}")


def _vectorizer(part: str, vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = dict(_SETTINGS[part])
    if vocabulary is not None:
        settings.pop("max_features", None)
        settings.pop("min_df")
    return TfidfVectorizer(vocabulary=vocabulary, dtype=np.float64, **settings)


@dataclass
class TfidfFeatures:
    """One TF-IDF vectorizer per part of ``kind``, their rows joined side by side."""

    kind: str
    vectorizers: list[Any]

    @classmethod
    def fit(cls, kind: str, texts: list[str]) -> TfidfFeatures:
        check_kind(kind)
        vectorizers = []
        for part in _PARTS[kind]:
            vectorizer = _vectorizer(part)
            try:
                vectorizer.fit(texts)
            except ValueError:  # min_df=2 left no terms: a tiny set; keep every term instead
                try:
                    vectorizer = _vectorizer(part).set_params(min_df=1).fit(texts)
                except ValueError:
                    raise InputError("the training texts have no words for TF-IDF to read (it needs "
                                     "words of two or more letters or digits); use --features "
                                     "embedding") from None
            vectorizers.append(vectorizer)
        return cls(kind, vectorizers)

    @property
    def dim(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers)

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        blocks = [v.transform(texts) for v in self.vectorizers]
        return sparse.hstack(blocks, format="csr") if len(blocks) > 1 else blocks[0].tocsr()

    def to_json(self) -> dict[str, Any]:
        """Vocabulary and idf weights per part; floats survive JSON exactly (repr round-trips)."""
        return {"kind": self.kind, "parts": [
            {"vocabulary": {term: int(i) for term, i in v.vocabulary_.items()},
             "idf": [float(x) for x in v.idf_]} for v in self.vectorizers]}

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"kind": self.kind, "dim": self.dim}, {TFIDF_FILE: json_file(self.to_json())}

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> TfidfFeatures:
        return cls.from_json(read_json(files, TFIDF_FILE))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TfidfFeatures:
        """Raises ValueError on a stored vocabulary that does not fit its idf weights."""
        kind = data["kind"]
        if kind not in KINDS or len(data["parts"]) != len(_PARTS[kind]):
            raise ValueError(f"unknown TF-IDF kind {kind!r}")
        vectorizers = []
        for part, stored in zip(_PARTS[kind], data["parts"], strict=True):
            vocabulary, idf = stored["vocabulary"], np.asarray(stored["idf"], dtype=np.float64)
            if sorted(vocabulary.values()) != list(range(len(idf))):
                raise ValueError("the TF-IDF vocabulary does not match its idf weights")
            vectorizer = _vectorizer(part, vocabulary)
            vectorizer.idf_ = idf
            vectorizers.append(vectorizer)
        return cls(kind, vectorizers)


@dataclass
class Standardizer:
    """Per-dimension mean and spread of the training embeddings. Pooled BERT vectors have a few
    dimensions far larger than the rest; standardising lets the head's C mean the same thing on
    every model (see docs/results.md for what it gained)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        scale = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(scale > 1e-12, scale, 1.0))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.scale

    def tensors(self) -> dict[str, np.ndarray]:
        return {"scaling.mean": self.mean, "scaling.scale": self.scale}

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        from safetensors.numpy import save

        return {"dim": int(self.mean.shape[0])}, {SCALING_FILE: save(self.tensors())}

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> Standardizer:
        from safetensors.numpy import load

        return cls.from_tensors(load(files[SCALING_FILE]))

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> Standardizer:
        return cls(np.asarray(tensors["scaling.mean"], np.float64),
                   np.asarray(tensors["scaling.scale"], np.float64))
