"""Embed a file of any size with flat memory: read a chunk, embed it, write it, repeat.

Only one chunk of texts and its vectors are in memory at a time. ``.npy`` output gets its header
from a first, cheap counting pass, then rows are appended; ``.parquet`` is written a row group
per chunk; ``.csv`` is appended to. Every output goes to a temporary file renamed into place at the end, so an
interrupted run leaves no half-written file (and, with the cache on, keeps the vectors it made).
Reports (empty texts, texts cut) are added up over chunks and given once, with file row numbers.
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bertclf.errors import EmptyTextWarning, InputError, first_line
from bertclf.io.files import (
    TABLE_FORMATS,
    as_text,
    atomic_path,
    check_input_file,
    check_output_path,
    flag_rows,
    is_missing,
)
from bertclf.io.sniff import FEW_BAD_BYTES, check_text, current, encoding_hint, sep_hint
from bertclf.progress import progress_bar

CHUNK_ROWS = 8192
_COUNTED = re.compile(r"^(\d+) of \d+ (texts .*)$")
_replaced = [0]  # undecodable byte sequences met by the "bertclf-replace" handler


def _replace_counting(exc: UnicodeError) -> tuple[str, int]:
    _replaced[0] += 1
    return "\ufffd", exc.end  # type: ignore[attr-defined]


codecs.register_error("bertclf-replace", _replace_counting)


Chunk = tuple[list[Any], list[Any] | None]


def iter_chunks(path: str, text_col: str = "text", pair_col: str | None = None,
                chunk_rows: int = CHUNK_ROWS, strict: bool = False) -> Iterator[Chunk]:
    """(texts, pairs or None) a chunk at a time from CSV, TSV, JSONL, Parquet or a text file."""
    kind = TABLE_FORMATS.get(Path(path).suffix.lower(), "lines")
    columns = [text_col, *([pair_col] if pair_col else [])]
    check_input_file(path)
    if kind != "parquet":
        check_text(_head(path, 1 << 20), path)
    try:
        if kind == "parquet":
            yield from _parquet_chunks(path, columns, chunk_rows)
        elif kind == "lines":
            if pair_col:
                raise InputError(f"{path}: --pair-col needs a table (.csv .tsv .jsonl .parquet)")
            yield from _line_chunks(path, chunk_rows, strict)
        else:
            yield from _table_chunks(path, kind, columns, chunk_rows, strict)
    except UnicodeDecodeError as exc:
        hint = encoding_hint(_head(path, 1 << 20), FEW_BAD_BYTES)
        raise InputError(f"{path}: undecodable bytes at offset {exc.start} (not "
                         f"{current().encoding or 'UTF-8'}){hint}") from None
    except (InputError, GeneratorExit):
        raise
    except Exception as exc:  # noqa: BLE001 - parsers raise many types; the message is what matters
        hint = ""
        if kind in ("csv", "tsv"):
            hint = sep_hint(_head(path).decode("utf-8", errors="replace"), current().separator(kind))
        raise InputError(f"{path}: cannot parse as {kind}: {first_line(exc)}{hint}") from None


def scan(path: str, text_col: str = "text", pair_col: str | None = None,
         strict: bool = False) -> tuple[int, list[int], list[int], int]:
    """A first pass that embeds nothing: (rows, empty text rows, rows whose pair is missing,
    undecodable byte sequences), so problems are reported exactly, before any work is done."""
    _replaced[0] = 0
    total, empty, gone = 0, [], []
    for texts, pairs in iter_chunks(path, text_col, pair_col, 65536, strict):
        empty += [total + i for i, v in enumerate(texts) if not as_text(v).strip()]
        if pairs is not None:
            gone += [total + i for i, v in enumerate(pairs) if is_missing(v)]
        total += len(texts)
    return total, empty, gone, _replaced[0]


def check_scan(path: str, found: tuple[int, list[int], list[int], int], strict: bool) -> int:
    """Report what ``scan`` found (an error for missing pairs, or for empty texts when strict),
    once, with file row numbers; returns the row count."""
    from bertclf.errors import BertclfWarning

    total, empty, gone, replaced = found
    kind = TABLE_FORMATS.get(Path(path).suffix.lower(), "lines")
    source = {"path": path, "kind": kind, "sep": current().separator(kind)}
    if gone:
        flag_rows(f"{len(gone)} of {total} sentence pairs have no second text", gone, "", True, source)
    if empty:
        flag_rows(f"{len(empty)} of {total} texts are empty or missing", empty, "embedded as empty strings",
                  strict, source, EmptyTextWarning)
    if replaced:
        check_text(_head(path, 1 << 20), path, replaced, Path(path).stat().st_size)
        hint = encoding_hint(_head(path, 1 << 20), replaced)
        encoding = current().encoding or "UTF-8"
        warnings.warn(f"{path}: {replaced} undecodable byte sequence(s) (not {encoding}) replaced by U+FFFD"
                      f"{hint}", BertclfWarning, stacklevel=3)
    return total


def _parquet_chunks(path: str, columns: list[str], chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    _require(path, columns, handle.schema_arrow.names)
    for batch in handle.iter_batches(batch_size=chunk_rows, columns=columns):
        yield batch.column(0).to_pylist(), batch.column(1).to_pylist() if len(columns) > 1 else None


def _table_chunks(path: str, kind: str, columns: list[str], chunk_rows: int,
                  strict: bool) -> Iterator[Chunk]:
    """CSV, TSV or JSONL a chunk at a time, by the parser every other command reads with."""
    from bertclf.io.table import iter_tables

    errors = "strict" if strict else "bertclf-replace"
    with open(path, encoding=current().codec, errors=errors, newline="") as handle:
        for number, table in enumerate(iter_tables(handle, kind, current().separator(kind), chunk_rows)):
            if number == 0:  # JSONL: a later chunk may lack a key that earlier rows had
                _require(path, columns, table.columns, current().separator(kind) if kind != "jsonl" else None)
            picked = [table.data.get(c) or [None] * len(table) for c in columns]
            if len(table):
                yield picked[0], picked[1] if len(columns) > 1 else None


def _line_chunks(path: str, chunk_rows: int, strict: bool) -> Iterator[tuple[list, None]]:
    with open(path, encoding=current().codec, errors="strict" if strict else "bertclf-replace",
              newline="\n") as handle:
        chunk: list[str] = []
        for line in handle:
            chunk.append(line.rstrip("\r\n") if line.endswith("\n") else line)
            if len(chunk) == chunk_rows:
                yield chunk, None
                chunk = []
        if chunk:
            yield chunk, None


def _require(path: str, columns: list[str], present: list[str], sep: str | None = None) -> None:
    missing = [c for c in columns if c not in present]
    if missing:
        hint = ""
        if sep is not None and len(present) == 1:  # one column: perhaps the wrong separator
            hint = sep_hint(_head(path).decode("utf-8", errors="replace"), sep)
        raise InputError(f"{path}: no column '{missing[0]}'; its columns are: "
                         f"{', '.join(map(str, present))}{hint}")


def _head(path: str, size: int = 1 << 16) -> bytes:
    """The first bytes of a file, for guessing its encoding or separator."""
    with open(path, "rb") as handle:
        return handle.read(size)


def embed_file(embedder: Any, path: str, out: str, text_col: str = "text", pair_col: str | None = None,
               chunk_rows: int = CHUNK_ROWS, strict: bool = False) -> tuple[int, int]:
    """Embed every text of ``path`` into ``out`` (.npy, .parquet or .csv) in input order, a chunk
    at a time; returns (rows, dim)."""
    from bertclf.errors import BertclfWarning

    target = check_output_path(out)
    dim = embedder.settings().dim
    total = check_scan(path, scan(path, text_col, pair_col, strict), strict)
    reports: dict[str, int] = {}
    with atomic_path(target) as tmp, Writer(tmp, target.suffix.lower(), total, dim) as writer, \
            progress_bar(total, "embedding", embedder.progress) as advance:
        for texts, pairs in iter_chunks(path, text_col, pair_col, chunk_rows, strict):
            texts = [as_text(v) for v in texts]
            pairs = None if pairs is None else [as_text(v) for v in pairs]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                vectors = embedder.encode_texts(texts, pairs, advance)
            for item in caught:  # per-chunk counts ("3 of 8192 texts were cut") are added up
                match = _COUNTED.match(str(item.message))
                key = match.group(2) if match else str(item.message)
                reports[key] = reports.get(key, 0) + (int(match.group(1)) if match else 0)
            writer.write(vectors)
        rows = writer.rows
    for key, count in reports.items():
        warnings.warn(f"{count} of {total} {key}" if count else key, BertclfWarning, stacklevel=2)
    return rows, dim


class Writer:
    """Appends chunks of vectors to a .npy file (its header written first), a Parquet file or a
    CSV file."""

    def __init__(self, path: Path, suffix: str, total: int, dim: int) -> None:
        self.path, self.suffix, self.total, self.dim, self.rows = path, suffix, total, dim, 0

    def __enter__(self) -> Writer:
        if self.suffix == ".npy":  # not a memory map: its dirty pages count as resident memory
            self.npy = open(self.path, "wb")  # noqa: SIM115
            np.lib.format.write_array_header_1_0(
                self.npy, {"descr": "<f4", "fortran_order": False, "shape": (self.total, self.dim)})
        elif self.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.schema([("embedding", pa.list_(pa.float32(), self.dim))])
            self.parquet = pq.ParquetWriter(self.path, self.schema)
        else:
            self.csv = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self.csv.write(",".join(f"dim_{i}" for i in range(self.dim)) + "\n")
        return self

    def write(self, vectors: np.ndarray) -> None:
        if self.suffix == ".npy":
            self.npy.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        elif self.suffix == ".parquet":
            import pyarrow as pa

            flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1), type=pa.float32())
            column = pa.FixedSizeListArray.from_arrays(flat, self.dim)
            self.parquet.write_table(pa.table({"embedding": column}, schema=self.schema))
        else:
            np.savetxt(self.csv, vectors, delimiter=",", fmt="%.8g")
        self.rows += len(vectors)

    def __exit__(self, *exc: object) -> None:
        if self.suffix == ".npy":
            self.npy.close()
        elif self.suffix == ".parquet":
            self.parquet.close()
        else:
            self.csv.close()
        if exc[0] is None and self.rows != self.total:
            raise InputError(f"the input changed while it was read: counted {self.total} rows, "
                             f"embedded {self.rows}")
