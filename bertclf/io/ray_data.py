"""Reading a file as a Ray Data ``Dataset``, for `embed --engine ray` and `predict --engine ray`
alike (Ray is optional: ``pip install 'bertclf[ray]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertclf.errors import BertclfError
from bertclf.io.files import TABLE_FORMATS


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is the part we need
    except ImportError:
        raise BertclfError("--engine ray needs Ray Data, which is not installed: "
                           "pip install 'bertclf[ray]'") from None
    return ray


def read_dataset(ray: Any, path: str, columns: list[str] | None) -> Any:
    """A Dataset of the input's text (and pair) columns, or of every column (None; CSV cells as
    strings, empty ones missing, as a local read gives them). Reading reserves no CPU: the
    encoders hold every core, and a read that waits for one of them would wait for ever."""
    kind = TABLE_FORMATS.get(Path(path).suffix.lower(), "lines")
    light = {"num_cpus": 0}
    if kind == "parquet":
        return ray.data.read_parquet(path, columns=columns, **light)
    if kind == "jsonl":
        dataset = ray.data.read_json(path, lines=True, **light)
        return dataset.select_columns(columns) if columns else dataset
    if kind == "lines":
        if columns and len(columns) > 1:
            raise BertclfError(f"{path}: --pair-col needs a table (.csv .tsv .jsonl .parquet)")
        return ray.data.read_text(path, drop_empty_lines=False, **light).rename_columns(
            {"text": columns[0] if columns else "text"})
    import csv as stdlib_csv

    from pyarrow import csv

    sep = "\t" if kind == "tsv" else ","
    if columns is None:
        with open(path, encoding="utf-8", newline="") as handle:
            columns = next(stdlib_csv.reader(handle, delimiter=sep), [])
    convert = csv.ConvertOptions(column_types={c: "string" for c in columns}, include_columns=columns,
                                 strings_can_be_null=True)
    parse = csv.ParseOptions(delimiter=sep, newlines_in_values=True)
    return ray.data.read_csv(path, convert_options=convert, parse_options=parse, **light)
