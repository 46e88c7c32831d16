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

from bertclf.errors import (
    BertclfWarning,
    EmptyTextByPosition,
    EmptyTextWarning,
    InputError,
    SpecError,
    first_line,
)

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                 ".parquet": "parquet", ".pq": "parquet"}


VECTOR_FORMATS = (".npy", ".parquet", ".csv")


_REPLACEMENT = "\ufffd"


def clean_texts(values: list[Any], strict: bool = False) -> list[str]:
    """Strings ready to tokenize: None/NaN become "" and, with whitespace-only texts, are counted."""
    texts = [as_text(value) for value in values]
    check_texts(texts, strict=strict)
    return texts


def check_texts(values: list[Any], source: dict[str, Any] | None = None, rows: list[int] | None = None,
                strict: bool = False) -> None:
    """Count empty or missing texts and report them once: an error with ``strict``, else a warning.
    ``source`` (a table's ``attrs["source"]``) and ``rows`` (each text's row there) let the
    message name the lines an editor shows."""
    empty = [i for i, value in enumerate(values)
             if not (value if isinstance(value, str) else as_text(value)).strip()]
    if empty:
        flag_rows(f"{len(empty)} of {len(values)} texts are empty or missing",
                  [rows[i] for i in empty] if rows is not None else empty, "embedded as empty strings",
                  strict, source, EmptyTextWarning if source is not None else EmptyTextByPosition)


def as_text(value: Any) -> str:
    """A cell as the string to embed: missing is "", bytes are decoded, numbers are written out."""
    if is_missing(value):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def flag_rows(message: str, rows: list[int], repair: str, strict: bool, source: dict[str, Any] | None = None,
              category: type[Warning] = BertclfWarning) -> None:
    """Report bad rows (0-based) in one line: an InputError with ``strict``, else a warning that
    says how they were repaired. With ``source`` they are named as lines of that file."""
    message = f"{message} ({where(rows, source)})"
    if strict:
        raise InputError(message)
    warnings.warn(f"{message}; {repair}", category, stacklevel=3)


def where(rows: list[int], source: dict[str, Any] | None = None) -> str:
    """Rows (0-based, in the order read) as a person finds them: 'lines 3, 8 of FILE' as an editor
    numbers them (a header is line 1; a quoted text may span lines), 'rows 2, 7 of FILE' for
    Parquet, or 'positions 1, 6, counting from 0' for texts that came from no file."""
    shown, more = rows[:5], ", ..." if len(rows) > 5 else ""
    plural = "s" if len(rows) > 1 else ""
    if source is None:
        return f"position{plural} {', '.join(map(str, shown))}{more}, counting from 0"
    path = "stdin" if source["path"] == "-" else source["path"]
    if source["kind"] == "parquet":
        return f"row{plural} {', '.join(str(r + 1) for r in shown)}{more} of {path}"
    lines = line_numbers(source, max(shown) + 1)
    return f"line{plural} {', '.join(str(lines[r]) for r in shown)}{more} of {path}"


def line_numbers(source: dict[str, Any], count: int) -> list[int]:
    """The line (1-based) on which each of the first ``count`` rows of a file starts: a text file
    has one row a line; CSV and JSONL skip blank lines and the CSV header, and a quoted CSV cell
    may hold line breaks."""
    kind = source["kind"]
    if kind == "lines" or source["path"] == "-":
        return list(range(1, count + 1))
    from bertclf.io.sniff import current

    text = Path(source["path"]).read_bytes().decode(current().codec, errors="replace")
    if kind == "jsonl":
        return [i + 1 for i, line in enumerate(text.splitlines()) if line.strip()][:count]
    from bertclf.io.table import csv_records

    reader = csv_records(io.StringIO(text, newline=""), source.get("sep") or ",")
    starts, before, header = [], 0, True
    for record in reader:
        if record and not (header and not any(record)):
            if header:
                header = False
            else:
                starts.append(before + 1)
                if len(starts) == count:
                    break
        before = reader.line_num
    return starts + [0] * (count - len(starts))


def _decode(raw: bytes, name: str, strict: bool) -> str:
    """Text in the chosen encoding (UTF-8 unless --encoding); undecodable bytes are replaced and
    counted, with the likely encoding named when there are more than a few."""
    from bertclf.io.sniff import check_text, current, encoding_hint

    codec = current().codec
    check_text(raw, name, bad=0)  # NUL bytes; the share that fails is counted below, if any does
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        pass
    text = raw.decode(codec, errors="replace")
    bad = text.count(_REPLACEMENT) - (raw.count(_REPLACEMENT.encode("utf-8")) if "utf" in codec else 0)
    check_text(raw, name, bad)
    message = f"{name}: {bad} undecodable byte sequence(s) (not {current().encoding or 'UTF-8'})"
    hint = encoding_hint(raw, bad)
    if strict:
        raise InputError(message + hint)
    warnings.warn(f"{message} replaced by U+FFFD{hint}", BertclfWarning, stacklevel=3)
    return text


def check_input_file(path: str) -> None:
    """A file to read exists and is not a folder ('-', stdin, always does)."""
    if path == "-":
        return
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {path}")
    if p.is_dir():
        raise InputError(f"{path} is a folder, not a file")


def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    check_input_file(path)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _pandas() -> Any:
    import pandas as pd

    return pd


def read_table(path: str, strict: bool = False, lean: bool = False) -> Any:
    """A pandas DataFrame from CSV, TSV, JSONL or Parquet, every cell kept as read (no type guess);
    with ``lean``, the ``io.table.Table`` it is made from, without pandas (the runtime's way). One
    parser reads for both (``io.table.iter_tables``), so every command reads a file the same way.

    An empty file is a table with no rows (and no columns). ``attrs["source"]`` says where the
    rows came from, so problems can be reported by the line an editor shows."""
    from bertclf.io.sniff import current, sep_hint

    kind = TABLE_FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"{path}: not a table file (use one of {', '.join(TABLE_FORMATS)})")
    raw = _read_bytes(path)
    sep = current().separator(kind)
    text = ""
    try:
        from bertclf.io.table import parse_table, read_parquet

        if kind == "parquet":
            table = read_parquet(io.BytesIO(raw)) if lean else _pandas().read_parquet(io.BytesIO(raw))
        else:
            text = _decode(raw, path, strict)
            table = parse_table(text, kind, sep)
            if not lean:  # the same rows and cells, as the training stack's DataFrame
                table = _pandas().DataFrame(table.data) if table.columns else _pandas().DataFrame()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - parsers raise many types; the message is what matters
        hint = sep_hint(text, sep) if kind in ("csv", "tsv") else ""
        raise InputError(f"{path}: cannot parse as {kind}: {first_line(exc)}{hint}") from None
    table.attrs["source"] = {"path": path, "kind": kind, "sep": sep}
    if kind in ("csv", "tsv") and len(table.columns) == 1:
        table.attrs["hint"] = sep_hint(text, sep)  # one column: perhaps the wrong separator
    return table


def read_texts(path: str, text_col: str = "text", strict: bool = False) -> list[str | None]:
    """Texts from a table column, or from a plain text file (one per line; '-' is stdin).

    Missing cells come back as None: ``clean_texts`` (run by the Embedder) counts and repairs
    them, so each problem is reported once.
    """
    if is_table_path(path):
        table = read_table(path, strict)
        texts = table_column(table, path, text_col)
        check_texts(texts, table.attrs["source"], strict=strict)
        return texts
    text = _decode(_read_bytes(path), "stdin" if path == "-" else path, strict)
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    check_texts(lines, {"path": path, "kind": "lines"}, strict=strict)
    return list(lines)


def is_table_path(path: str) -> bool:
    return path != "-" and Path(path).suffix.lower() in TABLE_FORMATS


def table_column(table: Any, path: str, column: str, hint: str = "") -> list[Any]:
    """One column's values (missing cells as None), or an error that lists the columns there are.
    A table with neither rows nor columns (an empty file) has every column, empty."""
    if column not in table.columns:
        if is_blank(table):
            return []
        columns = ", ".join(map(str, table.columns)) or "(none)"
        raise InputError(f"{path}: no column '{column}'; its columns are: {columns}{hint}"
                         f"{table.attrs.get('hint', '')}")
    return [None if is_missing(v) else v for v in table[column].tolist()]


def is_blank(table: Any) -> bool:
    """An empty file read as a table: no rows and no columns."""
    return len(table) == 0 and len(table.columns) == 0


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
    """Write a DataFrame (or an ``io.table.Table``) as .csv, .tsv, .jsonl or .parquet, atomically;
    probabilities to 6 digits."""
    from bertclf.io.table import Table, write_rows

    out = check_output_path(str(path), tuple(TABLE_FORMATS))
    kind = TABLE_FORMATS[out.suffix.lower()]
    with atomic_path(out) as tmp:
        if isinstance(table, Table):
            write_rows(tmp, kind, table)
        elif kind == "parquet":
            table.to_parquet(tmp, index=False)
        elif kind == "jsonl":
            table.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            table.to_csv(tmp, index=False, sep="\t" if kind == "tsv" else ",", float_format="%.6g")
    return out


def require_columns(table: Any, columns: list[str], where: str, what: str) -> None:
    """A clear error naming every column the model needs that the input lacks."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        have = ", ".join(map(str, table.columns)) or "(none)"
        raise InputError(f"{where}: no column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(c) for c in missing)} ({what}); its columns are: {have}"
                         f"{table.attrs.get('hint', '')}")  # read_table's guess at the separator
