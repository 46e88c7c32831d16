"""Metadata beside the text: table columns and precomputed vectors joined by key.

``MetaEncoder`` is fitted with scikit-learn's ``ColumnTransformer`` (numeric columns: median
imputation then standardisation; categorical ones: one-hot, or hashed past ``max_categories``
distinct values) and frozen into plain JSON, so a saved model needs no pickle; ``transform``
replays the same arithmetic in numpy. ``ExtraEmbeddings`` joins vectors (say, knowledge-graph
embeddings of authors) by a key column; unknown keys get zeros and are counted.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bertclf.errors import BertclfWarning, InputError
from bertclf.io.files import require_columns
from bertclf.io.part_files import json_file, read_json

MAX_CATEGORIES = 30  # one-hot up to this many distinct values; hashed beyond


HASH_FEATURES = 32


MISSING = "(missing)"


def _number(value: Any) -> float:
    """A cell as a number, NaN when it is none (pandas' to_numeric, without pandas)."""
    if isinstance(value, bool) or value is None:
        return float(value) if isinstance(value, bool) else math.nan
    try:
        return float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return math.nan


def _numbers(values: Any) -> np.ndarray:
    return np.fromiter((_number(v) for v in values), dtype=np.float64, count=len(values))


def _is_missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value)) \
        or type(value).__name__ in ("NAType", "NaTType")


def _strings(values: Any) -> list[str]:
    return [MISSING if _is_missing(v) else str(v) for v in values]


class MetaEncoder:
    """Numeric and categorical columns to one float matrix, fitted once, stored as JSON."""

    def __init__(self, columns: list[str], max_categories: int = MAX_CATEGORIES) -> None:
        self.columns = list(columns)
        self.max_categories = max_categories
        self.specs: list[dict[str, Any]] = []

    def fit(self, table: Any) -> MetaEncoder:
        import pandas as pd
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction import FeatureHasher
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        require_columns(table, self.columns, "training data", "metadata")
        frame, steps, kinds = pd.DataFrame(index=range(len(table))), [], {}
        for name in self.columns:
            raw = table[name].tolist()
            numbers, strings = _numbers(raw), _strings(raw)
            present = sum(s != MISSING for s in strings)
            if present and np.isfinite(numbers).sum() == present:
                frame[name] = numbers
                kinds[name] = "numeric"
                numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
                steps.append((name, numeric, [name]))
                continue
            frame[name] = strings
            if len(set(frame[name])) <= self.max_categories:
                kinds[name] = "onehot"
                steps.append((name, OneHotEncoder(handle_unknown="ignore"), [name]))
            else:
                kinds[name] = "hashed"
                hasher = FeatureHasher(HASH_FEATURES, input_type="string")
                steps.append((name, make_pipeline(FunctionTransformer(_hash_rows(name)), hasher), [name]))
        if not self.columns:
            return self
        fitted = ColumnTransformer(steps, sparse_threshold=0).fit(frame)
        self.specs = []
        for name in self.columns:
            step = fitted.named_transformers_[name]
            if kinds[name] == "numeric":
                imputer, scaler = step.steps[0][1], step.steps[1][1]
                self.specs.append({"name": name, "kind": "numeric", "median": float(imputer.statistics_[0]),
                                   "mean": float(scaler.mean_[0]), "scale": float(scaler.scale_[0])})
            elif kinds[name] == "onehot":
                self.specs.append({"name": name, "kind": "onehot",
                                   "categories": [str(c) for c in step.categories_[0]]})
            else:
                self.specs.append({"name": name, "kind": "hashed", "features": HASH_FEATURES})
        self.fitted_ = fitted  # kept for tests that compare with scikit-learn's own output
        return self

    @property
    def dim(self) -> int:
        return sum(1 if s["kind"] == "numeric" else len(s["categories"]) if s["kind"] == "onehot"
                   else s["features"] for s in self.specs)

    def transform(self, table: Any, where: str = "input") -> np.ndarray:
        require_columns(table, self.columns, where, "metadata the model was trained with")
        blocks = []
        for spec in self.specs:
            raw = table[spec["name"]].tolist()
            if spec["kind"] == "numeric":
                values = _numbers(raw)
                bad = sum(1 for s, x in zip(_strings(raw), values, strict=True)
                          if not np.isfinite(x) and s != MISSING)
                if bad:
                    warnings.warn(f"{where}: {bad} values of numeric column '{spec['name']}' are not "
                                  f"numbers; treated as missing", BertclfWarning, stacklevel=2)
                values = np.where(np.isfinite(values), values, spec["median"])
                blocks.append(((values - spec["mean"]) / spec["scale"])[:, None])
            elif spec["kind"] == "onehot":
                index = {c: i for i, c in enumerate(spec["categories"])}
                block = np.zeros((len(raw), len(index)))
                for row, value in enumerate(_strings(raw)):
                    if value in index:
                        block[row, index[value]] = 1.0
                blocks.append(block)
            else:
                blocks.append(hashed(spec["name"], _strings(raw), spec["features"]))
        return np.hstack(blocks) if blocks else np.zeros((len(table), 0))

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "max_categories": self.max_categories, "specs": self.specs}

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return self.to_json(), {}  # a few numbers and names: they read best in config.json

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> MetaEncoder:
        return cls.from_json(settings)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetaEncoder:
        encoder = cls(list(data["columns"]), int(data["max_categories"]))
        encoder.specs = list(data["specs"])
        if [s["name"] for s in encoder.specs] != encoder.columns:
            raise ValueError("metadata columns and their encodings disagree")
        return encoder


def _hash_rows(name: str) -> Any:
    """Each row's value as one 'column=value' token, the FeatureHasher's input."""

    def rows(column: Any) -> list[list[str]]:
        return [[f"{name}={value}"] for value in _strings(np.asarray(column, dtype=object)[:, 0])]

    return rows


def hashed(name: str, values: list[str], features: int) -> np.ndarray:
    """scikit-learn's FeatureHasher (alternate signs) on one 'column=value' token per row,
    replayed in numpy so that predicting needs no scikit-learn."""
    out = np.zeros((len(values), features))
    for row, value in enumerate(values):
        h = murmurhash3_32(f"{name}={value}".encode())
        index = (2147483647 - (features - 1)) % features if h == -2147483648 else abs(h) % features
        out[row, index] += 1.0 if h >= 0 else -1.0
    return out


def murmurhash3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 (x86, 32-bit) as a signed int, as scikit-learn's murmurhash3_32 gives it."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h, tail = seed & mask, len(data) & ~3
    for i in range(0, tail, 4):
        k = (int.from_bytes(data[i:i + 4], "little") * c1) & mask
        k = (((k << 15) | (k >> 17)) & mask) * c2 & mask
        h ^= k
        h = ((((h << 13) | (h >> 19)) & mask) * 5 + 0xE6546B64) & mask
    k = int.from_bytes(data[tail:], "little")
    if len(data) & 3:
        k = (k * c1) & mask
        k = (((k << 15) | (k >> 17)) & mask) * c2 & mask
        h ^= k
    h ^= len(data)
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & mask
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


class ExtraEmbeddings:
    """Precomputed vectors by key: ``lookup`` gives a zero vector for an unknown key."""

    def __init__(self, keys: list[str], vectors: np.ndarray, join_on: str) -> None:
        self.keys, self.join_on = keys, join_on
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # safetensors writes raw bytes
        self.index = {k: i for i, k in enumerate(keys)}

    @classmethod
    def read(cls, source: Any, join_on: str, strict: bool = False) -> ExtraEmbeddings:
        """From a table file (or DataFrame) with the key column and either one list-valued
        column or numeric columns."""
        from bertclf.io.files import read_table

        table = read_table(str(source), strict) if is_path(source) else source
        where = str(source) if is_path(source) else "extra embeddings"
        require_columns(table, [join_on], where, "the --join-on key")
        keys = [str(k) for k in table[join_on].tolist()]
        duplicated = len(keys) - len(set(keys))
        if duplicated:
            raise InputError(f"{where}: {duplicated} keys appear more than once in column '{join_on}'")
        others = [c for c in table.columns if c != join_on]
        try:
            if len(others) == 1 and len(table) and isinstance(table[others[0]].iloc[0], (list, np.ndarray)):
                vectors = np.stack([np.asarray(v, dtype=np.float32) for v in table[others[0]]])
            else:
                vectors = table[others].apply(_numbers).to_numpy(np.float32)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{where}: vectors must be numbers of one length: {exc}") from None
        if not others or not len(keys) or not np.isfinite(vectors).all():
            raise InputError(f"{where}: every row needs a complete vector of numbers beside '{join_on}'")
        return cls(keys, vectors, join_on)

    def lookup(self, values: list[Any], where: str = "input") -> np.ndarray:
        out = np.zeros((len(values), self.vectors.shape[1]), dtype=np.float32)
        unknown = 0
        for row, value in enumerate(values):
            i = self.index.get(str(value))
            if i is None:
                unknown += 1
            else:
                out[row] = self.vectors[i]
        if unknown:
            warnings.warn(f"{where}: {unknown} of {len(values)} rows have a {self.join_on} key with no "
                          f"extra embedding; they get a zero vector", BertclfWarning, stacklevel=2)
        return out

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        from safetensors.numpy import save

        return ({"join_on": self.join_on, "dim": int(self.vectors.shape[1])},
                {EXTRA_VECTORS: save({"vectors": self.vectors}), EXTRA_KEYS: json_file(self.keys)})

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> ExtraEmbeddings:
        join_on = settings["join_on"]
        from safetensors.numpy import load

        keys, vectors = read_json(files, EXTRA_KEYS), load(files[EXTRA_VECTORS])["vectors"]
        if len(keys) != len(vectors):
            raise ValueError("extra embedding keys and vectors differ in number")
        return cls([str(k) for k in keys], vectors, join_on)


EXTRA_VECTORS = "extra_embeddings.safetensors"


EXTRA_KEYS = "extra_embeddings_keys.json"


def is_path(value: Any) -> bool:
    return isinstance(value, (str, Path))
