"""``TextClassifier``: texts in, labels out; a head (logreg, svm, xgboost, mlp) on frozen embeddings.

It is a scikit-learn classifier, so ``clone``, ``Pipeline`` and ``GridSearchCV`` work, with the
embedder's settings searchable as ``embedder__pooling`` and so on. Embeddings are kept in a
per-process memo keyed by the embedder's settings, so a grid search over heads and C, or the folds
of a cross-validation, embed each text once per embedder setting rather than once per fit.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from . import __version__, models
from .backends import resolve_device
from .data import encode_labels
from .embedder import Embedder, as_text_list
from .errors import InputError, ModelLoadError
from .heads import LOADABLE_HEADS, Head, check_head_params, fit_head
from .modelio import ENCODER_FOLDER, read_model_folder, write_model_folder
from .textio import clean_texts

EMBEDDER_KEYS = ("model", "pooling", "layers", "layer_agg", "max_length", "normalize")


class EmbeddingMemo:
    """Vectors already computed in this process, per embedder setting, up to ``max_bytes``."""

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self.groups: OrderedDict[tuple[Any, ...], dict[str, np.ndarray]] = OrderedDict()
        self.nbytes = 0
        self.computed = 0  # texts actually sent to the encoder (tests and curiosity)

    def embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        s = embedder.settings()
        key = (s.source, s.pooling, s.layers, s.layer_agg, s.max_length, s.normalize,
               embedder.backend, resolve_device(embedder.device))
        group = self.groups.setdefault(key, {})
        self.groups.move_to_end(key)
        todo = list(dict.fromkeys(t for t in texts if t not in group))
        if todo:
            vectors = embedder.encode_texts(todo)
            group.update(zip(todo, vectors, strict=True))
            self.nbytes += vectors.nbytes
            self.computed += len(todo)
        out = np.stack([group[t] for t in texts]) if texts else np.empty((0, s.dim), np.float32)
        while self.nbytes > self.max_bytes and self.groups:
            _, dropped = self.groups.popitem(last=False)  # least recently used first, this one last
            self.nbytes -= sum(v.nbytes for v in dropped.values())
        return out

    def clear(self) -> None:
        self.groups.clear()
        self.nbytes = 0


memo = EmbeddingMemo()


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A classifier head on frozen BERT embeddings.

    Parameters
    ----------
    embedder: the ``Embedder`` that turns texts into vectors; None means ``Embedder()`` (the
        bundled model with its own pooling).
    head: "logreg" (logistic regression), "svm" (linear SVM with Platt-scaled probabilities),
        "xgboost" (gradient-boosted trees; needs xgboost-cpu) or "mlp" (one hidden layer).
    C: inverse regularisation strength for logreg and svm; the mlp's L2 penalty is 1e-4 / C;
        xgboost ignores it.
    class_weight: None or "balanced" (weights classes inversely to their frequency).
    head_params: extra keyword arguments for the underlying estimator (e.g. {"max_depth": 4}).
    random_state: seed for every random choice in the head.
    reuse_embeddings: keep vectors in this process's memo so refits and grid searches embed
        each text once per embedder setting.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        head: str = "logreg",
        C: float = 1.0,
        class_weight: str | None = None,
        head_params: dict[str, Any] | None = None,
        random_state: int | None = 13,
        reuse_embeddings: bool = True,
    ) -> None:
        self.embedder = embedder
        self.head = head
        self.C = C
        self.class_weight = class_weight
        self.head_params = head_params
        self.random_state = random_state
        self.reuse_embeddings = reuse_embeddings

    # -- scikit-learn API -------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> TextClassifier:
        """Embed X and fit the head on (vectors, y); labels may be strings or numbers."""
        check_head_params(self.head, self.C, self.class_weight)
        embedder = clone(self.embedder) if self.embedder is not None else Embedder()
        embedder.settings()  # a bad pooling or layer spec fails before any work
        texts = clean_texts(as_text_list(X), strict=embedder.strict)
        if len(texts) != len(y):
            raise InputError(f"got {len(texts)} texts but {len(y)} labels")
        classes, y_index = encode_labels(y)
        start = time.perf_counter()
        vectors = self._embed(embedder, texts)
        embedded = time.perf_counter()
        self.head_ = fit_head(self.head, vectors, y_index, len(classes), C=self.C,
                              class_weight=self.class_weight, params=self.head_params,
                              random_state=self.random_state)
        self.classes_ = classes
        self.embedder_ = embedder
        self.training_ = {
            "texts": len(texts),
            "class_counts": {str(c): int(n) for c, n in zip(classes, np.bincount(y_index), strict=True)},
            "embed_seconds": round(embedded - start, 3),
            "head_seconds": round(time.perf_counter() - embedded, 3),
        }
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class in ``classes_`` order, shape (n, n_classes)."""
        check_is_fitted(self, "head_")
        texts = clean_texts(as_text_list(X), strict=self.embedder_.strict)
        return self.head_.predict_proba(self._embed(self.embedder_, texts))

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def transform(self, X: Any) -> np.ndarray:
        """The embeddings the head sees (handy for plots and nearest neighbours)."""
        check_is_fitted(self, "head_")
        return self._embed(self.embedder_, clean_texts(as_text_list(X), strict=self.embedder_.strict))

    def _embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        return memo.embed(embedder, texts) if self.reuse_embeddings else embedder.encode_texts(texts)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # -- saving and loading ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], metrics: dict[str, Any] | None = None) -> None:
        """Write the model folder atomically: config.json plus the head's weights (no pickle)."""
        check_is_fitted(self, "head_")
        s = self.embedder_.settings()
        config = model_config(
            embedder={"model": models.portable_spec(s.source), "pooling": s.pooling, "layers": list(s.layers),
                      "layer_agg": s.layer_agg, "max_length": s.max_length, "normalize": s.normalize},
            encoder={"resolved_from": str(s.source.location), "hidden_size": s.hidden_size,
                     "num_layers": s.num_layers, "embedding_dim": s.dim},
            head={"name": self.head_.name, "file": self.head_.filename, "C": self.C,
                  "class_weight": self.class_weight, "params": self.head_params or {},
                  "random_state": self.random_state},
            labels=self.classes_.tolist(), training=self.training_, metrics=metrics, approach="frozen")
        write_model_folder(path, config, {self.head_.filename: self.head_.to_bytes()})

    @classmethod
    def load(cls, path: str | os.PathLike[str], **embedder_options: Any) -> TextClassifier:
        """Load a saved model folder; ``embedder_options`` set runtime choices such as
        device, batch_size or progress (not the settings the head was trained on)."""
        clashing = set(embedder_options) & set(EMBEDDER_KEYS)
        if clashing:
            raise InputError(f"cannot change {', '.join(sorted(clashing))} of a trained model")
        config, files = read_model_folder(path)
        try:
            saved, head_info, labels = config["embedder"], config["head"], config["labels"]
            if not isinstance(labels, list) or len(set(map(repr, labels))) != len(labels) or len(labels) < 2:
                raise ValueError("'labels' must list two or more distinct labels")
            if head_info["name"] not in LOADABLE_HEADS or head_info["file"] not in files:
                raise ValueError(f"unknown head {head_info['name']!r} or file {head_info['file']!r}")
            folder = (config.get("encoder") or {}).get("folder")
            if folder is not None:  # a fine-tuned encoder, stored inside the model folder
                if folder != ENCODER_FOLDER:
                    raise ValueError(f"unexpected encoder folder {folder!r}")
                saved = {**saved, "model": str(Path(path).resolve() / folder)}
            embedder = Embedder(**{k: saved[k] for k in EMBEDDER_KEYS}, **embedder_options)
            head = Head.from_bytes(head_info["name"], len(labels), files[head_info["file"]])
            head.check(embedder.settings().dim)
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ModelLoadError(f"{path}: config.json does not match the model ({detail}); "
                                 f"was it edited?") from None
        model = cls(embedder=embedder, head=head.name, C=head_info.get("C", 1.0),
                    class_weight=head_info.get("class_weight"), head_params=head_info.get("params") or None,
                    random_state=head_info.get("random_state"))
        model.head_, model.embedder_ = head, clone(embedder)
        model.classes_ = np.asarray(labels)
        model.training_ = config.get("training") or {}
        model.metrics_ = config.get("metrics")
        return model

    from_pretrained = load  # Hugging Face habits
    save_pretrained = save


def model_config(embedder: dict[str, Any], encoder: dict[str, Any], head: dict[str, Any], labels: list[Any],
                 training: dict[str, Any], metrics: dict[str, Any] | None, approach: str) -> dict[str, Any]:
    """The readable part of a model folder's config.json, shared by frozen and fine-tuned models."""
    return {
        "bertclf_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": "single-label",
        "approach": approach,
        "embedder": embedder,
        "encoder": encoder,
        "head": head,
        "labels": labels,
        "training": training,
        "metrics": metrics,
    }
