"""Tables without pandas: CSV, TSV and JSONL with the standard library (Parquet with pyarrow when
it is installed), held as named columns of Python values.

Every command reads its files through ``iter_tables``, whole or a chunk at a time, in every
install, so a file that one command reads every other reads the same way (the training stack
turns the Table into a DataFrame after). ``predict`` also writes through here: pandas and pyarrow
weigh 250 MB and take most of a second to import, which a one-text prediction should not pay.
``Table`` offers the few DataFrame habits the prediction path uses (``columns``, ``len``,
``table[name].tolist()``, ``table[[names]]``, ``attrs``), so the same model code serves both kinds
of table.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bertclf.errors import InputError, first_line

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # no cap on a cell below the file's own size


class Column(list):
    """One column's values; ``tolist`` as pandas spells it."""

    def tolist(self) -> list[Any]:
        return list(self)


class Table:
    """Named columns of equal length, in order; ``attrs`` as on a DataFrame."""

    def __init__(self, data: dict[str, list[Any]] | None = None, rows: int | None = None) -> None:
        self.data = {str(k): Column(v) for k, v in (data or {}).items()}
        self.rows = rows if rows is not None else len(next(iter(self.data.values()), []))
        self.attrs: dict[str, Any] = {}
        if any(len(v) != self.rows for v in self.data.values()):
            raise ValueError("columns differ in length")

    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, key: str | list[str]) -> Any:
        if isinstance(key, list):
            picked = Table({k: self.data[k] for k in key}, self.rows)
            picked.attrs = dict(self.attrs)
            return picked
        return self.data[key]

    def __setitem__(self, key: str, values: Iterable[Any]) -> None:
        values = Column(values.tolist() if hasattr(values, "tolist") else values)
        if len(values) != self.rows:
            raise ValueError(f"column {key!r} has {len(values)} values for {self.rows} rows")
        self.data[str(key)] = values

    def copy(self) -> Table:
        twin = Table({k: list(v) for k, v in self.data.items()}, self.rows)
        twin.attrs = dict(self.attrs)
        return twin

    def reset_index(self, drop: bool = True) -> Table:
        return self

    def reindex(self, columns: list[str]) -> Table:
        return Table({c: self.data.get(c, [None] * self.rows) for c in columns}, self.rows)

    def records(self) -> list[dict[str, Any]]:
        names = self.columns
        return [dict(zip(names, row, strict=True)) for row in zip(*self.data.values(), strict=True)] \
            if names else [{} for _ in range(self.rows)]

    def to_dict(self, orient: str = "records") -> list[dict[str, Any]]:
        return [{k: plain(v) for k, v in row.items()} for row in self.records()]


def plain(value: Any) -> Any:
    """numpy scalars as Python ones (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def parse_table(text: str, kind: str, sep: str) -> Table:
    """CSV/TSV (header, every cell a string, empty cells None, blank lines skipped) or JSONL
    (one object a line, columns in order of appearance, absent keys None)."""
    return next(iter_tables(io.StringIO(text, newline=""), kind, sep), Table())


def iter_tables(handle: Iterable[str], kind: str, sep: str = ",", rows: int = 0) -> Iterator[Table]:
    """The rows of an open CSV/TSV or JSONL text stream as Tables of at most ``rows`` rows (0: one
    Table of all): the one parser behind every command, whole-file or a chunk at a time.

    A CSV with a header and no rows gives one empty Table with its columns; an empty stream none.
    A CSV cell may be as large as its file (the csv module's default caps one at 128 KiB)."""
    if kind == "jsonl":
        yield from _jsonl_tables(handle, rows)
        return
    reader = csv_records(handle, sep)
    try:
        header = next((r for r in reader if r), None)
        if header is None:
            return
        names, block, given = _unique(header), [], False
        for record in reader:
            if not record:
                continue
            if len(record) > len(names):
                raise ValueError(f"expected {len(names)} fields in line {reader.line_num}, saw {len(record)}")
            block.append(record)
            if len(block) == rows:
                yield _csv_block(names, block)
                block, given = [], True
    except csv.Error as exc:  # a quote left open runs to the end of the file: say where it stopped
        raise ValueError(f"{exc} (line {reader.line_num})") from None
    if block or not given:
        yield _csv_block(names, block)


def csv_records(handle: Iterable[str], sep: str) -> Any:
    """The csv module's reader, as every CSV/TSV reading here uses it: RFC 4180 quoting, strict,
    so a quote left open is an error rather than the rest of the file read as one cell."""
    return csv.reader(handle, delimiter=sep, strict=True)


def _csv_block(names: list[str], records: list[list[str]]) -> Table:
    columns = [[(r[i] or None) if i < len(r) else None for r in records] for i in range(len(names))]
    return Table(dict(zip(names, columns, strict=True)), len(records))


def _jsonl_tables(handle: Iterable[str], rows: int) -> Iterator[Table]:
    objects: list[dict[str, Any]] = []
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {first_line(exc)}") from None
        if not isinstance(value, dict):
            raise ValueError(f"line {number} is not a JSON object")
        objects.append(value)
        if len(objects) == rows:
            yield _json_block(objects)
            objects = []
    if objects:
        yield _json_block(objects)


def _json_block(objects: list[dict[str, Any]]) -> Table:
    names = list(dict.fromkeys(k for row in objects for k in row))
    return Table({n: [row.get(n) for row in objects] for n in names}, len(objects))


def _unique(names: list[str]) -> list[str]:
    """Header names made distinct as pandas does ('a', 'a.1', ...)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def read_parquet(source: Any) -> Table:
    """A Parquet file (path or file object) as a Table; needs pyarrow, which the runtime lacks."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install pyarrow (or give CSV or "
                         "JSONL)") from None
    table = pq.read_table(source)
    return Table(table.to_pydict(), table.num_rows)


def write_rows(path: Path, kind: str, table: Table) -> None:
    """Write ``table`` as ``kind`` to ``path`` (a temporary file the caller renames): floats to 6
    significant digits in CSV/TSV, as pandas' ``float_format="%.6g"`` wrote them."""
    with TableWriter(path, kind) as writer:
        writer.write(table)


class TableWriter:
    """Appends Tables of the same columns to one CSV, TSV, JSONL or Parquet file (the header, or
    Parquet's schema, from the first): predictions that arrive in blocks, in order."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind, self.rows = path, kind, 0
        self.parquet: Any = None

    def __enter__(self) -> TableWriter:
        if self.kind == "parquet":
            try:
                import pyarrow  # noqa: F401 - checked before any work
            except ImportError:
                raise InputError("writing Parquet needs pyarrow: pip install pyarrow (or write .csv or "
                                 ".jsonl)") from None
        else:
            self.handle = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        return self

    def write(self, table: Table) -> None:
        if self.kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            block = pa.table({k: [plain(v) for v in values] for k, values in table.data.items()})
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, block.schema)
            self.parquet.write_table(block.cast(self.parquet.schema))
        elif self.kind == "jsonl":
            for row in table.to_dict():
                self.handle.write(json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False))
                self.handle.write("\n")
        else:
            self.handle.write(csv_text(table, "\t" if self.kind == "tsv" else ",", header=self.rows == 0))
        self.rows += len(table)

    def __exit__(self, *exc: object) -> None:
        if self.kind != "parquet":
            self.handle.close()
        elif self.parquet is not None:
            self.parquet.close()
        elif not any(exc):  # no rows at all: an empty table of no columns
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self.path)


def csv_text(table: Table, sep: str = ",", header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    if header:
        writer.writerow(table.columns)
    for row in zip(*table.data.values(), strict=True):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(plain(value))


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value
