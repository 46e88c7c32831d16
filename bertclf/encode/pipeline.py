"""Texts to vectors, once for every way of running an encoder: token ids in length-sorted batches,
the requested hidden states, pooling, long-text windows combined, normalisation.

The Embedder (training, the Python API) and the runtime (a self-contained model folder) both call
``embed_rows``, so a vector does not depend on which of them made it. Nothing here imports
scikit-learn, transformers or torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertclf.encode.pooling import l2_normalize, pool_layers
from bertclf.encode.tokenization import (
    Encoded,
    LongSpec,
    combine_windows,
    encode,
    length_batches,
    pad_batch,
    pad_id,
)


@dataclass(frozen=True)
class Settings:
    """An Embedder's parameters with every 'follow the model' default filled in."""

    source: Any  # a sources.ModelSource, or None for a shipped encoder
    pooling: str
    layers: tuple[int, ...]
    layer_agg: str
    max_length: int
    normalize: bool
    num_layers: int
    hidden_size: int
    long: LongSpec = LongSpec()

    @property
    def dim(self) -> int:
        return self.hidden_size * (len(self.layers) if self.layer_agg == "concat" else 1)


def embed_rows(s: Settings, tokenizer: Any, encoder: Any, texts: list[str], pairs: list[str] | None,
               batch_size: int, advance: Callable[[float], Any]) -> tuple[np.ndarray, int]:
    """(vectors, texts cut) for ``texts`` through ``encoder`` (anything with ``hidden_states``)."""
    encoded = encode(tokenizer, texts, s.max_length, pairs=pairs, long=s.long)
    return embed_encoded(s, tokenizer, encoder, encoded, len(texts), batch_size, advance), encoded.truncated


def embed_encoded(s: Settings, tokenizer: Any, encoder: Any, encoded: Encoded, count: int, batch_size: int,
                  advance: Callable[[float], Any]) -> np.ndarray:
    """The vectors of ``count`` texts from their token ids (``encode``'s): for callers that also
    read the ids, such as a server counting each request's tokens without tokenizing again."""
    padding = pad_id(tokenizer)
    out = np.empty((len(encoded.input_ids), s.dim), dtype=np.float32)
    per_row = count / max(1, len(out))  # chunk windows: several rows per text
    for rows in length_batches(encoded.lengths(), batch_size):
        batch = pad_batch(encoded, rows, padding)
        hidden = encoder.hidden_states(batch, s.layers)
        out[rows] = pool_layers(hidden, batch["attention_mask"], s.pooling, s.layer_agg)
        advance(len(rows) * per_row)
    out = combine_windows(out, encoded.owner, count, s.long.agg)
    return l2_normalize(out) if s.normalize else out
