"""Embedding Projector export (projector.tensorflow.org, or TensorBoard's projector): vectors.tsv,
metadata.tsv and projector_config.json, written atomically as one folder.

The Projector reads metadata.tsv with a header row when it has more than one column; tabs and
line breaks inside texts would break its rows, so they become spaces, and long texts are cut.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from bertclf.errors import InputError

CONFIG = "projector_config.json"


def check_target(path: str | os.PathLike[str]) -> Path:
    """An output folder that is new, empty, or an earlier export (never anything else)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(f"{target}: folder {target.parent} does not exist")
    ours = target.is_dir() and (not any(target.iterdir()) or (target / CONFIG).exists())
    if target.exists() and not ours:
        raise InputError(f"{target} exists and is not a projector export; choose another --out")
    return target


def _cell(value: Any, width: int) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    text = re.sub(r"[\t\r\n]+", " ", text).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def write_projector(path: str | os.PathLike[str], vectors: np.ndarray, metadata: dict[str, list[Any]],
                    name: str = "bertclf", width: int = 200) -> Path:
    """Write the three files; ``metadata`` maps column names to one value per vector."""
    from bertclf.io.modelio import write_folder

    target = check_target(path)
    lengths = {len(values) for values in metadata.values()}
    if lengths - {len(vectors)}:
        raise InputError(f"metadata columns must have {len(vectors)} values each")
    buffer = io.StringIO()
    np.savetxt(buffer, np.asarray(vectors, dtype=np.float32), delimiter="\t", fmt="%.6g")
    columns = list(metadata)
    rows = [[_cell(metadata[c][i], width) for c in columns] for i in range(len(vectors))]
    lines = (["\t".join(columns)] if len(columns) > 1 else []) + ["\t".join(row) for row in rows]
    config = {"embeddings": [{"tensorName": name, "tensorShape": list(vectors.shape),
                              "tensorPath": "vectors.tsv", "metadataPath": "metadata.tsv"}]}
    return write_folder(target, {"vectors.tsv": buffer.getvalue().encode(),
                                 "metadata.tsv": ("\n".join(lines) + "\n").encode(),
                                 CONFIG: json.dumps(config, indent=2).encode()})
