"""Sparse TF-IDF features that a model folder can store as JSON, and the scaling of dense ones.

TF-IDF wins on about half of our real sets and joins the dense embedding in the hybrid models,
so a saved model must be able to carry it. scikit-learn's ``TfidfVectorizer`` learns the
vocabulary and idf weights at fit time; transforming is replayed here in plain Python and numpy
(its analyzers, sublinear tf, idf, L2 norm), so predicting needs neither scikit-learn nor scipy
and gives the numbers the fitted vectorizer gives (tests compare both).

Kinds: "word" is word uni- and bigrams (the baseline's settings); "word+char" adds character
2- to 5-grams within word boundaries, which help with misspellings, hashtags and short texts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from bertclf.classify.settings import TFIDF_KINDS as KINDS
from bertclf.errors import InputError, SpecError
from bertclf.io.part_files import json_file, read_json

if TYPE_CHECKING:
    from bertclf.classify.sparse import SparseRows

TFIDF_FILE, SCALING_FILE = "tfidf.json", "scaling.safetensors"
_SETTINGS = {
    "word": {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True, "min_df": 2},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "min_df": 2,
             "max_features": 200_000},
}
_PARTS = {"word": ("word",), "word+char": ("word", "char")}
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_SPACES = re.compile(r"\s\s+")


def tfidf_texts(texts: list[str], pairs: list[str] | None) -> list[str]:
    """What TF-IDF reads of a row: its text, and its pair's text after it."""
    return texts if pairs is None else [f"{a} {b}" for a, b in zip(texts, pairs, strict=True)]


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise SpecError(f"unknown TF-IDF kind {kind!r}: use one of {', '.join(KINDS)}")


def _vectorizer(part: str) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(dtype=np.float64, **_SETTINGS[part])


def _terms(part: str, text: str) -> list[str]:
    """The n-grams scikit-learn's analyzer gives for ``part`` (lowercased, as fitted)."""
    low, high = _SETTINGS[part]["ngram_range"]
    text = text.lower()
    if part == "word":
        words = _TOKEN.findall(text)
        grams = list(words) if low == 1 else []
        for n in range(max(low, 2), min(high, len(words)) + 1):
            grams += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
        return grams
    grams = []
    for word in _SPACES.sub(" ", text).split():  # char_wb: n-grams inside padded words
        word = f" {word} "
        for n in range(low, high + 1):
            grams += [word[i:i + n] for i in range(max(1, len(word) - n + 1))]
            if len(word) <= n:  # a short word is counted once, not once per n
                break
    return grams


@dataclass
class TfidfPart:
    """One fitted vectorizer as data: its terms' columns and idf weights."""

    part: str
    vocabulary: dict[str, int]
    idf: np.ndarray

    def rows(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR arrays (indptr, indices, data) of the texts' L2-normalised sublinear TF-IDF."""
        indptr, indices, data = [0], [], []
        for text in texts:
            counts = Counter(i for i in map(self.vocabulary.get, _terms(self.part, text)) if i is not None)
            columns = sorted(counts)
            values = [(1.0 + math.log(counts[c])) * self.idf[c] for c in columns]
            norm = math.sqrt(sum(v * v for v in values))
            indices += columns
            data += [v / norm for v in values] if norm > 0 else values
            indptr.append(len(indices))
        return (np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64),
                np.asarray(data, dtype=np.float64))


@dataclass
class TfidfFeatures:
    """One TF-IDF part per piece of ``kind``, their columns side by side."""

    kind: str
    parts: list[TfidfPart]

    @classmethod
    def fit(cls, kind: str, texts: list[str]) -> TfidfFeatures:
        check_kind(kind)
        parts = []
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
            vocabulary = {str(term): int(i) for term, i in vectorizer.vocabulary_.items()}
            parts.append(TfidfPart(part, vocabulary, np.asarray(vectorizer.idf_, dtype=np.float64)))
        return cls(kind, parts)

    @property
    def dim(self) -> int:
        return sum(len(p.vocabulary) for p in self.parts)

    @cached_property
    def term_names(self) -> dict[int, str]:
        """Column -> n-gram over every part (what an explanation names), made once per model."""
        names, start = {}, 0
        for part in self.parts:
            names.update({start + column: term for term, column in part.vocabulary.items()})
            start += len(part.vocabulary)
        return names

    def rows(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR arrays of every part side by side (each row holds its parts' columns in turn)."""
        pieces = [p.rows(texts) for p in self.parts]
        if len(pieces) == 1:
            return pieces[0]
        offsets = np.cumsum([0, *(len(p.vocabulary) for p in self.parts[:-1])])
        indices, data = [], []
        for i in range(len(texts)):
            for (ptr, idx, values), offset in zip(pieces, offsets, strict=True):
                indices.append(idx[ptr[i]:ptr[i + 1]] + offset)
                data.append(values[ptr[i]:ptr[i + 1]])
        indptr = np.sum([ptr for ptr, _, _ in pieces], axis=0)
        return (indptr, np.concatenate([np.zeros(0, np.int64), *indices]),
                np.concatenate([np.zeros(0), *data]))

    def transform(self, texts: list[str]) -> Any:
        """A scipy CSR matrix (training and the Python API, where scipy is installed)."""
        from scipy import sparse

        indptr, indices, data = self.rows(texts)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(texts), self.dim))

    def transform_rows(self, texts: list[str]) -> SparseRows:
        """The same rows as numpy CSR arrays (``classify.sparse``): the runtime's way, without scipy."""
        from bertclf.classify.sparse import SparseRows

        return SparseRows(*self.rows(texts), width=self.dim)

    def to_json(self) -> dict[str, Any]:
        """Vocabulary and idf weights per part; floats survive JSON exactly (repr round-trips)."""
        return {"kind": self.kind, "parts": [
            {"vocabulary": p.vocabulary, "idf": [float(x) for x in p.idf]} for p in self.parts]}

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
        parts = []
        for part, stored in zip(_PARTS[kind], data["parts"], strict=True):
            vocabulary, idf = stored["vocabulary"], np.asarray(stored["idf"], dtype=np.float64)
            if sorted(vocabulary.values()) != list(range(len(idf))):
                raise ValueError("the TF-IDF vocabulary does not match its idf weights")
            parts.append(TfidfPart(part, {str(k): int(v) for k, v in vocabulary.items()}, idf))
        return cls(kind, parts)


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
