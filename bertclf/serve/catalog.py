"""The served models: opened from folders, warmed, and described for ``GET /v1/models``."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bertclf.errors import InputError, SpecError
from bertclf.serve.payloads import model_table


def load_models(paths: Sequence[str | os.PathLike[str]], threads: int | None = None) -> dict[str, Any]:
    """Open model folders (a folder of model folders counts as each of them), named by folder;
    ``threads``: CPU threads each model's encoder runs on (None: every core)."""
    from bertclf.runtime.model import open_model

    folders: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / "config.json").exists():
            inner = sorted(p for p in path.iterdir() if (p / "config.json").is_file())
            if not inner:
                raise InputError(f"{path} is neither a model folder nor a folder of model folders")
            folders += inner
        else:
            folders.append(path)
    names = [p.resolve().name for p in folders]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(f"two model folders are named {', '.join(twice)}: models are served by folder name")
    return {name: open_model(folder, threads=threads, progress=False)
            for name, folder in zip(names, folders, strict=True)}


def one_blas_thread() -> None:
    """Run numpy's BLAS (OpenBLAS) on one thread in this process. OpenBLAS threads the heads'
    matrix products and its threads then spin, taking the cores the encoder's calls run on:
    offline calls of 32 texts ran at 368-416 texts/s, and at 779-838 with one BLAS thread (calls
    of 3,080: unchanged). The heads now skip BLAS for small products (``heads.product``); this
    still covers merged calls large enough for BLAS."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def warm(model: Any) -> None:
    """One forward pass, so the first request does not pay for lazy loading. Texts over the
    budget are counted in each answer's usage rather than warned of on the server's stderr."""
    if hasattr(model, "warn_cut"):
        model.warn_cut = False
    model.load_encoder()
    others = [c for c in model.input_columns() if c not in (model.text_col, model.pair_col)]
    table = model_table(model, ["warm up"], ["warm up"] if model.pair_col else None,
                        [dict.fromkeys(others)] if others else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.predict_proba(table)


def usage(model: Any, table: Any, texts_only: bool = False) -> tuple[int, int]:
    """(tokens, texts over the budget) the model reads for ``table``, or for its texts alone
    (``texts_only``: as the embedding endpoints read them)."""
    return model.count_tokens(table[model.text_col]) if texts_only else model.usage(table)


def model_info(name: str, model: Any) -> dict[str, Any]:
    """What ``GET /v1/models`` says of a model, from its config.json: OpenAI's four fields
    (``id``, ``object``, ``created``, ``owned_by``), then bertclf's."""
    from datetime import datetime

    config = getattr(model, "config", None) or {}
    columns = model.input_columns()
    try:
        created = int(datetime.fromisoformat(str(config.get("created"))).timestamp())
    except ValueError:
        created = 0
    return {"id": name, "object": "model", "created": created, "owned_by": "bertclf",
            "name": name, "kind": config.get("kind"), "task": model.task, "approach": config.get("approach"),
            "labels": [str(c) for c in model.classes_], "inputs": columns,
            "text_column": model.text_col, "pair_column": model.pair_col,
            "metadata_columns": [c for c in columns if c not in (model.text_col, model.pair_col)],
            "encoder": (config.get("embedder") or {}).get("model"), "metrics": config.get("metrics"),
            "format_version": config.get("format_version"), "bertclf_version": config.get("bertclf_version")}
