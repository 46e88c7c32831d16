"""A ``TextClassifier`` to and from its model folder: config.json says what the model is (kind,
task, columns, settings) and lists its parts; each part writes and reads its own files
(``io.parts``). Format 1 folders (bertclf 0.1) are read through ``io.modelio.parts_of``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.classify.calibration import Calibrator
from bertclf.classify.choices import APPROACH, EMBEDDER_KEYS, FEATURES, SCALINGS
from bertclf.classify.features import ExtraEmbeddings, MetaEncoder
from bertclf.classify.guide import TextGuide
from bertclf.classify.heads import Head
from bertclf.classify.tfidf import Standardizer, TfidfFeatures
from bertclf.encode import sources as models
from bertclf.encode.embedder import Embedder
from bertclf.errors import InputError, ModelLoadError
from bertclf.io.modelio import (
    ENCODER_FOLDER,
    embedder_config,
    model_config,
    parts_of,
    read_model_folder,
    write_model_folder,
)
from bertclf.io.parts import load_parts, save_parts

# What a model folder holds beside config.json: each slot's class saves and loads itself (io.parts).
PARTS = {"head": Head, "tfidf": TfidfFeatures, "scaler": Standardizer, "meta": MetaEncoder,
         "extra": ExtraEmbeddings, "guide": TextGuide, "calibration": Calibrator}


def save_model(model: Any, path: str | os.PathLike[str], metrics: dict[str, Any] | None = None,
               label_columns: dict[str, Any] | None = None) -> None:
    """Write the model folder atomically: config.json, then each part's own files (no pickle)."""
    s = model.embedder_.settings()
    parts, files = save_parts({slot: getattr(model, f"{slot}_", None) for slot in PARTS})
    config = model_config(
        embedder=embedder_config(model.embedder_, models.portable_spec(s.source)),
        encoder={"resolved_from": str(s.source.location), "hidden_size": s.hidden_size,
                 "num_layers": s.num_layers, "embedding_dim": s.dim},
        head={"name": model.head_.name, "C": model.C_,
              "C_chosen": "by cross-validation" if model.C == "auto" else "given",
              "class_weight": model.class_weight, "params": model.head_params or {},
              "random_state": model.random_state},
        labels=model.classes_.tolist(), training=model.training_, metrics=metrics,
        approach=APPROACH[model.features],
        multilabel=model.multilabel_, thresholds=getattr(model, "thresholds_", None),
        inputs={"text_col": model.text_col, "pair_col": model.pair_col, "join_on": model.join_on,
                "labels": label_columns},
        parts=parts)
    config["features"] = {"kind": model.features, "tfidf": model.tfidf_.kind if model.tfidf_ else None,
                          "scaling": model.scaling}
    write_model_folder(path, config, files)


def load_model(cls: Any, path: str | os.PathLike[str], **embedder_options: Any) -> Any:
    """Load a saved model folder (format 2, or 1 as written by bertclf 0.1); ``embedder_options``
    set runtime choices such as device, batch_size or progress (not the settings the head was
    trained on)."""
    clashing = set(embedder_options) & set(EMBEDDER_KEYS)
    if clashing:
        raise InputError(f"cannot change {', '.join(sorted(clashing))} of a trained model")
    config, files = read_model_folder(path)
    try:
        saved, labels = config["embedder"], config["labels"]
        multilabel = config.get("task", "single-label") == "multi-label"
        if not isinstance(labels, list) or len(set(map(repr, labels))) != len(labels) \
                or len(labels) < (1 if multilabel else 2):
            raise ValueError("'labels' must list distinct labels (two or more for one label per text)")
        folder = (config.get("encoder") or {}).get("folder")
        if folder is not None:  # a fine-tuned encoder, stored inside the model folder
            if folder != ENCODER_FOLDER:
                raise ValueError(f"unexpected encoder folder {folder!r}")
            saved = {**saved, "model": str(Path(path).resolve() / folder)}
        embedder = Embedder(**{k: saved[k] for k in EMBEDDER_KEYS if k in saved}, **embedder_options)
        parts = load_parts(parts_of(config), files, PARTS)
        head, tfidf = parts["head"], parts.get("tfidf")
        meta, extra = parts.get("meta"), parts.get("extra")
        if config["head"]["name"] != head.name:
            raise ValueError(f"unknown head {config['head']['name']!r} (the weights are {head.name}'s)")
        if head.n_classes != len(labels) or head.multilabel != multilabel:
            task = "multi-label" if multilabel else "single-label"
            raise ValueError(f"the head was trained for {head.n_classes} labels ({head.task}), but "
                             f"{len(labels)} labels ({task}) are listed")
        shape = config.get("features") or {"kind": "embedding", "scaling": "none"}
        if shape["kind"] not in FEATURES or shape["scaling"] not in SCALINGS:
            raise ValueError(f"unknown features {shape['kind']!r} or scaling {shape['scaling']!r}")
        head.check((embedder.settings().dim if shape["kind"] != "tfidf" else 0)
                   + (tfidf.dim if tfidf else 0) + (meta.dim if meta else 0)
                   + (extra.vectors.shape[1] if extra else 0))
        thresholds = np.asarray(config["thresholds"], dtype=np.float64) if multilabel else None
        if thresholds is not None and thresholds.shape != (len(labels),):
            raise ValueError("one threshold per label is needed")
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelLoadError(f"{path}: config.json does not match the model ({detail}); "
                             f"was it edited?") from None
    head_info, schema, calibration = config["head"], config.get("inputs") or {}, parts.get("calibration")
    model = cls(embedder=embedder, head=head.name, C=head_info.get("C", 1.0),
                class_weight=head_info.get("class_weight"), head_params=head_info.get("params") or None,
                random_state=head_info.get("random_state"), text_col=schema.get("text_col", "text"),
                pair_col=schema.get("pair_col"), meta_cols=meta.columns if meta else None,
                join_on=schema.get("join_on"), calibrate=calibration.method if calibration else None,
                features=shape["kind"], tfidf=tfidf.kind if tfidf else "word",
                scaling=shape["scaling"])
    model.embedder_, model.C_, model.multilabel_ = clone(embedder), model.C, multilabel
    for slot in PARTS:
        setattr(model, f"{slot}_", parts.get(slot))
    if multilabel:
        model.thresholds_ = thresholds
    model.classes_ = np.asarray(labels)
    model.label_columns_ = schema.get("labels")
    model.training_ = config.get("training") or {}
    model.metrics_ = config.get("metrics")
    return model
