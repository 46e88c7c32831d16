"""``TextClassifier``: texts in, labels out; a head (logreg, svm, xgboost, mlp) on frozen embeddings.

Beyond one short text and one label: several labels per text (one-vs-rest heads with per-label
thresholds tuned on a validation split), sentence pairs, long texts (see ``Embedder.long``; the
``guide`` strategy is learned here, from the labels), and metadata columns or precomputed
vectors joined by key, concatenated with the text embedding before the head.

It is a scikit-learn classifier, so ``clone``, ``Pipeline`` and ``GridSearchCV`` work, with the
embedder's settings searchable as ``embedder__pooling`` and so on. Embeddings are kept in a
per-process memo (``encode.memory_cache``) keyed by the embedder's settings, so a grid search
over heads and C, or the folds of a cross-validation, embed each text once per embedder setting
rather than once per fit.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from bertclf.classify.assembly import assemble, fit_scaler
from bertclf.classify.auto_c import TUNED_HEADS, choose_C
from bertclf.classify.calibration import Calibrator, check_method, out_of_fold_proba
from bertclf.classify.compatibility import why_unsupported
from bertclf.classify.explain import DEFAULT_K, Explanation
from bertclf.classify.features import ExtraEmbeddings, MetaEncoder
from bertclf.classify.heads import check_head_params, fit_head, fit_multilabel_head
from bertclf.classify.sentence_guide import TextGuide
from bertclf.classify.settings import (
    DEFAULT_C,
    DEFAULT_FEATURES,
    DEFAULT_SCALING,
    FEATURES,
    SCALINGS,
)
from bertclf.classify.tfidf import TfidfFeatures, check_kind, tfidf_texts
from bertclf.classify.thresholds import check_thresholds, fixed_thresholds, tune_thresholds
from bertclf.encode.embedder import Embedder
from bertclf.encode.inputs import split_inputs, table_inputs
from bertclf.encode.memory_cache import memo
from bertclf.errors import BertclfWarning, InputError, SpecError
from bertclf.io.files import clean_texts
from bertclf.io.labels import encode_labels, encode_multilabel, is_multilabel, report_label_counts


@dataclass
class Inputs:
    """What one batch of rows gives the model: texts, second texts of pairs, the table for
    metadata columns and join keys."""

    texts: list[str]
    pairs: list[str] | None
    table: Any | None


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A classifier head on frozen BERT embeddings.

    Parameters
    ----------
    embedder: the ``Embedder`` that turns texts into vectors; None means ``Embedder()`` (the
        bundled model with its own pooling). Its ``long`` setting says how long texts are read.
    head: "logreg" (logistic regression), "svm" (linear SVM with Platt-scaled probabilities),
        "xgboost" (gradient-boosted trees; needs xgboost-cpu) or "mlp" (one hidden layer).
    C: inverse regularisation strength for logreg and svm; the mlp's L2 penalty is 1e-4 / C;
        xgboost ignores it.
    class_weight: None or "balanced" (weights classes inversely to their frequency).
    head_params: extra keyword arguments for the underlying estimator (e.g. {"max_depth": 4}).
    random_state: seed for every random choice in the head.
    reuse_embeddings: keep vectors in this process's memo so refits and grid searches embed
        each text once per embedder setting.
    text_col, pair_col: when X is a DataFrame, the column of texts and (for sentence pairs) of
        second texts; X may also be a list of texts or of (text, pair) tuples.
    meta_cols: DataFrame columns fused with the text embedding (numbers standardised,
        categories one-hot or hashed, gaps imputed).
    extra_embeddings, join_on: a table (file or DataFrame) of vectors keyed by column
        ``join_on``, looked up by X's column of that name and fused too.
    thresholds: multi-label only: "tune" picks each label's cut-off on a validation split of
        ``val_fraction`` of the training rows (maximising its F1), a number fixes one for all, a
        mapping gives each label its own (``train --auto`` passes those it tuned out of fold).
    calibrate: None, "sigmoid" or "isotonic": map the head's probabilities through calibrators
        fitted on 5-fold out-of-fold probabilities of the same head (one label per text only).
    features: what the head reads: "embedding" (frozen BERT vectors), "tfidf" (sparse TF-IDF
        n-grams; no encoder is run at all) or "hybrid" (both side by side, the standardised
        embedding scaled to the TF-IDF rows' unit length so neither drowns the other).
    tfidf: the TF-IDF n-grams of "tfidf" and "hybrid": "word" (uni- and bigrams) or "word+char"
        (plus character 2- to 5-grams).
    scaling: "standard" standardises each embedding dimension with the training mean and spread
        before the head (stored with the model), "l2" scales each vector to unit length, "none"
        feeds the vectors as the embedder gives them. Hybrids always standardise.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        head: str = "logreg",
        C: float | str = DEFAULT_C,
        class_weight: str | None = None,
        head_params: dict[str, Any] | None = None,
        random_state: int | None = 13,
        reuse_embeddings: bool = True,
        text_col: str = "text",
        pair_col: str | None = None,
        meta_cols: list[str] | None = None,
        extra_embeddings: Any = None,
        join_on: str | None = None,
        thresholds: str | float | Mapping[str, float] = "tune",
        val_fraction: float = 0.2,
        calibrate: str | None = None,
        features: str = DEFAULT_FEATURES,
        tfidf: str = "word",
        scaling: str = DEFAULT_SCALING,
    ) -> None:
        self.embedder = embedder
        self.head = head
        self.C = C
        self.class_weight = class_weight
        self.head_params = head_params
        self.random_state = random_state
        self.reuse_embeddings = reuse_embeddings
        self.text_col = text_col
        self.pair_col = pair_col
        self.meta_cols = meta_cols
        self.extra_embeddings = extra_embeddings
        self.join_on = join_on
        self.thresholds = thresholds
        self.val_fraction = val_fraction
        self.calibrate = calibrate
        self.features = features
        self.tfidf = tfidf
        self.scaling = scaling

    # -- scikit-learn API -------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> TextClassifier:
        """Embed X and fit the head on (vectors, y). Labels may be strings or numbers; several
        labels per text come as a 0/1 matrix or DataFrame, or as a list of label lists."""
        check_head_params(self.head, 1.0 if self.C == "auto" else self.C, self.class_weight)
        self.check_params()
        embedder = clone(self.embedder) if self.embedder is not None else Embedder()
        embedder.settings()  # a bad pooling or layer spec fails before any work
        self.embedder_ = embedder
        inputs = self._inputs(X, "training data")
        if len(inputs.texts) != len(y):
            raise InputError(f"got {len(inputs.texts)} texts but {len(y)} labels")
        self.multilabel_ = is_multilabel(y)
        why = why_unsupported("head", self, self.multilabel_)
        if why:
            raise SpecError(why)
        if self.multilabel_:
            classes, target = encode_multilabel(y)
            report_label_counts(target, classes, "training labels")
        else:
            classes, target = encode_labels(y)
        self.guide_ = None
        if embedder.long == "guide":
            if inputs.pairs is not None:
                raise SpecError("--long guide selects sentences of single texts, not of sentence pairs")
            self.guide_ = TextGuide().fit(inputs.texts, target)
        self.meta_ = MetaEncoder(list(self.meta_cols)).fit(inputs.table) if self.meta_cols else None
        self.extra_ = ExtraEmbeddings.read(self.extra_embeddings, self.join_on, embedder.strict) \
            if self.extra_embeddings is not None else None
        start = time.perf_counter()
        self.tfidf_ = TfidfFeatures.fit(self.tfidf, self._tfidf_texts(inputs)) \
            if self.features != "embedding" else None
        vectors = self._embed(inputs) if self.features != "tfidf" else None
        self.scaler_ = fit_scaler(vectors, self.features, self.scaling)
        features = self._assemble(inputs, vectors, "training data")
        embedded = time.perf_counter()
        self.C_ = self.C
        if self.C == "auto":
            self.C_ = 1.0 if self.multilabel_ or self.head not in TUNED_HEADS else choose_C(
                self.head, features, target, len(classes), self.class_weight, self.head_params,
                self.random_state)
        options = {"C": self.C_, "class_weight": self.class_weight, "params": self.head_params,
                   "random_state": self.random_state}
        if self.multilabel_:
            self.thresholds_ = self._thresholds(features, target, options, classes)
            self.head_ = fit_multilabel_head(self.head, features, target, **options)
            counts = target.sum(axis=0)
        else:
            self.head_ = fit_head(self.head, features, target, len(classes), **options)
            counts = np.bincount(target)
        self.calibration_ = None
        if self.calibrate:
            held_out = out_of_fold_proba(lambda f, t: fit_head(self.head, f, t, len(classes), **options),
                                         features, target, len(classes), self.random_state)
            self.calibration_ = Calibrator.fit(self.calibrate, held_out, target)
        self.classes_ = classes
        self.training_ = {
            "texts": len(inputs.texts),
            "class_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
            "embed_seconds": round(embedded - start, 3),
            "head_seconds": round(time.perf_counter() - embedded, 3),
            "C": self.C_,
        }
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class in ``classes_`` order, shape (n, n_classes); for multi-label
        models, each label's own probability."""
        check_is_fitted(self, "head_")
        inputs = self._inputs(X)
        if not inputs.texts:  # an empty file is an empty answer, not an error
            return np.zeros((0, len(self.classes_)))
        proba = self.head_.predict_proba(self._features(inputs))
        calibration = getattr(self, "calibration_", None)
        return calibration.apply(proba) if calibration is not None else proba

    def predict(self, X: Any) -> np.ndarray:
        """Labels; for multi-label models an (n, n_labels) 0/1 matrix, as scikit-learn does."""
        proba = self.predict_proba(X)
        if getattr(self, "multilabel_", False):
            return (proba >= self.thresholds_).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    def explain(self, X: Any, k: int = DEFAULT_K, method: str = "auto") -> list[list[Explanation]]:
        """Per text, the ``k`` words that pushed most toward each predicted label and against it,
        as ``runtime.Model.explain`` gives them (``method`` "auto" or "occlusion" here: "tokens"
        and "guided" read the runtime's encoder)."""
        from bertclf.classify.explaining import explain_classifier

        check_is_fitted(self, "head_")
        return explain_classifier(self, X, k, method)

    def transform(self, X: Any) -> np.ndarray:
        """The features the head sees: embeddings, then any metadata (handy for plots)."""
        check_is_fitted(self, "head_")
        return self._features(self._inputs(X))

    def vectors(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """The embedder's vectors of ``texts``, as ``runtime.Model.vectors`` gives them (the HTTP
        service's embedding endpoints call either)."""
        check_is_fitted(self, "head_")
        if self.features == "tfidf":
            raise SpecError("this model reads TF-IDF n-grams only: it has no encoder to embed with")
        return self.embedder_.encode_texts(clean_texts(texts, strict=self.embedder_.strict), pairs)

    def embed(self, texts: list[str], pairs: list[str] | None = None) -> tuple[np.ndarray, int]:
        """(vectors, tokens read), as ``runtime.Model.embed``."""
        return self.vectors(texts, pairs), self.count_tokens(texts, pairs)[0]

    def count_tokens(self, texts: list[str], pairs: list[str] | None = None) -> tuple[int, int]:
        """(tokens the encoder reads, texts over its budget); a TF-IDF model reads none: (0, 0)."""
        check_is_fitted(self, "head_")
        if self.features == "tfidf" or not texts:
            return 0, 0
        from bertclf.encode import sources as models
        from bertclf.encode.tokenization import encode

        s = self.embedder_.settings()
        encoded = encode(models.load_tokenizer(s.source), clean_texts(texts, strict=self.embedder_.strict),
                         s.max_length, pairs=pairs, long=s.long)
        return int(encoded.lengths().sum()), encoded.truncated

    def usage(self, X: Any) -> tuple[int, int]:
        """``count_tokens`` for X as ``predict_proba`` reads it (what a server reports)."""
        inputs = self._inputs(X)
        return self.count_tokens(inputs.texts, inputs.pairs)

    def load_encoder(self) -> None:
        """Load the encoder now rather than at the first text (timing, servers)."""
        check_is_fitted(self, "head_")
        if self.features != "tfidf":
            self.embedder_.load_encoder()

    def check_params(self) -> None:
        """Refuse bad multi-label and join settings before any embedding is done."""
        check_thresholds(self.thresholds)
        check_method(self.calibrate)
        if self.features not in FEATURES:
            raise SpecError(f"unknown features {self.features!r}: use one of {', '.join(FEATURES)}")
        check_kind(self.tfidf)
        if self.scaling not in SCALINGS:
            raise SpecError(f"unknown scaling {self.scaling!r}: use one of {', '.join(SCALINGS)}")
        if not 0 < self.val_fraction < 1:
            raise SpecError(f"val_fraction must be between 0 and 1, got {self.val_fraction!r}")
        if (self.extra_embeddings is None) != (self.join_on is None):
            raise SpecError("extra embeddings need a key to join on, and a key needs extra embeddings "
                            "(give both --extra-embeddings and --join-on)")

    def input_texts(self, X: Any) -> list[str]:
        """The texts of X as the model reads them (checked and cleaned)."""
        return self._inputs(X).texts

    def input_columns(self) -> list[str]:
        """The table columns this model reads, texts first."""
        return self.columns().inputs

    def columns(self, **labels: Any) -> Any:
        """This model's input columns as a ``data.Columns``, with the label columns given."""
        from bertclf.io.labels import Columns

        text = labels.pop("text", None) or self.text_col
        return Columns(text=text, pair=self.pair_col, meta=tuple(self.meta_cols or ()), join_on=self.join_on,
                       **labels)

    def table_inputs(self, table: Any, where: str) -> Any:
        """X for ``predict`` from a table: the text column, or the DataFrame of every input."""
        return table_inputs(table, self.input_columns(), where)

    def _inputs(self, X: Any, where: str = "input") -> Inputs:
        """Texts, pairs and the metadata table from X, each checked once."""
        others = (*(self.meta_cols or ()), *([self.join_on] if self.join_on else []))
        return Inputs(*split_inputs(X, self.text_col, self.pair_col, tuple(dict.fromkeys(others)),
                                    self.embedder_.strict, where))

    def _features(self, inputs: Inputs, where: str = "input") -> Any:
        vectors = self._embed(inputs) if self.features != "tfidf" else None
        return self._assemble(inputs, vectors, where)

    def _embed(self, inputs: Inputs) -> np.ndarray:
        """The frozen embedding of each text (from this process's memo when allowed)."""
        embedder, texts = self.embedder_, inputs.texts
        if self.guide_ is not None:
            from bertclf.encode import sources as models

            s = embedder.settings()
            texts = self.guide_.select(texts, models.load_tokenizer(s.source), s.max_length - 2)
            embedder = clone(embedder).set_params(long="truncate")
        if self.reuse_embeddings:
            return memo.embed(embedder, texts, inputs.pairs)
        return embedder.encode_texts(texts, inputs.pairs)

    def _assemble(self, inputs: Inputs, vectors: np.ndarray | None, where: str) -> Any:
        """What the head reads (``assembly.assemble``, shared with the --auto search)."""
        extras = []
        if self.meta_ is not None:
            extras.append(self.meta_.transform(inputs.table, where))
        if self.extra_ is not None:
            extras.append(self.extra_.lookup(inputs.table[self.join_on].tolist(), where))
        words = self.tfidf_.transform(self._tfidf_texts(inputs)) if self.tfidf_ is not None else None
        return assemble(words, vectors, self.scaler_, self.scaling, extras)

    @staticmethod
    def _tfidf_texts(inputs: Inputs) -> list[str]:
        return tfidf_texts(inputs.texts, inputs.pairs)

    def _thresholds(self, features: np.ndarray, target: np.ndarray, options: dict[str, Any],
                    classes: np.ndarray) -> np.ndarray:
        """Per-label cut-offs: fixed, or tuned on a seeded validation split of the training rows."""
        if not isinstance(self.thresholds, str):
            return fixed_thresholds(self.thresholds, classes)
        n_rows = features.shape[0]
        n_val = math.ceil(n_rows * self.val_fraction)
        if n_val < 2 or n_rows - n_val < 2:
            warnings.warn(f"{n_rows} training rows are too few to tune thresholds; using 0.5",
                          BertclfWarning, stacklevel=3)
            return np.full(target.shape[1], 0.5)
        order = np.random.default_rng(self.random_state).permutation(n_rows)
        val, train = order[:n_val], order[n_val:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BertclfWarning)  # constant labels in a part are expected
            head = fit_multilabel_head(self.head, features[train], target[train], **options)
        return tune_thresholds(target[val], head.predict_proba(features[val]))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # -- saving and loading ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], metrics: dict[str, Any] | None = None,
             label_columns: dict[str, Any] | None = None, self_contained: bool = True) -> None:
        """Write the model folder atomically: config.json, then each part's own files (no pickle).
        ``label_columns`` records where the training file kept its labels, so that ``evaluate``
        finds them in a test file without being told again. ``self_contained`` ships the encoder's
        ONNX graph and tokenizer in the folder, so that ``bertclf.runtime`` predicts with it where
        neither torch nor transformers is installed (False: a slim folder, kilobytes)."""
        from bertclf.classify.persist import save_model

        check_is_fitted(self, "head_")
        save_model(self, path, metrics, label_columns, self_contained)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **embedder_options: Any) -> TextClassifier:
        """Load a saved model folder (format 2, or 1 as written by bertclf 0.1); ``embedder_options``
        set runtime choices such as device, batch_size or progress (not the settings the head was
        trained on)."""
        from bertclf.classify.persist import load_model

        return load_model(cls, path, **embedder_options)

    @property
    def task(self) -> str:
        """'single-label' or 'multi-label', as fitted or as config.json says."""
        return "multi-label" if getattr(self, "multilabel_", False) else "single-label"

    from_pretrained = load  # Hugging Face habits
    save_pretrained = save
