"""Reading texts from files and writing vectors, forgiving where it is safe and loud where not.

Empty or missing texts and undecodable bytes are repaired and counted (or refused with
``strict``); everything written goes to a temporary file first and is renamed into place, so an
interrupted run never leaves half a file behind.
"""

from __future__ import annotations

import io
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BertclfWarning, InputError, SpecError, first_line

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                 ".parquet": "parquet", ".pq": "parquet"}
VECTOR_FORMATS = (".npy", ".parquet", ".csv")
_REPLACEMENT = "\ufffd"


def clean_texts(values: list[Any], strict: bool = False) -> list[str]:
    """Strings ready to tokenize: None/NaN become "" and, with whitespace-only texts, are counted."""
    texts: list[str] = []
    empty_rows: list[int] = []
    for row, value in enumerate(values):
        text = as_text(value)
        if not text.strip():
            empty_rows.append(row)
        texts.append(text)
    if empty_rows:
        flag_rows(f"{len(empty_rows)} of {len(texts)} texts are empty or missing", empty_rows,
                  "embedded as empty strings", strict)
    return texts


def as_text(value: Any) -> str:
    """A cell as the string to embed: missing is "", bytes are decoded, numbers are written out."""
    if is_missing(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def flag_rows(message: str, rows: list[int], repair: str, strict: bool) -> None:
    """Report bad rows (0-based) in one line: an InputError with ``strict``, else a warning that
    says how they were repaired."""
    shown = ", ".join(str(r + 1) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    message = f"{message} (rows {shown})"
    if strict:
        raise InputError(message)
    warnings.warn(f"{message}; {repair}", BertclfWarning, stacklevel=3)


def _decode(raw: bytes, name: str, strict: bool) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8-sig", errors="replace")
    bad = text.count(_REPLACEMENT) - raw.count(_REPLACEMENT.encode("utf-8"))
    message = f"{name}: {bad} undecodable byte sequence(s) (not UTF-8)"
    if strict:
        raise InputError(message)
    warnings.warn(f"{message} replaced by U+FFFD", BertclfWarning, stacklevel=3)
    return text


def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {path}")
    if p.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_table(path: str, strict: bool = False) -> Any:
    """A pandas DataFrame from CSV, TSV, JSONL or Parquet, every cell kept as read (no type guess)."""
    import pandas as pd

    kind = TABLE_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"{path}: not a table file (use one of {', '.join(TABLE_FORMATS)})")
    raw = _read_bytes(path)
    try:
        if kind == "parquet":
            return pd.read_parquet(io.BytesIO(raw))
        text = _decode(raw, path, strict)
        if kind == "jsonl":
            return pd.read_json(io.StringIO(text), lines=True, dtype=False)
        return pd.read_csv(io.StringIO(text), sep="\t" if kind == "tsv" else ",", dtype=str,
                           keep_default_na=False, na_values=[""])
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - parsers raise many types; the message is what matters
        first = first_line(exc)
        raise InputError(f"{path}: cannot parse as {kind}: {first}") from None


def read_texts(path: str, text_col: str = "text", strict: bool = False) -> list[str | None]:
    """Texts from a table column, or from a plain text file (one per line; '-' is stdin).

    Missing cells come back as None: ``clean_texts`` (run by the Embedder) counts and repairs
    them, so each problem is reported once.
    """
    if is_table_path(path):
        return table_column(read_table(path, strict), path, text_col)
    text = _decode(_read_bytes(path), "stdin" if path == "-" else path, strict)
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return list(lines)


def is_table_path(path: str) -> bool:
    return path != "-" and Path(path).suffix.lower() in TABLE_FORMATS


def table_column(table: Any, path: str, column: str, hint: str = "") -> list[Any]:
    """One column's values (missing cells as None), or an error that lists the columns there are."""
    if column not in table.columns:
        columns = ", ".join(map(str, table.columns)) or "(none)"
        raise InputError(f"{path}: no column '{column}'; its columns are: {columns}{hint}")
    return [None if is_missing(v) else v for v in table[column].tolist()]


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def check_output_path(path: str, formats: tuple[str, ...] = VECTOR_FORMATS) -> Path:
    """Fail before any work is done when the output cannot be written where asked."""
    out = Path(path)
    if out.suffix.lower() not in formats:
        raise SpecError(f"{path}: unknown output format (use one of {', '.join(formats)})")
    if not out.parent.is_dir():
        raise InputError(f"{path}: folder {out.parent} does not exist")
    return out


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it only if the block finishes."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it a normal file's mode
        os.replace(tmp, target)
    except OSError as exc:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_vectors(path: str | os.PathLike[str], vectors: np.ndarray) -> Path:
    """Write (n, dim) float32 vectors as .npy, .parquet (column 'embedding') or .csv (dim_0...)."""
    out = check_output_path(str(path))
    suffix = out.suffix.lower()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    with atomic_path(out) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as handle:
                np.save(handle, vectors)
        elif suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            column = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
            pq.write_table(pa.table({"embedding": column}), tmp)
        else:
            header = ",".join(f"dim_{i}" for i in range(vectors.shape[1]))
            np.savetxt(tmp, vectors, delimiter=",", fmt="%.8g", header=header, comments="")
    return out


def read_vectors(path: str | os.PathLike[str]) -> np.ndarray:
    """Read back what ``write_vectors`` wrote, as float32."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float32, copy=False)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        column = pq.read_table(path, columns=["embedding"]).column("embedding").combine_chunks()
        return column.flatten().to_numpy().reshape(len(column), -1).astype(np.float32)
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)


def write_table(path: str | os.PathLike[str], table: Any) -> Path:
    """Write a DataFrame as .csv, .tsv, .jsonl or .parquet, atomically; probabilities to 6 digits."""
    out = check_output_path(str(path), tuple(TABLE_FORMATS))
    kind = TABLE_FORMATS[out.suffix.lower()]
    with atomic_path(out) as tmp:
        if kind == "parquet":
            table.to_parquet(tmp, index=False)
        elif kind == "jsonl":
            table.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            table.to_csv(tmp, index=False, sep="\t" if kind == "tsv" else ",", float_format="%.6g")
    return out
