"""What a model folder holds, read and checked once for the full install and the runtime alike.

``PARTS`` names the class behind each slot of config.json's ``parts`` (each saves and loads itself,
see ``io.part_files``); ``read_folder`` reads a folder, verifies every checksum, rebuilds the parts and
checks that the config agrees with them (label count, task, feature widths). Nothing here imports
scikit-learn, scipy, pandas or torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertclf.classify.calibration import Calibrator
from bertclf.classify.features import ExtraEmbeddings, MetaEncoder
from bertclf.classify.heads import Head
from bertclf.classify.sentence_guide import TextGuide
from bertclf.classify.settings import FEATURES, SCALINGS
from bertclf.classify.tfidf import Standardizer, TfidfFeatures
from bertclf.encode.shipped import GRAPH_FILE, ShippedEncoder
from bertclf.errors import ModelLoadError
from bertclf.io.modelio import is_encoder_file, parts_of, read_model_folder
from bertclf.io.part_files import load_parts

# What a model folder holds beside config.json: each slot's class saves and loads itself (io.part_files).
# "encoder" is the shipped ONNX graph and tokenizer of a self-contained folder.
PARTS = {"head": Head, "tfidf": TfidfFeatures, "scaler": Standardizer, "meta": MetaEncoder,
         "extra": ExtraEmbeddings, "guide": TextGuide, "calibration": Calibrator, "encoder": ShippedEncoder}


@dataclass
class Folder:
    """A verified model folder: its config, its parts, and what they say about the task."""

    config: dict[str, Any]
    parts: dict[str, Any]
    labels: list[Any]
    multilabel: bool
    thresholds: np.ndarray | None
    shape: dict[str, Any]  # config.json's "features": kind and scaling
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def self_contained(self) -> bool:
        return self_contained(self.config)


def self_contained(config: dict[str, Any]) -> bool:
    """Whether a folder predicts with what it holds: a shipped encoder, or none needed (TF-IDF)."""
    return "encoder" in (config.get("parts") or {}) or (config.get("features") or {}).get("kind") == "tfidf"


def read_folder(path: str | os.PathLike[str], embedding_dim: Callable[[dict[str, Any]], int] | None = None,
                encoder_files: bool = True) -> Folder:
    """Read and check a model folder. ``embedding_dim`` gives, from config.json, the width of the
    caller's encoder (None: the shipped encoder's, else the one config.json records); without
    ``encoder_files`` a fine-tuned encoder's weights are not read (the runtime runs the shipped
    graph instead) and the shipped graph is checked but left on disk for ONNX Runtime to map.
    Problems are one ModelLoadError."""
    config, files = read_model_folder(path, None if encoder_files else is_encoder_file,
                                      None if encoder_files else GRAPH_FILE.__eq__)
    try:
        labels = config["labels"]
        multilabel = config.get("task", "single-label") == "multi-label"
        if not isinstance(labels, list) or len(set(map(repr, labels))) != len(labels) \
                or len(labels) < (1 if multilabel else 2):
            raise ValueError("'labels' must list distinct labels (two or more for one label per text)")
        parts = load_parts(parts_of(config), files, PARTS)
        head, tfidf = parts["head"], parts.get("tfidf")
        meta, extra, shipped = parts.get("meta"), parts.get("extra"), parts.get("encoder")
        if config["head"]["name"] != head.name:
            raise ValueError(f"unknown head {config['head']['name']!r} (the weights are {head.name}'s)")
        if head.n_classes != len(labels) or head.multilabel != multilabel:
            task = "multi-label" if multilabel else "single-label"
            raise ValueError(f"the head was trained for {head.n_classes} labels ({head.task}), but "
                             f"{len(labels)} labels ({task}) are listed")
        shape = config.get("features") or {"kind": "embedding", "scaling": "none"}
        if shape["kind"] not in FEATURES or shape["scaling"] not in SCALINGS:
            raise ValueError(f"unknown features {shape['kind']!r} or scaling {shape['scaling']!r}")
        if shape["kind"] == "tfidf":
            dim = 0
        elif embedding_dim is not None:
            dim = embedding_dim(config)
        else:
            dim = shipped.settings().dim if shipped else int(config["encoder"]["embedding_dim"])
        head.check(dim + (tfidf.dim if tfidf else 0)
                   + (meta.dim if meta else 0) + (extra.vectors.shape[1] if extra else 0))
        thresholds = np.asarray(config["thresholds"], dtype=np.float64) if multilabel else None
        if thresholds is not None and thresholds.shape != (len(labels),):
            raise ValueError("one threshold per label is needed")
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelLoadError(f"{path}: config.json does not match the model ({detail}); "
                             f"was it edited?") from None
    return Folder(config, parts, labels, multilabel, thresholds, shape, config.get("inputs") or {})
