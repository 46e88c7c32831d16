"""Vectors already computed in this process, per embedder setting: refits, grid searches and
cross-validation folds embed each text once per setting instead of once per fit."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from bertclf.encode.backends import resolve_backend, resolve_device
from bertclf.encode.embedder import Embedder


class EmbeddingMemo:
    """Vectors already computed in this process, per embedder setting, up to ``max_bytes``."""

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self.groups: OrderedDict[tuple[Any, ...], dict[Any, np.ndarray]] = OrderedDict()
        self.nbytes = 0
        self.computed = 0  # texts actually sent to the encoder (tests and curiosity)

    def embed(self, embedder: Embedder, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        s = embedder.settings()
        key = (s.source, s.pooling, s.layers, s.layer_agg, s.max_length, s.normalize, s.long,
               resolve_backend(embedder.backend, embedder.device, embedder.dtype), embedder.dtype,
               resolve_device(embedder.device))
        group = self.groups.setdefault(key, {})
        self.groups.move_to_end(key)
        items = texts if pairs is None else list(zip(texts, pairs, strict=True))
        todo = list(dict.fromkeys(t for t in items if t not in group))
        if todo:
            if pairs is None:
                vectors = embedder.encode_texts(todo)
            else:
                vectors = embedder.encode_texts([a for a, _ in todo], [b for _, b in todo])
            group.update(zip(todo, vectors, strict=True))
            self.nbytes += vectors.nbytes
            self.computed += len(todo)
        out = np.stack([group[t] for t in items]) if items else np.empty((0, s.dim), np.float32)
        while self.nbytes > self.max_bytes and self.groups:
            _, dropped = self.groups.popitem(last=False)  # least recently used first, this one last
            self.nbytes -= sum(v.nbytes for v in dropped.values())
        return out

    def clear(self) -> None:
        self.groups.clear()
        self.nbytes = 0


memo = EmbeddingMemo()
