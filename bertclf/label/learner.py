"""The model that labels along: a logistic regression on the pool's embeddings (computed once,
through the embedding cache), refitted in a background thread after answers arrive, never in
the way of the page. Each refit also cross-validates on the labels so far (the estimate and its
interval, a point of the learning curve), lists the labelled texts its out-of-fold answers doubt
most (to review), and queues the next texts to ask about (``strategy``). With a ``tuning.Tuner``,
few-shot tuning runs beside it in another process, and the head reads the tuned encoder's vectors
from the refit after one is adopted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertclf.evaluate.intervals import interval, micro_f1
from bertclf.label import strategy

BATCH = 10  # texts queued per refit: the loop's batch
FOLDS = 5
C = 10.0  # the head's C on unit-length embeddings (benchmarks/active_learning.py)
SUSPECTS = 10
SPARE = 200  # open texts kept beyond the queue, asked about when answers outrun the refits


@dataclass
class Snapshot:
    """What the last refit knew; replaced whole, so readers never see half of one."""

    labelled: int = 0
    proba: np.ndarray | None = None  # (pool, labels): the model's suggestion for every text
    estimate: dict[str, Any] | None = None  # cross-validated accuracy (or micro-F1) and its interval
    curve: list[dict[str, Any]] = field(default_factory=list)  # (labels, estimate) after each refit
    suspects: list[dict[str, Any]] = field(default_factory=list)  # labelled texts the model doubts
    queue: list[int] = field(default_factory=list)  # texts to ask about next, best first
    spare: list[int] = field(default_factory=list)  # open texts beyond the queue, for a fast labeller
    seconds: float = 0.0  # the refit's time
    tuning: dict[str, Any] | None = None  # the last few-shot tuning run's check, or that one runs


def fit_head(vectors: np.ndarray, target: np.ndarray, multi_label: bool, seed: int = 13,
             previous: Any = None) -> Any:
    """The head; one label a text, it starts from ``previous`` (the last refit's head) when that
    knew the same classes: the same convex objective, reached in fewer iterations (2.4x faster
    over a loop of refits, predictions 99.9 % the same)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    if multi_label:
        one = LogisticRegression(C=C, max_iter=2000, random_state=seed)
        return OneVsRestClassifier(one).fit(vectors, target)
    head = LogisticRegression(C=C, max_iter=2000, random_state=seed, warm_start=previous is not None)
    if isinstance(previous, LogisticRegression) and np.array_equal(previous.classes_, np.unique(target)):
        head.coef_, head.intercept_ = previous.coef_.copy(), previous.intercept_.copy()
    return head.fit(vectors, target)


def probabilities(head: Any, vectors: np.ndarray, n_labels: int) -> np.ndarray:
    """(n, n_labels) probabilities, columns in label order even when some label has no answer yet."""
    proba = head.predict_proba(vectors)
    if proba.shape[1] == n_labels:
        return proba
    full = np.zeros((len(vectors), n_labels))
    full[:, head.classes_] = proba
    return full


def cross_validate(vectors: np.ndarray, target: np.ndarray, multi_label: bool, n_labels: int,
                   seed: int = 13) -> tuple[dict[str, Any] | None, np.ndarray | None]:
    """The estimate on the labels so far (k-fold, k up to ``FOLDS``) and the out-of-fold
    probabilities; (None, None) while some label has too few answers for folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if multi_label:
        k = min(FOLDS, len(target) // 2)
        splitter: Any = KFold(k, shuffle=True, random_state=seed) if k >= 2 else None
    else:
        counts = np.bincount(target, minlength=n_labels)
        present = counts[counts > 0]
        k = min(FOLDS, int(present.min())) if len(present) >= 2 else 0
        splitter = StratifiedKFold(k, shuffle=True, random_state=seed) if k >= 2 else None
    if splitter is None:
        return None, None
    oof = np.zeros((len(target), n_labels))
    for train, test in splitter.split(vectors, target if not multi_label else None):
        if not multi_label and len(np.unique(target[train])) < 2:
            return None, None
        oof[test] = probabilities(fit_head(vectors[train], target[train], multi_label, seed), vectors[test],
                                  n_labels)
    if multi_label:
        score, metric = micro_f1(target == 1, oof >= 0.5), "micro-F1"
    else:
        score, metric = float((oof.argmax(axis=1) == target).mean()), "accuracy"
    low, high = interval(score, len(target))  # as --auto's check quotes its own
    return ({"metric": metric, "score": round(float(score), 4), "low": round(low, 4), "high": round(high, 4),
             "labels": len(target), "folds": k}, oof)


def targets(answers: list[list[str]], labels: list[str], multi_label: bool) -> np.ndarray:
    """Class numbers (one label a text) or a 0/1 matrix (several) for the answers' label lists."""
    index = {label: k for k, label in enumerate(labels)}
    if not multi_label:
        return np.asarray([index[a[0]] for a in answers], dtype=int)
    target = np.zeros((len(answers), len(labels)), dtype=int)
    for r, given in enumerate(answers):
        target[r, [index[x] for x in given]] = 1
    return target


def fittable(target: np.ndarray, multi_label: bool) -> bool:
    """Whether a head can be fitted: two labels seen (several a text: each label both given and
    not given)."""
    if multi_label:
        counts = target.sum(axis=0)
        return bool(len(target) and (counts > 0).all() and (counts < len(target)).all())
    return len(np.unique(target)) >= 2


def unit_vectors(texts: list[str], embedder: Any) -> np.ndarray:
    """The texts' embeddings at unit length, as the loop reads them."""
    vectors = np.asarray(embedder.transform(texts), dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def curve_sentence(curve: list[dict[str, Any]]) -> str | None:
    """One plain sentence on whether more labels still pay, from the learning curve."""
    if len(curve) < 2:
        return None
    last = curve[-1]
    back = next((p for p in reversed(curve[:-1]) if last["labels"] - p["labels"] >= 50), curve[0])
    added = last["labels"] - back["labels"]
    gain = 100 * (last["score"] - back["score"])
    if added <= 0:
        return None
    verdict = ("more labels still pay" if gain >= 1 else "the gains are flattening" if gain >= 0.25
               else "more labels of this kind have stopped paying; review the suspects instead")
    return f"the last {added} labels added {gain:+.1f} points: {verdict}"


class Learner:
    """Refits in a background thread whenever answers arrived since the last refit."""

    def __init__(self, store: Any, vectors: np.ndarray, cold_order: np.ndarray, seed: int = 13,
                 log: Callable[[str], None] | None = None, tuner: Any = None) -> None:
        self.store, self.vectors, self.cold_order, self.seed = store, vectors, cold_order, seed
        self.tuner, self.tuned = tuner, None  # the tuned encoder's pool vectors, once one is adopted
        self.row_of = {text_id: row for row, text_id in enumerate(store.ids)}
        self.snapshot = Snapshot()
        self._head: Any = None  # the last refit's head, where the next one starts
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log = log or (lambda message: None)

    def start(self) -> Learner:
        self.refit()  # the first queue (and a model, when the database already has labels)
        self._thread = threading.Thread(target=self._run, name="bertclf-label-learner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        if self.tuner is not None:
            self.tuner.stop()

    def changed(self) -> None:
        """An answer arrived: refit soon (answers arriving meanwhile share one refit)."""
        self._wanted.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            try:
                self.refit()
            except Exception as exc:  # noqa: BLE001 - a failed refit keeps the old model; the page goes on
                self.log(f"warning: refitting the model failed ({type(exc).__name__}: {exc}); "
                         f"keeping the last one")

    def refit(self) -> Snapshot:
        started = time.perf_counter()
        everything = self.store.answered()
        answered = {i: labels for i, labels in everything.items() if i in self.row_of}
        done = set(everything) | self.store.skipped()
        rows = np.asarray([self.row_of[i] for i in answered], dtype=int)
        labels, multi = self.store.labels, self.store.multi_label
        # numpy, not a loop over the pool: this thread holds the GIL the page's requests need
        is_open = np.ones(len(self.store.ids), dtype=bool)
        is_open[[self.row_of[i] for i in done if i in self.row_of]] = False
        open_rows = np.flatnonzero(is_open)
        open_cold = self.cold_order[is_open[self.cold_order]]  # the cold-start order, answered ones out
        old = self.snapshot
        snap = Snapshot(labelled=len(rows), curve=list(old.curve))
        target = targets(list(answered.values()), labels, multi)
        vectors = self._model_vectors()
        if len(rows) >= strategy.MIN_LABELS and fittable(target, multi):
            head = self._head = fit_head(vectors[rows], target, multi, self.seed, self._head)
            snap.proba = probabilities(head, vectors, len(labels))
            snap.estimate, oof = cross_validate(self.vectors[rows], target, multi, len(labels), self.seed)
            if snap.estimate is not None and (not snap.curve or snap.curve[-1]["labels"] != len(rows)):
                snap.curve.append({"labels": len(rows), "score": snap.estimate["score"]})
            if oof is not None and not multi:
                given = oof[np.arange(len(target)), target]
                ids = list(answered)
                snap.suspects = [{"text_id": ids[r], "label": labels[target[r]],
                                  "model": labels[int(oof[r].argmax())], "p_label": round(float(given[r]), 3)}
                                 for r in np.argsort(given)[:SUSPECTS] if oof[r].argmax() != target[r]]
            covering = open_cold[:max(0, strategy.COVER_FIRST - len(rows))]
            covering = covering[np.isin(covering, self.cold_order[:strategy.COVER_FIRST])]
            if len(covering):  # the first answers still cover the pool (strategy.COVER_FIRST)
                snap.queue = [self.store.ids[r] for r in covering]
            elif len(open_rows):
                chosen = strategy.next_batch(snap.proba[open_rows], vectors, open_rows, BATCH, multi,
                                             self.seed)
                snap.queue = [self.store.ids[r] for r in chosen]
        else:
            snap.proba = old.proba
            snap.queue = [self.store.ids[r] for r in open_cold[:BATCH * 5]]
        queued = set(snap.queue)
        spare = open_cold[: SPARE + len(queued)]
        snap.spare = [self.store.ids[r] for r in spare if self.store.ids[r] not in queued][:SPARE]
        snap.tuning = self._tune(list(answered), target, rows, multi)
        snap.seconds = round(time.perf_counter() - started, 3)
        self.snapshot = snap
        return snap

    def _model_vectors(self) -> np.ndarray:
        """The kept tuned encoder's vectors, else the frozen; a tuning run's verdict is taken here."""
        news = self.tuner.take() if self.tuner is not None else None
        if news is not None:
            kept, fresh = news
            if kept and fresh is not None and fresh.shape == self.vectors.shape:
                self.tuned, self._head = fresh, None  # a head of other vectors is no start for this one
                self.log("the model now reads the few-shot tuned encoder's embeddings")
            elif not kept and self.tuned is not None:
                self.tuned, self._head = None, None  # the newer run measured no better than frozen
                self.log("the model reads the frozen embeddings again: the last tuning run did not beat them")
        return self.tuned if self.tuned is not None else self.vectors

    def _tune(self, answered: list[int], target: np.ndarray, rows: np.ndarray,
              multi: bool) -> dict[str, Any] | None:
        """Start a tuning run when one is due (one label a text); what the page says of tuning."""
        if self.tuner is None or multi:
            return None
        if self.tuner.due(len(rows)) and fittable(target, multi):
            self.tuner.start(answered, target, self.vectors[rows])
        shown = {k: v for k, v in (self.tuner.result or {}).items() if k != "ids"}
        return {**shown, "running": self.tuner.running, "in_use": self.tuned is not None}

    def next_texts(self, annotator: str, n: int = 1) -> list[int]:
        """Texts for ``annotator``, leased to them: the queue first, then the rest of the pool."""
        snap = self.snapshot
        chosen = self.store.lease(annotator, snap.queue, n)
        if len(chosen) < n:  # the queue is used up before the next refit: the spare texts
            chosen += self.store.lease(annotator, snap.spare, n - len(chosen))
        if len(chosen) < n:  # and those too: any unanswered text (a scan of the pool)
            chosen += self.store.lease(annotator, self.store.ids, n - len(chosen))
        if len(chosen) < n or len(snap.queue) < BATCH:
            self.changed()
        return chosen

    def suggestion(self, text_id: int) -> dict[str, float] | None:
        proba = self.snapshot.proba
        if proba is None:
            return None
        row = proba[self.row_of[text_id]]
        return {label: round(float(p), 4) for label, p in zip(self.store.labels, row, strict=True)}
