"""``FineTuner``: the encoder and a softmax layer trained end to end on labelled texts.

It reads like ``TextClassifier`` (``fit``, ``predict``, ``predict_proba``, ``score``, ``save``), and
its saved folder is an ordinary bertclf model: ``TextClassifier.load``, ``bertclf predict`` and
``bertclf evaluate`` use it like any other. The fine-tuned encoder sits in ``encoder/`` as a plain
Hugging Face folder (safetensors), so ``AutoModel.from_pretrained`` loads it too.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from bertclf.classify.heads import Head
from bertclf.classify.sentence_guide import TextGuide
from bertclf.classify.thresholds import tune_thresholds
from bertclf.encode import sources as models
from bertclf.encode.backends import resolve_device
from bertclf.encode.embedder import DEFAULT_POOLING, split_inputs
from bertclf.encode.pooling import check_pooling
from bertclf.encode.sources import load_torch_encoder
from bertclf.encode.tokenization import check_long, encode, pad_id
from bertclf.errors import InputError, ModelLoadError, SpecError
from bertclf.finetune.checkpoint import (
    checkpoint_folder,
    read_state,
    resume_into,
    write_checkpoint,
)
from bertclf.finetune.loop import Network, TrainConfig, TrainData, Trainer, out_of_memory
from bertclf.finetune.params import check_number
from bertclf.finetune.schedule import freeze_lower
from bertclf.io.labels import (
    encode_labels,
    encode_multilabel,
    holdout_split,
    is_multilabel,
    report_label_counts,
)
from bertclf.io.modelio import ENCODER_FOLDER, is_encoder_file, model_config, write_model_folder
from bertclf.io.part_files import save_parts
from bertclf.progress import should_show

DEFAULT_MAX_LENGTH = 128
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("auto", "steps", "time")
# Settings that may change between an interrupted run and its resumption; the rest must match.
RUNTIME_PARAMS = ("device", "threads", "output_dir", "checkpoint_minutes", "strict", "progress", "verbose",
                  "time_limit")


class FineTuner(ClassifierMixin, BaseEstimator):
    """Fine-tune a BERT-family encoder with a classification layer on its pooled output.

    Parameters
    ----------
    model: the encoder to start from (bundled all-MiniLM-L6-v2 by default, any id or folder).
    pooling: "cls", "mean" or "max" over the last layer; None follows the model (else mean).
    max_length: tokens kept per text; None means 128 (most sentences and short documents fit,
        and training time grows with it), or the model's limit if that is lower.
    epochs, lr, batch_size: the usual; lr peaks after ``warmup`` (a fraction of all steps, or a
        step count when ≥ 1) and then decays linearly to zero.
    weight_decay: AdamW's decoupled decay, not applied to biases and LayerNorm weights.
    val_fraction: share of the training texts held out (stratified) to pick the best epoch;
        0 keeps the last epoch.
    early_stopping: stop after this many epochs without a better validation accuracy (0: never).
    grad_accum: micro-batches per optimizer step (a larger effective batch in the same memory).
    max_grad_norm: gradient clipping threshold. dropout: before the classification layer.
    precision: "auto" is bf16 autocast on a GPU (fp16 with loss scaling where bf16 is missing)
        and on a CPU with bf16 instructions (AVX-512 BF16, AMX), fp32 on other CPUs; "fp32",
        "bf16" or "fp16" force one.
    device: "auto", "cpu" or "cuda". seed: makes a CPU run repeatable bit for bit.
    long, head_tokens: texts over max_length: "truncate", "head-tail" or "guide" (as in
        ``Embedder``; chunk windows need frozen embeddings).
    text_col, pair_col: the columns of a DataFrame X; (text, pair) tuples work too.
    Several labels per text (a 0/1 matrix or DataFrame, or label lists) train one sigmoid per
    label with binary cross-entropy; thresholds are then tuned on the validation split.
    output_dir: a model folder to keep checkpoints in (``checkpoint/`` inside it): written every
        epoch, every ``checkpoint_minutes`` and on Ctrl-C; ``fit(..., resume=True)`` continues.
    time_limit: seconds of training at most (None: no limit); past it the run ends after the
        current step, validates that partial epoch and keeps the best epoch, so a budget holds.
    schedule: "steps" decays the rate over the planned steps; "time" over the planned steps or
        the time limit, whichever ends first, so a run the limit cuts short still ends near a
        rate of zero; "auto" is "time" when there is a time limit.
    freeze_layers: the embeddings and this many of the lowest layers stay as they were; fewer
        weights to train make a step cheaper (0: train them all).
    """

    def __init__(
        self,
        model: str = models.DEFAULT_MODEL,
        pooling: str | None = None,
        max_length: int | None = None,
        epochs: int = 3,
        lr: float = 5e-5,
        batch_size: int = 32,
        warmup: float = 0.1,
        weight_decay: float = 0.01,
        val_fraction: float = 0.1,
        early_stopping: int = 2,
        grad_accum: int = 1,
        max_grad_norm: float = 1.0,
        dropout: float = 0.1,
        precision: str = "auto",
        device: str = "auto",
        seed: int = 13,
        threads: int | None = None,
        output_dir: str | None = None,
        checkpoint_minutes: float = 10.0,
        strict: bool = False,
        progress: bool | None = None,
        verbose: bool | None = None,
        long: str = "truncate",
        head_tokens: int | None = None,
        text_col: str = "text",
        pair_col: str | None = None,
        time_limit: float | None = None,
        schedule: str = "auto",
        freeze_layers: int = 0,
    ) -> None:
        self.time_limit = time_limit
        self.schedule = schedule
        self.freeze_layers = freeze_layers
        self.long = long
        self.head_tokens = head_tokens
        self.text_col = text_col
        self.pair_col = pair_col
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.early_stopping = early_stopping
        self.grad_accum = grad_accum
        self.max_grad_norm = max_grad_norm
        self.dropout = dropout
        self.precision = precision
        self.device = device
        self.seed = seed
        self.threads = threads
        self.output_dir = output_dir
        self.checkpoint_minutes = checkpoint_minutes
        self.strict = strict
        self.progress = progress
        self.verbose = verbose

    # -- training ---------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, resume: bool = False, meta: dict[str, Any] | None = None,
            stop_when: Callable[[list[dict[str, Any]]], str | None] | None = None) -> FineTuner:
        """Fine-tune on texts X and labels y; ``resume`` continues the run checkpointed in
        ``output_dir`` (same settings and data required). ``meta`` (JSON-able) is kept in the
        checkpoints, for a caller that must find its inputs again (the CLI records its files).
        ``stop_when`` sees the epochs' history after each one and ends the run by returning a
        reason (``train --auto`` stops a run that cannot catch up with its best candidate)."""
        began = time.monotonic()
        source, pooling, max_length = self.check_params()
        if resume and not self.output_dir:
            raise SpecError("resume needs output_dir, the folder holding the checkpoint")
        saved = read_state(self.output_dir) if resume else None
        device = resolve_device(self.device)
        if self.threads:
            torch.set_num_threads(int(self.threads))
        texts, pairs = self._inputs(X)
        if len(texts) != len(y):
            raise InputError(f"got {len(texts)} texts but {len(y)} labels")
        multilabel = is_multilabel(y)
        if multilabel:
            classes, labels = encode_multilabel(y)
            report_label_counts(labels, classes, "training labels")
            labels = labels.astype(np.float32)
            rows = np.random.default_rng(self.seed).permutation(len(texts))
            n_val = int(np.ceil(len(texts) * self.val_fraction)) if self.val_fraction else 0
            train_rows, val_rows = rows[n_val:], rows[:n_val]
        elif self.val_fraction:
            classes, labels = encode_labels(y)
            try:
                train_rows, val_rows = holdout_split(classes[labels].tolist(), self.val_fraction, self.seed)
            except InputError as exc:
                raise InputError(f"no room for a validation split: {exc} (or set val_fraction to 0)") \
                    from None
        else:
            classes, labels = encode_labels(y)
            train_rows, val_rows = np.arange(len(texts)), np.arange(0)
        tokenizer = models.load_tokenizer(source)
        self.guide_ = TextGuide().fit([texts[i] for i in train_rows], labels[train_rows]) \
            if self.long == "guide" else None
        data = TrainData(self._encode(tokenizer, texts, pairs, max_length), labels, np.sort(train_rows),
                         np.sort(val_rows), pad_id(tokenizer))
        shown = labels.tolist() if multilabel else classes[labels]
        identity = {"base_model": models.portable_spec(source), "labels": classes.tolist(),
                    "params": self._run_params(), "data": _fingerprint(texts, shown, pairs)}
        torch.manual_seed(self.seed)
        network = Network(load_torch_encoder(source), pooling, len(classes), float(self.dropout), multilabel)
        freeze_lower(network.encoder, int(self.freeze_layers))
        trainer = Trainer(network, self._train_config(), device, self.precision)
        if saved is not None:
            resume_into(trainer, self.output_dir, saved, identity)
        checkpoint = (lambda: self._checkpoint(trainer, {**identity, "meta": meta or {}})) \
            if self.output_dir else None
        show = should_show(self.verbose if self.verbose is not None else self.progress)
        start = time.perf_counter()
        try:
            state = trainer.run(data, checkpoint, float(self.checkpoint_minutes) * 60, self.progress,
                                log=(lambda line: print(line, file=sys.stderr)) if show else None,
                                deadline=began + float(self.time_limit) if self.time_limit else None,
                                judge=stop_when)
        except torch.cuda.OutOfMemoryError:
            raise out_of_memory(int(self.batch_size), int(self.grad_accum), max_length) from None
        self.trainer_, self.classes_, self.source_ = trainer, classes, source
        self.pooling_, self.max_length_ = pooling, max_length
        self.history_ = state.history
        self.multilabel_ = multilabel
        if multilabel:
            self.thresholds_ = np.full(len(classes), 0.5)
            if len(val_rows):  # the best epoch's own validation probabilities
                val_logits = trainer.logits(data.encoded, np.sort(val_rows), data.pad_id)
                self.thresholds_ = tune_thresholds(labels[np.sort(val_rows)].astype(int),
                                                   1 / (1 + np.exp(-val_logits.astype(np.float64))))
            counts = labels[train_rows].sum(axis=0).astype(int)
        else:
            counts = np.bincount(labels[train_rows], minlength=len(classes))
        self.training_ = {
            "texts": len(train_rows), "validation_texts": len(val_rows), "device": device,
            "class_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
            "epochs_run": state.epoch, "optimizer_steps": state.step, "stopped_early": state.stopped_early,
            "stop_reason": state.stop_reason,
            "best_epoch": state.best["epoch"] if state.best else state.epoch,
            "seconds": round(time.perf_counter() - start, 1), "history": state.history,
            "resumed": saved is not None,
            "precision": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(trainer.dtype, "fp32"),
        }
        return self

    def check_params(self) -> tuple[models.ModelSource, str, int]:
        """Check every setting before any work; returns (source, pooling, max_length)."""
        check_number("epochs", self.epochs, integer=True, low=1)
        check_number("lr", self.lr, low=0, open_low=True)
        check_number("batch_size", self.batch_size, integer=True, low=1)
        check_number("warmup", self.warmup, low=0)
        check_number("weight_decay", self.weight_decay, low=0)
        check_number("val_fraction", self.val_fraction, low=0, high=1)
        check_number("early_stopping", self.early_stopping, integer=True, low=0)
        check_number("grad_accum", self.grad_accum, integer=True, low=1)
        check_number("max_grad_norm", self.max_grad_norm, low=0, open_low=True)
        check_number("dropout", self.dropout, low=0, high=1)
        check_number("checkpoint_minutes", self.checkpoint_minutes, low=0, open_low=True)
        if self.time_limit is not None:
            check_number("time_limit", self.time_limit, low=0, open_low=True)
        check_number("freeze_layers", self.freeze_layers, integer=True, low=0)
        if self.schedule not in SCHEDULES:
            raise SpecError(f"unknown schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise SpecError(f"unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if self.long == "chunk":
            raise SpecError("--long chunk pools windows of frozen embeddings (train, embed); fine-tuning "
                            "reads truncate, head-tail or guide")
        source = models.resolve(self.model)
        layers = int(getattr(models.load_config(source), "num_hidden_layers", 0) or 0)
        if layers and self.freeze_layers > layers:  # before the data is read, not after
            raise SpecError(f"freeze_layers={self.freeze_layers}, but the encoder has {layers} layers")
        pooling = check_pooling(self.pooling or models.model_defaults(source).pooling or DEFAULT_POOLING)
        max_length = models.check_max_length(source, self.max_length, DEFAULT_MAX_LENGTH)
        check_long(self.long, max_length, self.head_tokens)
        return source, pooling, max_length

    def _inputs(self, X: Any) -> tuple[list[str], list[str] | None]:
        texts, pairs, _ = split_inputs(X, self.text_col, self.pair_col, strict=self.strict)
        return texts, pairs

    def _encode(self, tokenizer: Any, texts: list[str], pairs: list[str] | None, max_length: int) -> Any:
        if getattr(self, "guide_", None) is not None:
            texts = self.guide_.select(texts, tokenizer, max_length - 2)
        long = check_long("truncate" if self.long == "guide" else self.long, max_length, self.head_tokens)
        return encode(tokenizer, texts, max_length, report=True, pairs=pairs, long=long)

    def _train_config(self) -> TrainConfig:
        return TrainConfig(epochs=int(self.epochs), lr=float(self.lr), batch_size=int(self.batch_size),
                           warmup=float(self.warmup), weight_decay=float(self.weight_decay),
                           early_stopping=int(self.early_stopping), grad_accum=int(self.grad_accum),
                           max_grad_norm=float(self.max_grad_norm), seed=int(self.seed),
                           schedule=self.schedule if self.schedule != "auto" else
                           "time" if self.time_limit else "steps")

    def _run_params(self) -> dict[str, Any]:
        params = {k: v for k, v in self.get_params().items() if k not in RUNTIME_PARAMS}
        params["model"] = models.portable_spec(models.resolve(self.model))
        return params

    def _checkpoint(self, trainer: Trainer, identity: dict[str, Any]) -> str:
        saved, tensors = trainer.snapshot()
        write_checkpoint(self.output_dir, {**identity, **saved}, tensors)
        return str(checkpoint_folder(self.output_dir))

    # -- prediction and saving --------------------------------------------------------------------

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class in ``classes_`` order, shape (n, n_classes)."""
        check_is_fitted(self, "trainer_")
        texts, pairs = self._inputs(X)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        tokenizer = models.load_tokenizer(self.source_)
        encoded = self._encode(tokenizer, texts, pairs, self.max_length_)
        logits = self.trainer_.logits(encoded, np.arange(len(texts)), pad_id(tokenizer)).astype(np.float64)
        return 1 / (1 + np.exp(-logits)) if self.multilabel_ else softmax(logits, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        if self.multilabel_:
            return (self.predict_proba(X) >= self.thresholds_).astype(np.int64)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None,
             label_columns: dict[str, Any] | None = None, self_contained: bool = True) -> None:
        """Write a model folder (atomically) that ``TextClassifier.load`` reads: the fine-tuned
        encoder under ``encoder/`` (safetensors) and the classification layer as a linear head;
        ``self_contained`` adds its int8 ONNX graph and tokenizer for the runtime (an export of
        the saved encoder, as ``bertclf export`` makes)."""
        check_is_fitted(self, "trainer_")
        network = self.trainer_.network
        files = _encoder_files(network.encoder, models.load_tokenizer(self.source_))
        head = Head("linear", len(self.classes_), {
            "weight": network.classifier.weight.detach().cpu().double().numpy(),
            "bias": network.classifier.bias.detach().cpu().double().numpy(),
        }, multilabel=self.multilabel_)
        parts, part_files = save_parts({"head": head, "guide": self.guide_})
        files.update(part_files)
        long = check_long(self.long, self.max_length_, self.head_tokens)
        config = model_config(
            embedder={"model": ENCODER_FOLDER, "pooling": self.pooling_,
                      "layers": [int(network.encoder.config.num_hidden_layers)], "layer_agg": "mean",
                      "max_length": self.max_length_, "normalize": False, "long": long.mode,
                      "head_tokens": long.head, "stride": long.stride, "chunk_agg": long.agg},
            encoder={"folder": ENCODER_FOLDER, "base_model": models.portable_spec(self.source_),
                     "hidden_size": int(network.encoder.config.hidden_size),
                     "num_layers": int(network.encoder.config.num_hidden_layers),
                     "embedding_dim": int(network.encoder.config.hidden_size)},
            head={"name": head.name, "finetune": self._run_params()},
            labels=self.classes_.tolist(), training=self.training_, metrics=metrics, approach="finetune",
            multilabel=self.multilabel_, thresholds=self.thresholds_ if self.multilabel_ else None,
            inputs={"text_col": self.text_col, "pair_col": self.pair_col, "join_on": None,
                    "labels": label_columns}, parts=parts)
        write_model_folder(path, config, files)
        if self_contained:
            from bertclf.classify.self_contained import export

            export(path, path)

    save_pretrained = save  # Hugging Face habits; the folder loads with TextClassifier.load

    @property
    def task(self) -> str:
        """'single-label' or 'multi-label', as fitted."""
        return "multi-label" if getattr(self, "multilabel_", False) else "single-label"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _fingerprint(texts: list[str], labels: Any, pairs: list[str] | None = None) -> dict[str, Any]:
    content = [texts, [str(v) for v in labels]] + ([pairs] if pairs is not None else [])
    digest = hashlib.sha256(json.dumps(content).encode()).hexdigest()
    return {"texts": len(texts), "sha256": digest}


def _encoder_files(encoder: torch.nn.Module, tokenizer: Any) -> dict[str, bytes]:
    """The encoder and tokenizer as Hugging Face writes them (safetensors), as encoder/<name>."""
    with tempfile.TemporaryDirectory() as tmp:
        encoder.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        written = {f"{ENCODER_FOLDER}/{p.name}": p for p in sorted(Path(tmp).iterdir()) if p.is_file()}
        files = {name: path.read_bytes() for name, path in written.items() if is_encoder_file(name)}
    if f"{ENCODER_FOLDER}/model.safetensors" not in files:
        raise ModelLoadError("the fine-tuned encoder was not written as model.safetensors")
    return files
