"""Training as ``bertclf train`` and ``bertclf finetune`` do it, as one Python call each: a head on
frozen features, the --auto search or few-shot tuning (``train_model``), or fine-tuning
(``finetune_model``),
then the report on the split's held-out rows with a TF-IDF baseline beside it. The CLI renders
the returned ``Trained``; a Python user gets the same figures from it.

```python
split = read_split("train.csv", None, holdout=0.2, seed=13, columns=Columns())
trained = train_model(TextClassifier(), split, way="auto", budget="5m")
trained.holdout.metrics["accuracy"], trained.search.leaderboard()
trained.save("model")
```
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertclf.classify.compatibility import why_unsupported
from bertclf.errors import InputError, SpecError
from bertclf.search.space import DEFAULT_BUDGET, DEFAULT_FOLDS

WAYS = ("plain", "auto", "few-shot")


@dataclass
class HoldoutReport:
    """How a trained model did on the split's evaluation rows, beside TF-IDF + logistic regression."""

    title: str  # "hybrid logreg on 20% hold-out of train.csv (seed 13)"
    report: dict[str, Any]  # evaluate.metrics.evaluate_model's
    metrics: dict[str, Any]  # the headline figures the model folder keeps
    baseline: dict[str, Any] | None = None  # the baseline's scores on the same split


@dataclass
class Trained:
    """A trained model with what its training measured."""

    model: Any  # a fitted TextClassifier, or a FineTuner
    name: str  # "hybrid logreg", the --auto winner's name, "few-shot logreg", "fine-tuned encoder"
    texts: int  # training texts
    seconds: float  # training time
    holdout: HoldoutReport | None = None  # None when nothing was held out
    search: Any = None  # --auto's Search, with its leaderboard

    @property
    def metrics(self) -> dict[str, Any] | None:
        """What the model folder's config keeps under ``metrics``."""
        metrics = self.holdout.metrics if self.holdout else None
        if self.search is not None:
            metrics = {**(metrics or {}), "auto": self.search.summary()}
        return metrics

    def save(self, out: str, label_columns: dict[str, Any] | None = None,
             self_contained: bool = True) -> None:
        """Write the model folder, its measured figures in its config (atomically, as every save)."""
        self.model.save(out, metrics=self.metrics, label_columns=label_columns, self_contained=self_contained)

    def summary(self, out: str) -> dict[str, Any]:
        """What ``train --json`` prints: the folder, the model and its measured scores."""
        return {"model": out, "name": self.name, "task": self.model.task,
                "labels": [str(c) for c in self.model.classes_], "metrics": self.metrics,
                "training": getattr(self.model, "training_", None)}

    def reads(self) -> str:
        """What the model reads, in words: 'mean embeddings of layers [-1]', 'TF-IDF n-grams'."""
        if not hasattr(self.model, "embedder_"):
            return "a fine-tuned encoder"
        if self.model.features == "tfidf":
            return "TF-IDF n-grams"
        used = self.model.embedder_.settings()  # --auto may have chosen other layers or pooling
        return f"{used.pooling} embeddings of layers {list(used.layers)}"


def check_way(way: str, model: Any) -> None:
    """Refuse a way of training that ``model``'s settings do not allow, before any file is read."""
    if way not in WAYS:
        raise SpecError(f"unknown way of training {way!r}: use one of {', '.join(WAYS)}")
    why = why_unsupported(way, model) if way == "few-shot" else None
    if why:
        raise SpecError(f"--few-shot: {why}")


def train_model(model: Any, split: Any, way: str = "plain", *, budget: str = DEFAULT_BUDGET,
          folds: int = DEFAULT_FOLDS, finetune: bool = True, baseline: bool = True,
          log: Callable[[str], None] | None = None) -> Trained:
    """Train ``model`` (an unfitted ``TextClassifier``, whose settings the search starts from) on
    ``split`` (``io.labels.Split``) the ``way`` asked: ``plain`` fits it, ``auto`` searches with
    ``budget`` and ``folds`` (fine-tuning among the candidates if ``finetune``), ``few-shot``
    tunes its encoder contrastively first. Then reports on the split's evaluation rows."""
    check_way(way, model)
    start = time.perf_counter()
    search = None
    if way == "few-shot":
        _check_pairs_left(split)
        model = few_shot_learner(model).fit(split.texts, split.labels).classifier_
    elif way == "auto":
        from bertclf.search.auto import auto_train

        model, search = auto_train(split.texts, split.labels, base=model, budget=budget, folds=folds,
                                   finetune=finetune, log=log or (lambda message: None),
                                   after_texts=len(split.eval_texts or []), order=split.times)
    else:
        model.fit(split.texts, split.labels)
    seconds = time.perf_counter() - start
    name = search.winner.name if search and search.winner else describe(model)
    name = f"few-shot {name}" if way == "few-shot" else name
    seed = 13 if getattr(model, "random_state", None) is None else model.random_state
    holdout = report_holdout(model, split, seconds, name, baseline, seed)
    return Trained(model, name, len(split.texts), seconds, holdout, search)


def finetune_model(tuner: Any, split: Any, *, resume: bool = False, meta: dict[str, Any] | None = None,
             baseline: bool = True) -> Trained:
    """Fine-tune ``tuner`` (a ``FineTuner``) on ``split`` (continuing its checkpoint if
    ``resume``; ``meta`` is recorded in it), then report like ``train_model``."""
    start = time.perf_counter()
    tuner.fit(split.texts, split.labels, resume=resume, meta=meta)
    seconds = time.perf_counter() - start
    name = "fine-tuned encoder"
    return Trained(tuner, name, len(split.texts), seconds,
                   report_holdout(tuner, split, seconds, name, baseline, tuner.seed))


def report_holdout(model: Any, split: Any, train_seconds: float, name: str, baseline: bool = True,
                   seed: int = 13) -> HoldoutReport | None:
    """The report on ``split``'s evaluation rows (and the TF-IDF baseline's scores on the same
    split); None when nothing was held out."""
    from bertclf.evaluate.metrics import evaluate_model, headline
    from bertclf.search.baseline import baseline_scores, baseline_texts, multilabel_baseline_scores

    if split.eval_texts is None:
        return None
    start = time.perf_counter()
    report = evaluate_model(model, split.eval_texts, split.eval_labels)
    rate = report["n"] / max(time.perf_counter() - start, 1e-9)
    metrics = {"evaluated_on": split.description, **headline(report),
               "train_seconds": round(train_seconds, 2), "predict_texts_per_second": round(rate, 1)}
    scores = None
    if baseline:
        cols = (getattr(model, "text_col", "text"), getattr(model, "pair_col", None))
        train_texts, eval_texts = baseline_texts(split.texts, *cols), baseline_texts(split.eval_texts, *cols)
        score = multilabel_baseline_scores if model.task == "multi-label" else baseline_scores
        scores = score(train_texts, split.labels, eval_texts, split.eval_labels, seed)
        metrics["tfidf_logreg_baseline"] = scores
    return HoldoutReport(f"{name} on {split.description}", report, metrics, scores)


def few_shot_learner(model: Any) -> Any:
    """The ``FewShot`` learner that tunes ``model``'s encoder and fits its head, columns and
    features on the tuned embeddings."""
    from bertclf.finetune.fewshot import FewShot

    e = model.embedder
    return FewShot(e.model, pooling=e.pooling, max_length=e.max_length, device=e.device,
                   backend=e.backend, seed=model.random_state, threads=e.threads, features=model.features,
                   C=model.C, head=model.head, text_col=model.text_col, progress=e.progress)


def describe(model: Any) -> str:
    """'logreg', or 'hybrid logreg' / 'TF-IDF logreg' for the models that read TF-IDF."""
    features = getattr(model, "features", "embedding")
    prefix = {"tfidf": "TF-IDF ", "hybrid": "hybrid "}.get(features, "")
    return f"{prefix}{getattr(model, 'head', 'fine-tuned')}"


def _check_pairs_left(split: Any) -> None:
    """Few-shot tuning needs two texts of every class; name the hold-out when it is what took
    them (FewShot itself only sees what is left, and would say a class of two "has 1")."""
    if not split.held_out or split.eval_labels is None:
        return
    kept = Counter(np.asarray(split.labels, dtype=str).tolist())
    held = Counter(np.asarray(split.eval_labels, dtype=str).tolist())
    short = [c for c in held if kept[c] < 2 <= kept[c] + held[c]]  # two or more in the file
    if short:
        raise InputError(f"few-shot learning needs at least 2 texts in every class, and after holding "
                         f"{split.held_out:.0%} of TRAIN out for the report {', '.join(short)} "
                         f"{'has' if len(short) == 1 else 'have'} fewer: give --holdout 0 or a --test file")
