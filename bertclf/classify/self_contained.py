"""``bertclf export``: make a model folder self-contained, adding its encoder's ONNX graph and
tokenizer (a copy of the folder, or the folder itself, replaced atomically). Needs the training
stack, which reads the encoder the folder names; the result then predicts where only the runtime
is installed."""

from __future__ import annotations

import os
from typing import Any

from bertclf.encode.shipped import QUANTIZATION
from bertclf.errors import SpecError


def export(path: str | os.PathLike[str], out: str | os.PathLike[str],
           backend: str = "onnx-int8") -> dict[str, Any]:
    """Write ``out``: the model folder at ``path`` plus its encoder as ``backend`` runs it
    (``onnx-int8``, the default CPU path, or ``onnx``, fp32). Everything else is copied as it is,
    checksums verified on the way. Returns what was written: sizes in bytes and the graph's kind."""
    from bertclf.classify.classifier import TextClassifier
    from bertclf.classify.persist import ship_encoder
    from bertclf.io.modelio import parts_of, read_model_folder, write_model_folder
    from bertclf.io.part_files import save_parts

    if backend not in QUANTIZATION:
        raise SpecError(f"unknown backend {backend!r}: a shipped encoder runs on {' or '.join(QUANTIZATION)}")
    model = TextClassifier.load(path, backend=backend, progress=False)
    config, files = read_model_folder(path)
    parts = dict(parts_of(config))  # a format-1 folder's parts, listed as format 2 lists them
    for name in parts.pop("encoder", {}).get("files", []):
        files.pop(name, None)  # an older shipped encoder is replaced
    if model.features != "tfidf":
        shipped = ship_encoder(model.embedder_, strict=True)
        entry, shipped_files = save_parts({"encoder": shipped})
        parts.update(entry)
        files.update(shipped_files)
    config = {k: v for k, v in config.items() if k not in ("format", "format_version", "files")}
    config["parts"] = parts
    write_model_folder(out, config, files)
    return {"model": str(path), "out": str(out), "bytes": sum(len(b) for b in files.values()),
            "encoder": model.features != "tfidf" and QUANTIZATION[backend],
            "encoder_bytes": sum(len(b) for n, b in files.items() if n in ("encoder.onnx", "tokenizer.json"))}
