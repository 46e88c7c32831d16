"""How BERT reads text: WordPiece ids, special tokens, segments, truncation and right padding.

Texts (and sentence pairs) are tokenized once without special tokens; the model's own template
(``[CLS] A [SEP] B [SEP]`` for BERT) is then applied to what each long-text strategy keeps:
the start (``truncate``), the start and the end (``head-tail``), or every token in overlapping
windows (``chunk``). Batches group texts by token count so short texts are not padded to long
neighbours; callers restore the original order from the returned indices.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from bertclf.errors import BertclfWarning, SpecError

LONG_MODES = ("truncate", "head-tail", "chunk", "guide")  # guide: classify/sentence_guide.py
CHUNK_AGGS = ("mean", "max")


@dataclass(frozen=True)
class LongSpec:
    """How to read a text longer than the token budget, with every default filled in."""

    mode: str = "truncate"
    head: int = 0  # head-tail: tokens kept from the start; the rest of the budget comes from the end
    stride: int = 0  # chunk: tokens from one window's start to the next one's
    agg: str = "mean"  # chunk: how the windows' vectors become one


def check_long(mode: str, max_length: int, head_tokens: int | None = None, stride: int | None = None,
               chunk_agg: str = "mean", specials: int = 2) -> LongSpec:
    """Resolve a long-text strategy against the token budget; bad values are one SpecError."""
    if mode not in LONG_MODES:
        raise SpecError(f"unknown long-text strategy {mode!r}: use one of {', '.join(LONG_MODES)}")
    if chunk_agg not in CHUNK_AGGS:
        raise SpecError(f"unknown chunk aggregation {chunk_agg!r}: use one of {', '.join(CHUNK_AGGS)}")
    budget = max_length - specials
    head = round(budget / 4) if head_tokens is None else head_tokens  # 128 + 382 at 512 tokens
    if not isinstance(head, (int, np.integer)) or isinstance(head, bool) or not 0 <= head <= budget:
        raise SpecError(f"head tokens must be an integer from 0 to {budget} (max length {max_length} "
                        f"less {specials} special tokens), got {head_tokens!r}")
    step = max(1, budget // 2) if stride is None else stride
    if not isinstance(step, (int, np.integer)) or isinstance(step, bool) or step < 1:
        raise SpecError(f"stride must be a positive integer, got {stride!r}")
    if step > budget:
        raise SpecError(f"stride {step} is larger than the window ({budget} tokens: max length "
                        f"{max_length} less {specials} special tokens), so tokens between windows "
                        f"would never be read; use a stride of at most {budget}")
    return LongSpec(mode, int(head), int(step), chunk_agg)


@dataclass
class Encoded:
    """Token ids, unpadded, one row per model input; ``owner`` maps rows to texts when a text
    spans several rows (chunk windows), and ``truncated`` counts texts that lost tokens."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    truncated: int
    owner: np.ndarray | None = None
    over: np.ndarray | None = None  # per text: whether it was over the budget (``truncated`` counts them)

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64,
                           count=len(self.input_ids))

    def tokens_per_text(self, count: int) -> np.ndarray:
        """Tokens the encoder reads for each of ``count`` texts (a chunked text: all its windows)."""
        lengths = self.lengths()
        return lengths if self.owner is None else np.bincount(self.owner, lengths, count).astype(np.int64)


def encode(tokenizer: Any, texts: Sequence[str], max_length: int, report: bool = False,
           pairs: Sequence[str] | None = None, long: LongSpec | None = None) -> Encoded:
    """Tokenize texts (or text pairs) with special tokens within ``max_length``, by ``long``'s
    strategy; ``report`` warns once with the count of texts that lost tokens."""
    long = long or LongSpec()
    if pairs is not None and long.mode not in ("truncate", "guide"):
        raise SpecError(f"--long {long.mode} reads single texts; sentence pairs are cut longest side "
                        f"first (--long truncate)")
    template = _template(tokenizer, pairs is not None)
    budget = max_length - template.specials
    keeps_start = pairs is None and long.mode in ("truncate", "guide")
    first = _content_ids(tokenizer, texts, budget if keeps_start else None)
    second = _content_ids(tokenizer, pairs) if pairs is not None else None
    rows: list[tuple[list[int], list[int] | None]] = []
    owner: list[int] = []
    over = np.zeros(len(first), dtype=bool)
    for i, a in enumerate(first):
        b = second[i] if second is not None else None
        size = len(a) + (len(b) if b is not None else 0)
        over[i] = size > budget
        if b is not None:
            rows.append(_longest_first(a, b, budget))
        elif long.mode == "chunk":
            starts = window_starts(len(a), budget, long.stride) if size > budget else [0]
            rows += [(a[s:s + budget], None) for s in starts]
            owner += [i] * len(starts)
            continue
        elif long.mode == "head-tail" and size > budget:
            tail = budget - long.head
            rows.append((a[:long.head] + (a[len(a) - tail:] if tail else []), None))
        else:
            rows.append((a[:budget], None))
        owner.append(i)
    built = [template.build(a, b) for a, b in rows]
    input_ids = [ids for ids, _ in built]
    types = [t for _, t in built] if "token_type_ids" in tokenizer.model_input_names else None
    chunked = long.mode == "chunk" and len(owner) != len(first)
    cut = int(over.sum())
    encoded = Encoded(input_ids, types, cut, np.asarray(owner, dtype=np.int64) if chunked else None, over)
    if report:
        report_cut(cut, len(texts), max_length, long.mode, pairs is not None, stacklevel=4)
    return encoded


def window_starts(n: int, budget: int, stride: int) -> range:
    """Where ``--long chunk``'s windows of ``budget`` tokens start in a text of ``n`` tokens: what
    the encoder reads, and what an explanation points at."""
    return range(0, max(1, n - budget + stride), stride)


def report_cut(cut: int, total: int, max_length: int, mode: str, pairs: bool, stacklevel: int = 3) -> None:
    """One warning with the count of texts over the token budget and what became of them."""
    if not cut:
        return
    verb = {"chunk": "were read in overlapping windows", "head-tail": "kept their start and end"}
    done = "were cut" if pairs else verb.get(mode, "were cut")
    warnings.warn(f"{cut} of {total} texts were longer than {max_length} tokens and {done}",
                  BertclfWarning, stacklevel=stacklevel)


def _content_ids(tokenizer: Any, texts: Sequence[str], keep: int | None = None) -> list[list[int]]:
    """Every text's token ids; with ``keep``, only what is needed to know its first ``keep`` ids
    and whether there are more. A text far longer than that is tokenized up to a whitespace
    (so no word is split and the ids of its start are exactly those of the whole text): a 5 MB
    line then costs milliseconds instead of seconds. Should the start hold too few tokens (long
    runs of spaces), the whole text is tokenized after all."""
    if not len(texts):
        return []
    starts = [_start(text, keep) for text in texts] if keep is not None else list(texts)
    ids = _tokenize(tokenizer, starts)
    again = [i for i, (text, start) in enumerate(zip(texts, starts, strict=True))
             if start is not text and len(ids[i]) <= keep + _MARGIN_TOKENS]
    for i, whole in zip(again, _tokenize(tokenizer, [texts[i] for i in again]), strict=True):
        ids[i] = whole
    return ids


_CHARS_PER_TOKEN = 16  # generous: WordPiece averages 4-5 characters a token in English
_MARGIN_TOKENS = 8  # the cut start must hold this many more tokens than are kept


def _start(text: str, keep: int) -> str:
    """The text itself, or its start up to the last whitespace before keep x 16 characters."""
    limit = (keep + _MARGIN_TOKENS) * _CHARS_PER_TOKEN + 64
    if len(text) <= limit:
        return text
    cut = max(text.rfind(space, 0, limit) for space in (" ", "\n", "\t"))
    return text[:cut] if cut > 0 else text


def _tokenize(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    return tokenizer(texts, add_special_tokens=False, truncation=False, return_attention_mask=False,
                     return_token_type_ids=False, verbose=False)["input_ids"]


def _longest_first(a: list[int], b: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Cut a pair as the tokenizers library's ``longest_first`` does: the shorter side (the
    first on a tie) keeps up to half the budget, the longer side the rest."""
    if len(a) + len(b) <= budget:
        return a, b
    if len(a) <= len(b):
        keep_a = min(len(a), budget // 2)
        return a[:keep_a], b[:budget - keep_a]
    keep_b = min(len(b), budget // 2)
    return a[:budget - keep_b], b[:keep_b]


@dataclass(frozen=True)
class _Template:
    """Where special tokens go around one or two segments, with their segment ids, learned from
    the tokenizer itself so any BERT-family model (BERT, RoBERTa...) gets its own layout."""

    parts: tuple[tuple[str, int, int], ...]  # ("special", token id, type) or ("segment", index, type)

    @property
    def specials(self) -> int:
        return sum(1 for kind, _, _ in self.parts if kind == "special")

    def build(self, a: list[int], b: list[int] | None) -> tuple[list[int], list[int]]:
        ids: list[int] = []
        types: list[int] = []
        for kind, value, type_id in self.parts:
            piece = [value] if kind == "special" else (a if value == 0 else b or [])
            ids += piece
            types += [type_id] * len(piece)
        return ids, types


@lru_cache(maxsize=32)
def _template_for(tokenizer: Any, pair: bool) -> _Template:
    probe = tokenizer("a", "b" if pair else None, return_token_type_ids=True)
    ids = list(probe["input_ids"])
    types = list(probe.get("token_type_ids") or [0] * len(ids))
    parts: list[tuple[str, int, int]] = []
    for position, segment in enumerate(probe.sequence_ids(0)):
        if segment is None:
            parts.append(("special", ids[position], types[position]))
        elif not parts or parts[-1][:2] != ("segment", segment):
            parts.append(("segment", segment, types[position]))
    return _Template(tuple(parts))


def _template(tokenizer: Any, pair: bool) -> _Template:
    try:
        return _template_for(tokenizer, pair)
    except TypeError:  # an unhashable tokenizer: learn the layout each time (it is cheap)
        return _template_for.__wrapped__(tokenizer, pair)


def pad_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def combine_windows(vectors: np.ndarray, owner: np.ndarray | None, n_texts: int, agg: str) -> np.ndarray:
    """One vector per text from its windows' vectors (mean or max); rows already one per text
    (no windows) pass through."""
    if owner is None:
        return vectors
    if agg == "max":
        out = np.full((n_texts, vectors.shape[1]), -np.inf, dtype=vectors.dtype)
        np.maximum.at(out, owner, vectors)
        return out
    out = np.zeros((n_texts, vectors.shape[1]), dtype=vectors.dtype)
    np.add.at(out, owner, vectors)
    return out / np.bincount(owner, minlength=n_texts)[:, None].astype(vectors.dtype)


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


def read_windows(tokenizer: Any, texts: Sequence[str], max_length: int, long: LongSpec | None = None,
                 pairs: Sequence[str] | None = None) -> list[tuple[list[tuple[int, int]] | None, bool]]:
    """Per text, the character spans the encoder reads (None: all of it) and whether they are
    the separate windows of ``--long chunk``: what an explanation may point at. A text cut at the
    budget is read up to its last token kept; head+tail reads a start and an end; sentence pairs
    are taken as read whole."""
    long = long or LongSpec()
    if pairs is not None or long.mode == "guide":
        return [(None, False)] * len(texts)
    budget = max_length - _template(tokenizer, False).specials
    found: list[tuple[list[tuple[int, int]] | None, bool]] = []
    for text in texts:
        hit = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        # the runtime's tokenizer hands back the tokenizers Encoding; transformers, the mapping
        offsets = hit.encoding.offsets if hasattr(hit, "encoding") else hit["offset_mapping"]
        n = len(offsets)
        if n <= budget:
            found.append((None, False))
        elif long.mode == "chunk":
            starts = window_starts(n, budget, long.stride)
            found.append(([(offsets[s][0], offsets[min(s + budget, n) - 1][1]) for s in starts], True))
        elif long.mode == "head-tail":
            tail = budget - long.head
            spans = ([(0, offsets[long.head - 1][1])] if long.head else []) + (
                [(offsets[n - tail][0], len(text))] if tail else [])
            found.append((spans, False))
        else:
            found.append(([(0, offsets[budget - 1][1])], False))
    return found
