"""A ``TextClassifier`` to and from its model folder: config.json says what the model is (kind,
task, columns, settings) and lists its parts; each part writes and reads its own files
(``io.part_files``). Format 1 folders (bertclf 0.1) are read through ``io.modelio.parts_of``."""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.classify.folder import PARTS, read_folder
from bertclf.classify.settings import APPROACH, EMBEDDER_KEYS
from bertclf.encode import sources as models
from bertclf.encode.backends import resolve_backend
from bertclf.encode.embedder import Embedder
from bertclf.encode.onnx_export import ship
from bertclf.encode.shipped import QUANTIZATION, ShippedEncoder
from bertclf.errors import BertclfError, BertclfWarning, InputError, ModelLoadError
from bertclf.io.modelio import (
    ENCODER_FOLDER,
    embedder_config,
    is_encoder_file,
    model_config,
    write_model_folder,
)
from bertclf.io.part_files import save_parts


def save_model(model: Any, path: str | os.PathLike[str], metrics: dict[str, Any] | None = None,
               label_columns: dict[str, Any] | None = None, self_contained: bool = True) -> None:
    """Write the model folder atomically: config.json, then each part's own files (no pickle).
    ``self_contained`` ships the encoder too (its ONNX graph and tokenizer, see
    ``encode.shipped``), so the folder predicts where only the runtime is installed."""
    s = model.embedder_.settings()
    shipped = getattr(model, "encoder_", None)
    if model.features == "tfidf" or not self_contained:
        shipped = None
    elif shipped is None or shipped.settings() != replace(s, source=None):  # re-saved with new settings
        shipped = ship_encoder(model.embedder_)
    saved = {slot: getattr(model, f"{slot}_", None) for slot in PARTS}
    parts, files = save_parts({**saved, "encoder": shipped})
    carried = getattr(model, "carry_encoder_", None)  # a tuned encoder that lives nowhere else
    encoder = {"resolved_from": str(s.source.location), "hidden_size": s.hidden_size,
               "num_layers": s.num_layers, "embedding_dim": s.dim}
    if carried and model.features != "tfidf":
        files.update(encoder_files(carried["folder"]))
        encoder.update(folder=ENCODER_FOLDER, base_model=carried["base_model"])
    config = model_config(
        embedder=embedder_config(model.embedder_, ENCODER_FOLDER if "folder" in encoder
                                 else models.portable_spec(s.source)),
        encoder=encoder,
        head={"name": model.head_.name, "C": model.C_,
              "C_chosen": "by cross-validation" if model.C == "auto" else "given",
              "class_weight": model.class_weight, "params": model.head_params or {},
              "random_state": model.random_state},
        labels=model.classes_.tolist(), training=model.training_, metrics=metrics,
        approach="few-shot" if "few_shot" in model.training_ else APPROACH[model.features],
        multilabel=model.multilabel_, thresholds=getattr(model, "thresholds_", None),
        inputs={"text_col": model.text_col, "pair_col": model.pair_col, "join_on": model.join_on,
                "labels": label_columns},
        parts=parts)
    config["features"] = {"kind": model.features, "tfidf": model.tfidf_.kind if model.tfidf_ else None,
                          "scaling": model.scaling}
    write_model_folder(path, config, files)


def _embedder(config: dict[str, Any], path: str | os.PathLike[str], options: dict[str, Any]) -> Embedder:
    """The Embedder config.json records (a fine-tuned encoder is read from the model folder)."""
    saved = config["embedder"]
    folder = (config.get("encoder") or {}).get("folder")
    if folder is not None:
        if folder != ENCODER_FOLDER:
            raise ModelLoadError(f"{path}: config.json names an unexpected encoder folder {folder!r}")
        saved = {**saved, "model": str(Path(path).resolve() / folder)}
    return Embedder(**{k: saved[k] for k in EMBEDDER_KEYS if k in saved}, **options)


def encoder_files(folder: str | os.PathLike[str]) -> dict[str, bytes]:
    """A Hugging Face encoder folder's weights (safetensors), config and tokenizer files, as
    ``encoder/<name>`` entries of a model folder."""
    found = {f"{ENCODER_FOLDER}/{p.name}": p for p in sorted(Path(folder).iterdir()) if p.is_file()}
    files = {name: p.read_bytes() for name, p in found.items() if is_encoder_file(name)}
    if f"{ENCODER_FOLDER}/model.safetensors" not in files:
        raise ModelLoadError(f"{folder}: the tuned encoder has no model.safetensors to carry")
    return files


def ship_encoder(embedder: Embedder, strict: bool = False) -> ShippedEncoder | None:
    """The embedder's encoder packed for the folder, as the backend it runs on computes (torch's
    vectors are ONNX fp32's to 1e-6); None, with a warning, when it cannot travel (``strict``:
    the error itself)."""
    backend = resolve_backend(embedder.backend, embedder.device, embedder.dtype)
    try:
        return ship(embedder.settings(), backend if backend in QUANTIZATION else "onnx")
    except BertclfError as exc:
        if strict:
            raise
        warnings.warn(f"the model folder is slim (it needs the full install and its encoder to "
                      f"predict): {exc}", BertclfWarning, stacklevel=4)
        return None


def load_model(cls: Any, path: str | os.PathLike[str], **embedder_options: Any) -> Any:
    """Load a saved model folder (format 2, or 1 as written by bertclf 0.1); ``embedder_options``
    set runtime choices such as device, batch_size or progress (not the settings the head was
    trained on)."""
    clashing = set(embedder_options) & set(EMBEDDER_KEYS)
    if clashing:
        raise InputError(f"cannot change {', '.join(sorted(clashing))} of a trained model")
    made = {}

    def embedding_dim(config: dict[str, Any]) -> int:
        made["embedder"] = _embedder(config, path, embedder_options)
        return made["embedder"].settings().dim

    found = read_folder(path, embedding_dim)
    parts, schema = found.parts, found.inputs
    embedder = made.get("embedder") or _embedder(found.config, path, embedder_options)  # TF-IDF only
    head, tfidf, meta = parts["head"], parts.get("tfidf"), parts.get("meta")
    calibration = parts.get("calibration")
    head_info = found.config["head"]
    model = cls(embedder=embedder, head=head.name, C=head_info.get("C", 1.0),
                class_weight=head_info.get("class_weight"), head_params=head_info.get("params") or None,
                random_state=head_info.get("random_state"), text_col=schema.get("text_col", "text"),
                pair_col=schema.get("pair_col"), meta_cols=meta.columns if meta else None,
                join_on=schema.get("join_on"), calibrate=calibration.method if calibration else None,
                features=found.shape["kind"], tfidf=tfidf.kind if tfidf else "word",
                scaling=found.shape["scaling"])
    model.embedder_, model.C_, model.multilabel_ = clone(embedder), model.C, found.multilabel
    for slot in PARTS:
        setattr(model, f"{slot}_", parts.get(slot))
    if found.multilabel:
        model.thresholds_ = found.thresholds
    model.classes_ = np.asarray(found.labels)
    folder = (found.config.get("encoder") or {}).get("folder")
    if folder is not None:  # a tuned encoder of its own: carried again if the model is saved again
        model.carry_encoder_ = {"folder": str(Path(path).resolve() / folder),
                                "base_model": found.config["encoder"].get("base_model")}
    model.label_columns_ = schema.get("labels")
    model.training_ = found.config.get("training") or {}
    model.metrics_ = found.config.get("metrics")
    return model
