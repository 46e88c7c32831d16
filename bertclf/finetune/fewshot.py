"""``FewShot``: a classifier for a handful of labelled texts per class.

With eight texts per class a linear head on frozen embeddings underfits, and fine-tuning a
softmax head end to end overfits. SetFit's answer, followed here: first tune the encoder so that
texts of one class sit together (``contrastive``), then fit the usual ``TextClassifier`` head on
the tuned embeddings. The result is an ordinary ``TextClassifier`` whose folder carries the tuned
encoder (``encoder/``, safetensors), so ``predict``, ``evaluate``, ``report``, ``serve`` and the
runtime read it like any other.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from bertclf.classify.classifier import TextClassifier
from bertclf.encode import sources as models
from bertclf.encode.backends import resolve_device
from bertclf.encode.embedder import Embedder, split_inputs
from bertclf.encode.onnx_export import TEMPORARY, TUNED_FROM
from bertclf.encode.sources import load_torch_encoder
from bertclf.encode.tokenization import encode, pad_id
from bertclf.errors import BertclfWarning, InputError, SpecError
from bertclf.finetune.contrastive import ContrastiveConfig, tune_encoder
from bertclf.finetune.schedule import autocast_dtype
from bertclf.io.labels import encode_labels, is_multilabel
from bertclf.progress import should_show

MAX_PER_CLASS = 256  # texts per class drawn for tuning; with more, `train` and `finetune` fit better
LR = 1e-4  # the learning rate with three classes or more
LR_TWO_CLASSES = 3e-5  # with two, every negative is of the one other class: tuning overfits sooner
BATCH = 16  # texts per batch with up to four classes
CLASSES_PER_BATCH = 16  # with more classes, a batch holds ``per_class`` texts of this many
PAIRS_CLASSES = (3, 4)  # classes for which objective "auto" is SetFit's pairs, not the batch loss
LR_PAIRS = 4e-5  # the pairs objective's learning rate, with five rounds of pairs


class FewShot(ClassifierMixin, BaseEstimator):
    """Contrastive tuning of the encoder, then a ``TextClassifier`` head on its embeddings.

    The defaults were chosen on AG News at 8 texts per class, scored on train-split texts outside
    the samples (mean of 3 seeds): batch 16 and lr 1e-4 (80.4) over batch 32 and lr 5e-5 (79.6)
    or 2e-5 (77.8); temperature 0.1 over 0.05 (77.5) and 0.2 (79.7); bf16 as accurate as fp32
    (79.6, 79.5); frozen embeddings with the same head, 67.6. With two classes every negative is
    of the one other class and tuning overfits sooner: lr 3e-5 there moved sst2 and
    disaster_tweets by +1.1 and +0.5 on the test split (5 seeds; on ag_news lower rates cost 0.3
    to 1.1), so lr "auto" is 3e-5 for two classes, 1e-4 otherwise. With many classes a batch of
    16 holds four, and each text meets few negatives: on banking77 (77 classes), batches of four
    texts of 16 classes scored 82.5 against 80.5 on the test split (2 seeds, 10% less time), so
    batch_size "auto" holds up to 16 classes. With three or four classes SetFit's own objective
    (sampled pairs, cosine loss) generalised better than the batch loss on AG News (82.6 against
    80.9 on held-out train-split texts, 4 seeds, with five rounds of pairs at lr 4e-5 in 1.4x the
    time), while it cost 2.2 points on sst2, 1.5 on bbc_news (5 classes), and the batch loss
    leads SetFit by 4-5 points on banking77: objective "auto" is "pairs" for 3 or 4 classes,
    else "supcon" (on ag_news's test split, 8 per class: 81.8 against 80.5). The other settings
    checked, none better than these, and their figures: docs/results.md, "Few labels".

    Parameters
    ----------
    model, pooling, max_length: the encoder to start from and how it reads texts (as in
        ``Embedder``: None follows the model).
    epochs, lr, batch_size, per_class, temperature, warmup, weight_decay: the contrastive run
        (``finetune.contrastive``): at most ``epochs`` passes over the texts in batches of about
        ``batch_size`` holding ``per_class`` texts of each class they draw; ``lr`` "auto" is 3e-5
        with two classes, else 1e-4; ``batch_size`` "auto" is 16, or ``per_class`` texts of each
        of up to 16 classes where there are more than four (64 for banking77's 77).
    settle: stop early once the loss of the last three epochs improved on the three before by
        less than this share (0: run every epoch).
    objective: "supcon" (the supervised contrastive loss over class-balanced batches), "pairs"
        (SetFit's: each text with a random same-class and other-class partner, ``rounds`` times,
        cosine loss, one pass; lr "auto" 4e-5, ``batch_size`` "auto" 16 pairs) or "auto" (pairs
        for 3 or 4 classes, else supcon). rounds: the pairs objective's rounds.
    precision: "auto" (bf16 autocast on a GPU or a CPU with bf16 instructions, else fp32),
        "fp32" or "bf16". device: "auto", "cpu" or "cuda". backend: how the tuned encoder embeds
        texts for the head and afterwards (as in ``Embedder``; "auto" is onnx-int8 on a CPU, whose
        export and quantization cost seconds per fit). seed: the same seed gives the same model
        on a CPU.
    features, C, head: the head fitted on the tuned embeddings (as in ``TextClassifier``).
    max_per_class: texts of one class used for tuning at most (a seeded sample; the head reads
        them all); above it a warning says ``train`` or ``finetune`` fit better.
    """

    def __init__(self, model: str = models.DEFAULT_MODEL, pooling: str | None = None,
                 max_length: int | None = None, epochs: int = 20, lr: float | str = "auto",
                 batch_size: int | str = "auto", per_class: int = 4, temperature: float = 0.1,
                 warmup: float = 0.1, weight_decay: float = 0.01, settle: float = 0.02,
                 objective: str = "auto", rounds: int = 5,
                 precision: str = "auto", device: str = "auto", backend: str = "auto", seed: int = 13,
                 threads: int | None = None, features: str = "embedding", C: float | str = 1.0,
                 head: str = "logreg", max_per_class: int = MAX_PER_CLASS, text_col: str = "text",
                 progress: bool | None = None, verbose: bool | None = None) -> None:
        self.model, self.pooling, self.max_length = model, pooling, max_length
        self.epochs, self.lr, self.batch_size, self.per_class = epochs, lr, batch_size, per_class
        self.temperature, self.warmup = temperature, warmup
        self.weight_decay, self.settle = weight_decay, settle
        self.objective, self.rounds = objective, rounds
        self.precision, self.device, self.backend = precision, device, backend
        self.seed, self.threads = seed, threads
        self.features, self.C, self.head = features, C, head
        self.max_per_class, self.text_col = max_per_class, text_col
        self.progress, self.verbose = progress, verbose

    def fit(self, X: Any, y: Any) -> FewShot:
        """Tune the encoder on X's texts and labels y, then fit the head on the tuned embeddings."""
        began = time.perf_counter()
        if is_multilabel(y):
            raise SpecError("few-shot tuning reads one label per text; for several labels per text use "
                            "train or finetune")
        texts, pairs, _ = split_inputs(X, self.text_col, None)
        if pairs is not None:
            raise SpecError("few-shot tuning reads single texts, not sentence pairs")
        if len(texts) != len(y):
            raise InputError(f"got {len(texts)} texts but {len(y)} labels")
        classes, target = encode_labels(y)
        cfg = self._config(len(classes))
        rows = self._tuning_rows(classes, target)
        settings = Embedder(self.model, pooling=self.pooling, max_length=self.max_length, device=self.device,
                            backend=self.backend).settings()  # a bad setting fails before tuning
        device = resolve_device(self.device)
        if self.threads:
            torch.set_num_threads(int(self.threads))
        tokenizer = models.load_tokenizer(settings.source)
        encoded = encode(tokenizer, [texts[i] for i in rows], settings.max_length, report=True)
        encoder = load_torch_encoder(settings.source)
        show = should_show(self.verbose if self.verbose is not None else self.progress)
        dtype = self._dtype(device)
        history = tune_encoder(encoder, encoded, target[rows], pad_id(tokenizer), settings.pooling, cfg,
                               device, dtype, self.progress,
                               log=(lambda line: warnings.warn(line, BertclfWarning, stacklevel=3))
                               if show else None)
        folder = tempfile.mkdtemp(prefix="bertclf-fewshot-")
        encoder.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        (Path(folder) / TEMPORARY).touch()  # its ONNX exports go with it, not into the cache
        base = {"tuned_from": models.portable_spec(settings.source)}  # int8 borrows the base's calibration
        (Path(folder) / TUNED_FROM).write_text(json.dumps(base), encoding="utf-8")
        tuned = time.perf_counter()
        embedder = Embedder(folder, pooling=settings.pooling, max_length=settings.max_length,
                            normalize=settings.normalize, device=self.device, backend=self.backend,
                            threads=self.threads, progress=self.progress)
        classifier = TextClassifier(embedder, features=self.features, C=self.C, head=self.head,
                                    random_state=self.seed, text_col=self.text_col)
        classifier.fit(X, y)
        # the tuned encoder lives as long as the classifier that reads it (and saves it along)
        weakref.finalize(classifier, shutil.rmtree, folder, ignore_errors=True)
        classifier.carry_encoder_ = {"folder": folder, "base_model": models.portable_spec(settings.source)}
        classifier.training_["few_shot"] = {
            "base_model": models.portable_spec(settings.source), "tuning_texts": len(rows),
            "epochs_run": len(history), "tuning_seconds": round(tuned - began, 1), "device": device,
            "precision": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32"),
            "settings": {**{k: v for k, v in self.get_params().items() if k in CONTRASTIVE_PARAMS},
                         "lr": cfg.lr, "batch_size": cfg.batch_size, "objective": cfg.objective},
            "history": history}
        self.classifier_, self.classes_, self.history_ = classifier, classifier.classes_, history
        self.training_ = classifier.training_
        return self

    def _config(self, n_classes: int) -> ContrastiveConfig:
        from bertclf.finetune.params import check_number

        check_number("epochs", self.epochs, integer=True, low=1)
        if self.objective not in ("auto", "supcon", "pairs"):
            raise SpecError(f"unknown objective {self.objective!r}: use auto, supcon or pairs")
        objective = self.objective if self.objective != "auto" else \
            "pairs" if PAIRS_CLASSES[0] <= n_classes <= PAIRS_CLASSES[1] else "supcon"
        check_number("rounds", self.rounds, integer=True, low=1)
        pairs = objective == "pairs"
        lr = _or_auto("lr", self.lr, LR_PAIRS if pairs else LR_TWO_CLASSES if n_classes == 2 else LR,
                      "a number above 0")
        check_number("lr", lr, low=0, open_low=True)
        check_number("per_class", self.per_class, integer=True, low=2)
        many = max(BATCH, int(self.per_class) * min(n_classes, CLASSES_PER_BATCH))
        batch = _or_auto("batch_size", self.batch_size, BATCH if pairs else many, "an integer of at least 2")
        check_number("batch_size", batch, integer=True, low=2)
        check_number("temperature", self.temperature, low=0, open_low=True)
        check_number("warmup", self.warmup, low=0)
        check_number("weight_decay", self.weight_decay, low=0)
        check_number("settle", self.settle, low=0, high=1)
        check_number("max_per_class", self.max_per_class, integer=True, low=2)
        if self.precision not in ("auto", "fp32", "bf16"):
            raise SpecError(f"unknown precision {self.precision!r}: use auto, fp32 or bf16")
        return ContrastiveConfig(epochs=int(self.epochs), lr=float(lr), batch_size=int(batch),
                                 per_class=int(self.per_class), temperature=float(self.temperature),
                                 warmup=float(self.warmup), weight_decay=float(self.weight_decay),
                                 settle=float(self.settle), seed=int(self.seed), objective=objective,
                                 rounds=int(self.rounds))

    def _tuning_rows(self, classes: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Every row, or a seeded sample of ``max_per_class`` per class; refuses a class with one
        text (it has no pair of its own; ``encode_labels`` refuses a single class)."""
        counts = np.bincount(target, minlength=len(classes))
        lonely = [str(c) for c, n in zip(classes, counts, strict=True) if n < 2]
        if lonely:
            raise InputError(f"few-shot learning needs at least 2 texts in every class: {', '.join(lonely)} "
                             f"{'has' if len(lonely) == 1 else 'have'} 1")
        cap = int(self.max_per_class)
        if counts.max() <= cap:
            return np.arange(len(target))
        warnings.warn(f"up to {counts.max()} texts per class: few-shot tuning draws {cap} of each (a "
                      f"seeded sample) and the head reads them all; with this many, `train` or `finetune` "
                      f"fit better",
                      BertclfWarning, stacklevel=3)
        rng = np.random.default_rng(self.seed)
        picked = [rng.permutation(np.flatnonzero(target == c))[:cap] for c in range(len(classes))]
        return np.sort(np.concatenate(picked))

    def _dtype(self, device: str) -> torch.dtype | None:
        """bf16 where asked, or with "auto" on a GPU (fp16 where it lacks bf16) or a CPU whose
        instructions include bf16; else fp32 (None)."""
        if self.precision == "fp32":
            return None
        return autocast_dtype(device, "auto" if device.startswith("cuda") else self.precision)

    # -- prediction and saving: the fitted TextClassifier's ------------------------------------

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict(X)

    def save(self, path: str | Path, **options: Any) -> None:
        """An ordinary model folder carrying the tuned encoder; ``TextClassifier.load`` reads it."""
        check_is_fitted(self, "classifier_")
        self.classifier_.save(path, **options)

    save_pretrained = save

    @property
    def task(self) -> str:
        return "single-label"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _or_auto(name: str, value: Any, auto: Any, what: str) -> Any:
    """``value``, or ``auto`` where it is "auto"; any other word is refused, naming both forms."""
    if not isinstance(value, str):
        return value
    if value != "auto":
        raise SpecError(f"{name} must be {what} or 'auto', got {value!r}")
    return auto


CONTRASTIVE_PARAMS = ("epochs", "lr", "batch_size", "per_class", "temperature", "warmup", "weight_decay",
                      "objective", "rounds",
                      "settle", "max_length", "pooling", "seed", "max_per_class")
