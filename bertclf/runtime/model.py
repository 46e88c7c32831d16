"""``Model``: a self-contained model folder predicting with numpy, ONNX Runtime and tokenizers only.

It replays what ``TextClassifier`` learned, part by part (``classify.folder``), with the very code
the full install predicts with: the shipped encoder through ``encode.pipeline``, TF-IDF rows as
dense blocks, then metadata, the head and its calibration in numpy. So a folder copied to a
machine with only the runtime installed gives the probabilities it gave where it was trained.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np

from bertclf.classify.assembly import assemble
from bertclf.classify.explain import DEFAULT_K, Explanation
from bertclf.classify.folder import read_folder, self_contained
from bertclf.classify.tfidf import tfidf_texts
from bertclf.encode.inputs import split_inputs, table_inputs
from bertclf.encode.pipeline import embed_encoded
from bertclf.encode.tokenization import (
    Encoded,
    check_long,
    encode,
    report_cut,
)
from bertclf.errors import BertclfWarning, ModelLoadError, SpecError
from bertclf.io.files import clean_texts
from bertclf.io.labels import Columns
from bertclf.progress import progress_bar

BLOCK = 4096  # rows predicted at a time
BATCH_SIZE = 16  # texts per encoder call (ONNX Runtime: see Embedder.batch_size)


class SlimFolderError(ModelLoadError):
    """A model folder saved without its encoder: it predicts only where the training stack is."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        out = f"{os.fspath(path).rstrip('/')}-runtime"
        super().__init__(f"{path} was saved without its encoder (a slim folder), so only the full "
                         f"install predicts with it; make it self-contained where bertclf[train] is "
                         f"installed: bertclf export {path} --out {out}")


class Model:
    """A trained model folder, loaded for prediction only (no training stack needed).

    Parameters
    ----------
    path: a self-contained model folder (``train`` writes one; ``bertclf export`` makes one).
    batch_size: texts per encoder call (None: 16).
    threads: CPU threads (None: every core); the int8 encoder runs this many texts side by side.
    strict: refuse empty or missing texts instead of predicting them as "".
    progress: show a progress bar; None shows one only when stderr is a terminal.

    ``warn_cut`` (True) warns when texts are longer than the encoder's budget; a server turns it
    off and reports the count per request instead (``usage``).
    """

    warn_cut = True

    def __init__(self, path: str | os.PathLike[str], batch_size: int | None = None,
                 threads: int | None = None, strict: bool = False, progress: bool | None = None) -> None:
        folder = read_folder(path, encoder_files=False)
        if not folder.self_contained:
            raise SlimFolderError(path)
        self.path, self.folder = path, folder
        self.batch_size, self.strict, self.progress = batch_size or BATCH_SIZE, strict, progress
        self.encoder = folder.parts.get("encoder") if folder.shape["kind"] != "tfidf" else None
        if self.encoder is not None:
            self.encoder.threads = threads
        schema = folder.inputs
        meta = folder.parts.get("meta")
        self.text_col, self.pair_col = schema.get("text_col", "text"), schema.get("pair_col")
        self.meta_cols, self.join_on = (meta.columns if meta else None), schema.get("join_on")
        self.classes_ = np.asarray(folder.labels)
        self.thresholds_ = folder.thresholds
        self.label_columns_ = schema.get("labels")
        self.features = folder.shape["kind"]

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> Model:
        return cls(path, **options)

    @property
    def task(self) -> str:
        return "multi-label" if self.folder.multilabel else "single-label"

    @property
    def config(self) -> dict[str, Any]:
        return self.folder.config

    def input_columns(self) -> list[str]:
        """The table columns this model reads, texts first (as ``TextClassifier`` lists them)."""
        return Columns(text=self.text_col, pair=self.pair_col, meta=tuple(self.meta_cols or ()),
                       join_on=self.join_on).inputs

    def table_inputs(self, table: Any, where: str) -> Any:
        """X for ``predict_proba`` from a table: the text column, or the table of every input."""
        return table_inputs(table, self.input_columns(), where)

    def load_encoder(self) -> None:
        """Start ONNX Runtime now rather than at the first text (for timing, and servers)."""
        if self.encoder is not None:
            self.encoder.session()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class in ``classes_`` order (multi-label: each label's own)."""
        return self.predict_proba_usage(X)[0]

    def predict_proba_usage(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``predict_proba`` and, per text, [tokens the encoder read, 1 if the text was over its
        budget] (an (n, 2) array; zeros for TF-IDF): a server's usage per request, counted from
        the very tokenization the prediction used rather than tokenizing again."""
        texts, pairs, table = self._split(X)
        out = np.zeros((len(texts), len(self.classes_)))
        used = np.zeros((len(texts), 2), dtype=np.int64)
        if not texts:
            return out, used
        parts = self.folder.parts
        meta, extra = parts.get("meta"), parts.get("extra")
        extras = [*([meta.transform(table)] if meta else []),
                  *([extra.lookup(table[self.join_on].tolist())] if extra else [])]
        cut = 0
        with progress_bar(len(texts) if self.encoder else 0, "predicting", self.progress) as advance:
            for start in range(0, len(texts), BLOCK):  # the Embedder's blocks: the same batches
                rows = slice(start, start + BLOCK)
                vectors = None
                if self.encoder is not None:
                    vectors, encoded, over = self._embed(texts[rows], None if pairs is None else pairs[rows],
                                                         advance)
                    used[rows, 0], used[rows, 1] = encoded.tokens_per_text(len(over)), over
                    cut += encoded.truncated
                out[rows] = self._proba(texts[rows], None if pairs is None else pairs[rows], vectors,
                                        [e[rows] for e in extras])
        if self.encoder is not None and self.warn_cut:
            s = self.encoder.settings()
            report_cut(cut, len(texts), s.max_length, s.long.mode, pairs is not None)
        calibration = parts.get("calibration")
        return (calibration.apply(out) if calibration is not None else out), used

    def explain(self, X: Any, k: int = DEFAULT_K, method: str = "auto") -> list[list[Explanation]]:
        """Per text, why the model gave its label: for each label predicted, the ``k`` words
        that pushed most toward it and the ``k`` most against it, with signed weights
        (``classify.explain``). ``method``: "auto" (exact TF-IDF weights for a TF-IDF model with a
        linear head, else word occlusion), "occlusion", "tokens" (the pooled token vectors'
        shares of the label's log-odds: one encoder pass) or "guided" (occlusion of the words
        the token shares rate strongest). The probabilities are ``predict_proba``'s."""
        from bertclf.runtime.explaining import explain_model

        return explain_model(self, X, k, method)

    def _quiet_proba(self, X: Any) -> np.ndarray:
        """``predict_proba`` without a progress bar or cut warnings (an explanation's many calls)."""
        import warnings

        saved = self.progress, self.warn_cut
        self.progress, self.warn_cut = False, False
        try:
            with warnings.catch_warnings():  # a one-word text occluded is empty: not the user's doing
                warnings.simplefilter("ignore", BertclfWarning)
                return self.predict_proba(X)
        finally:
            self.progress, self.warn_cut = saved

    def _proba(self, texts: list[str], pairs: list[str] | None, vectors: np.ndarray | None,
               extras: list[np.ndarray]) -> np.ndarray:
        """The head's probabilities for one block; TF-IDF rows stay sparse (``classify.sparse``)."""
        parts, shape = self.folder.parts, self.folder.shape
        tfidf = parts.get("tfidf")
        words = tfidf.transform_rows(tfidf_texts(texts, pairs)) if tfidf else None
        features = assemble(words, vectors, parts.get("scaler"), shape["scaling"], extras)
        return parts["head"].predict_proba(features)

    def _split(self, X: Any) -> tuple[list[str], list[str] | None, Any]:
        """(texts, pairs, the table of metadata) from X, checked and cleaned."""
        others = (*(self.meta_cols or ()), *([self.join_on] if self.join_on else []))
        return split_inputs(X, self.text_col, self.pair_col, tuple(dict.fromkeys(others)), self.strict,
                            "input")

    def usage(self, X: Any) -> tuple[int, int]:
        """(tokens the encoder reads, texts over its budget) for X, as ``predict_proba`` would
        read it: what a server reports per request and bounds its batches by."""
        texts, pairs, _ = self._split(X)
        return self.count_tokens(texts, pairs)

    def count_tokens(self, texts: list[str], pairs: list[str] | None = None) -> tuple[int, int]:
        """(tokens, texts over the budget) for texts (and pairs); a TF-IDF model reads none: (0, 0)."""
        if self.encoder is None or not texts:
            return 0, 0
        s = self.encoder.settings()
        encoded = encode(self.encoder.tokenizer, clean_texts(texts, strict=self.strict), s.max_length,
                         pairs=pairs, long=s.long)
        return int(encoded.lengths().sum()), encoded.truncated

    def vectors(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """The encoder's vectors as the head reads them before scaling (the model's pooling,
        layers and normalisation)."""
        return self.vectors_usage(texts, pairs)[0]

    def vectors_usage(self, texts: list[str],
                      pairs: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``vectors`` and, per text, [tokens read, 1 if over the budget], as
        ``predict_proba_usage`` counts them: from the tokenization the vectors came from."""
        if self.encoder is None:
            raise SpecError("this model reads TF-IDF n-grams only: it has no encoder to embed with")
        texts = clean_texts(texts, strict=self.strict)
        if not texts:
            return np.zeros((0, self.encoder.settings().dim), np.float32), np.zeros((0, 2), np.int64)
        vectors, encoded, over = self._embed(texts, pairs, lambda n: None)
        return vectors, np.column_stack([encoded.tokens_per_text(len(texts)), over]).astype(np.int64)

    def embed(self, texts: list[str], pairs: list[str] | None = None) -> tuple[np.ndarray, int]:
        """(vectors, tokens read): ``vectors`` and how many tokens went in."""
        vectors, used = self.vectors_usage(texts, pairs)
        return vectors, int(used[:, 0].sum())

    def predict(self, X: Any) -> np.ndarray:
        """Labels; for multi-label models an (n, n_labels) 0/1 matrix."""
        proba = self.predict_proba(X)
        if self.folder.multilabel:
            return (proba >= self.thresholds_).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    def _embed(self, texts: list[str], pairs: list[str] | None,
               advance: Any) -> tuple[np.ndarray, Encoded, np.ndarray]:
        """(vectors, the token ids read, per text whether it was over the budget)."""
        s, tokenizer, guide = self.encoder.settings(), self.encoder.tokenizer, self.folder.parts.get("guide")
        read = texts
        if guide is not None:  # the guide picks each long text's sentences, then the start is read
            read = guide.select(texts, tokenizer, s.max_length - 2)
            s = replace(s, long=check_long("truncate", s.max_length, s.long.head, s.long.stride, s.long.agg))
        encoded = encode(tokenizer, read, s.max_length, pairs=pairs, long=s.long)
        vectors = embed_encoded(s, tokenizer, self.encoder, encoded, len(read), self.batch_size, advance)
        over = encoded.over
        if guide is not None:  # a text the guide shortened was over the budget
            over = over | np.fromiter((a != b for a, b in zip(read, texts, strict=True)), bool, len(texts))
        return vectors, encoded, over


def load(path: str | os.PathLike[str], **options: Any) -> Model:
    """A self-contained model folder, ready to predict (see ``Model`` for the options)."""
    return Model(path, **options)


def is_self_contained(path: str | os.PathLike[str]) -> bool:
    """Whether the folder predicts with the runtime alone (reads config.json only)."""
    import json
    from pathlib import Path

    try:
        return self_contained(json.loads((Path(path) / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        return False


def open_model(path: str | os.PathLike[str], backend: str = "auto", device: str = "auto", dtype: str = "fp32",
               batch_size: int | None = None, threads: int | None = None, strict: bool = False,
               progress: bool | None = None) -> Any:
    """What ``predict`` (and a server) loads: the runtime's ``Model`` for a self-contained folder
    on the default CPU path (the training stack is never imported: that is what makes one text
    fast), a ``TextClassifier`` for a slim folder or when another engine is asked for (--backend
    torch, --device cuda, --dtype bf16), which needs ``bertclf[train]``."""
    from bertclf.runtime.installed import has_training_stack, needs_training_stack

    if device in ("auto", "cpu") and dtype == "fp32" and backend in ("auto", "onnx", "onnx-int8"):
        try:
            model = Model(path, batch_size=batch_size, threads=threads, strict=strict, progress=progress)
        except SlimFolderError:
            if not has_training_stack():
                raise
        else:
            engine = model.encoder.name if model.encoder is not None else None
            if backend in ("auto", engine) or engine is None:
                return model
    if not has_training_stack():
        needs_training_stack("--backend, --device and --dtype other than the defaults")
    return full_stack_loader()(path, backend=backend, device=device, dtype=dtype, batch_size=batch_size,
                               threads=threads, strict=strict, progress=progress)


def full_stack_loader() -> Any:
    """The training stack's model loader (``TextClassifier.load``), found through the entry point
    ``full`` of the group ``bertclf.loaders`` that bertclf's package metadata declares. The
    runtime names no module of the training stack, so the import contract can forbid it one: the
    stack is a plug-in here, present where ``bertclf[train]`` is installed."""
    from importlib.metadata import entry_points

    from bertclf.runtime.installed import needs_training_stack

    found = entry_points(group="bertclf.loaders", name="full")
    if not found:
        needs_training_stack("a slim folder, or --backend, --device and --dtype other than the defaults")
    return next(iter(found)).load()
