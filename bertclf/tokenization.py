"""How BERT reads text: WordPiece ids, special tokens, segments, truncation and right padding.

Texts are tokenized once, then batched by token count so that short texts are not padded to long
neighbours; callers restore the original order from the returned indices.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import BertclfWarning


@dataclass
class Encoded:
    """Token ids of many texts, unpadded, with how many of them were cut at max_length."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    truncated: int

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64,
                           count=len(self.input_ids))


def encode(tokenizer: Any, texts: Sequence[str], max_length: int, report: bool = False) -> Encoded:
    """Tokenize with special tokens, cutting each text at max_length tokens and counting cuts;
    ``report`` warns once with the count of texts that were cut."""
    encoded = _encode(tokenizer, texts, max_length)
    if report and encoded.truncated:
        warnings.warn(f"{encoded.truncated} of {len(texts)} texts were longer than {max_length} tokens "
                      f"and were cut", BertclfWarning, stacklevel=3)
    return encoded


def pad_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def _encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> Encoded:
    if not texts:
        return Encoded([], [], 0)
    out = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        return_overflowing_tokens=True,
        return_attention_mask=False,
    )
    # With overflow on, a cut text yields extra rows; its first row is the truncated text.
    mapping = out["overflow_to_sample_mapping"]
    first_rows = [row for row, sample in enumerate(mapping) if row == 0 or mapping[row - 1] != sample]
    input_ids = [out["input_ids"][row] for row in first_rows]
    type_ids = None
    if "token_type_ids" in out and "token_type_ids" in tokenizer.model_input_names:
        type_ids = [out["token_type_ids"][row] for row in first_rows]
    cut_texts = {sample for row, sample in enumerate(mapping) if row and mapping[row - 1] == sample}
    return Encoded(input_ids, type_ids, truncated=len(cut_texts))


def length_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index batches of texts of similar token length, longest first (memory peaks early)."""
    order = np.argsort(-lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def pad_batch(encoded: Encoded, rows: np.ndarray, pad_id: int) -> dict[str, np.ndarray]:
    """Right-padded int64 arrays for the given rows, with the attention mask."""
    width = max(len(encoded.input_ids[i]) for i in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    types = np.zeros((len(rows), width), dtype=np.int64) if encoded.token_type_ids else None
    for slot, i in enumerate(rows):
        ids = encoded.input_ids[i]
        input_ids[slot, : len(ids)] = ids
        mask[slot, : len(ids)] = 1
        if types is not None:
            types[slot, : len(ids)] = encoded.token_type_ids[i]
    batch = {"input_ids": input_ids, "attention_mask": mask}
    if types is not None:
        batch["token_type_ids"] = types
    return batch


@dataclass
class TokenView:
    """Everything BERT sees of one text or text pair, position by position."""

    tokens: list[str]
    ids: list[int]
    segment_ids: list[int]
    positions: list[int]
    attention_mask: list[int]
    special: list[bool]
    max_length: int
    cut: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(
    tokenizer: Any,
    text: str,
    pair: str | None = None,
    max_length: int = 512,
    pad_to: int | None = None,
) -> TokenView:
    """Tokenize one text (or pair) as the model would, recording what truncation removed.

    Pairs are cut longest-first, as BERT's own pre-processing does; ``pad_to`` pads on the right
    with [PAD] (attention mask 0) to show what batching adds.
    """
    enc = tokenizer(
        text,
        pair,
        truncation="longest_first",
        max_length=max_length,
        return_token_type_ids=True,
        return_special_tokens_mask=True,
    )
    ids = list(enc["input_ids"])
    sequence_ids = enc.sequence_ids(0)
    cut = []
    for segment, segment_text in enumerate([text] if pair is None else [text, pair]):
        pieces = tokenizer.tokenize(segment_text)
        kept = sum(1 for s in sequence_ids if s == segment)
        cut.append(pieces[kept:])
    segments = list(enc.get("token_type_ids") or [0 if s != 1 else 1 for s in sequence_ids])
    special = [bool(s) for s in enc["special_tokens_mask"]]
    mask = [1] * len(ids)
    if pad_to and pad_to > len(ids):
        extra = pad_to - len(ids)
        ids += [tokenizer.pad_token_id] * extra
        segments += [0] * extra
        mask += [0] * extra
        special += [True] * extra
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return TokenView(
        tokens=tokens,
        ids=ids,
        segment_ids=segments,
        positions=list(range(len(ids))),
        attention_mask=mask,
        special=special,
        max_length=max_length,
        cut=cut,
    )
