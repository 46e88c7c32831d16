"""Few-shot tuning behind the loop, kept only where it measures better than the head.

Tuning the encoder on the answers (``FewShot``) often beats the head on frozen embeddings by
several points, sometimes loses, and costs half a minute to minutes on two cores (docs/results.md,
"Few-shot tuning on the loop's answers"). So it runs in a separate, lowest-priority process (its
threads and its GIL never meet the page's) once there are ``TUNE_FROM`` answers, and again when
the answers have grown by ``GROWTH``. Each run holds back a stratified ``CHECK_SHARE`` of the
answers, tunes on the rest, and fits the loop's own head on both the frozen and the tuned
embeddings of the same rows: the tuned encoder is adopted only if its head answers more of the held
back texts correctly. Then it embeds the pool, and the learner's head reads those vectors from its
next refit on; a later run that is not kept sends it back to the frozen embeddings. The estimate
on the page stays the frozen head's cross-validation (the tuned encoder has seen the answers, so
a cross-validation on its vectors would flatter it); the run's own check is shown beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TUNE_FROM = 50  # answers before the first tuning
GROWTH = 1.5  # tune again once the answers have grown by this factor since the last run
CHECK_SHARE = 0.2  # answers held back to judge the tuned encoder against the head
RESULT, VECTORS, JOB, LOG = "result.json", "vectors.npy", "job.json", "job.log"


def tuning_folder(db: str | os.PathLike[str]) -> Path:
    """``posts.labels.db`` -> ``posts.labels.tuned/`` beside it."""
    path = Path(db)
    return path.with_name(path.stem + ".tuned")


def last_run(db: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The figures of the last finished tuning run for the database ``db`` (None if none)."""
    try:
        result = json.loads((tuning_folder(db) / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {k: v for k, v in result.items() if k != "ids"}


def check_split(target: np.ndarray, seed: int, share: float = CHECK_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(tuning rows, check rows): ``share`` of each label's answers held back, at least two kept
    for tuning (a label with fewer than three answers is not checked on)."""
    rng = np.random.default_rng(seed)
    tune, check = [], []
    for label in np.unique(target):
        rows = rng.permutation(np.flatnonzero(target == label))
        k = min(int(round(len(rows) * share)), max(len(rows) - 2, 0))
        check.append(rows[:k])
        tune.append(rows[k:])
    return np.sort(np.concatenate(tune)), np.sort(np.concatenate(check))


def tune_and_check(texts: Sequence[str], target: np.ndarray, frozen: np.ndarray, labels: Sequence[str],
                   model: str, seed: int = 13) -> tuple[dict[str, Any], Any]:
    """Tune on the answers but the check rows, and score the loop's head on the check rows with the
    frozen (``frozen``: the answers' unit vectors) and the tuned embeddings. Returns the figures and
    the tuned ``TextClassifier`` (None when there was nothing to check on): its ``embedder_`` reads
    with the tuned encoder, whose folder lives as long as the classifier does."""
    from bertclf.finetune.fewshot import FewShot
    from bertclf.label.learner import fit_head, probabilities, unit_vectors

    began = time.perf_counter()
    tune, check = check_split(target, seed)
    counts = np.bincount(target[tune], minlength=len(labels))
    tuning = tune[counts[target[tune]] >= 2]  # FewShot needs two texts of every label it reads
    if not len(check) or len(np.unique(target[tuning])) < 2:
        return {"labels": len(target), "check": 0, "adopted": False,
                "reason": "too few answers to check on"}, None
    fewshot = FewShot(model=model, seed=seed, progress=False)
    fewshot.fit([texts[i] for i in tuning], [labels[t] for t in target[tuning]])
    tuned = unit_vectors(list(texts), fewshot.classifier_.embedder_)

    def correct(vectors: np.ndarray) -> int:
        head = fit_head(vectors[tune], target[tune], False, seed)
        guess = probabilities(head, vectors[check], len(labels)).argmax(axis=1)
        return int((guess == target[check]).sum())

    frozen_right, tuned_right = correct(frozen), correct(tuned)
    return {"labels": len(target), "tuned_on": len(tuning), "check": len(check),
            "frozen": round(frozen_right / len(check), 4), "tuned": round(tuned_right / len(check), 4),
            "adopted": tuned_right > frozen_right,
            "seconds": round(time.perf_counter() - began, 1)}, fewshot.classifier_


class Tuner:
    """Starts a tuning job when one is due, watches it, and hands its verdict to the learner once."""

    def __init__(self, db: str | os.PathLike[str], ids: Sequence[int], model: str, seed: int = 13,
                 done: Callable[[], None] | None = None, log: Callable[[str], None] | None = None) -> None:
        self.db, self.ids, self.model, self.seed = Path(db), list(ids), model, seed
        self.folder = tuning_folder(db)
        self.done = done or (lambda: None)
        self.log = log or (lambda message: None)
        self.result: dict[str, Any] | None = None  # the last finished run's figures
        self._news: tuple[bool, np.ndarray | None] | None = None  # a verdict not yet taken
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._resume()

    def _resume(self) -> None:
        """A run of an earlier session: its figures, and its vectors while the pool is the same."""
        try:
            result = json.loads((self.folder / RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self.result = result
        if result.get("adopted") and result.get("ids") == self.ids:
            try:
                self._news = (True, np.load(self.folder / VECTORS))
            except (OSError, ValueError):
                self.result = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def due(self, answers: int) -> bool:
        last = self.result["labels"] if self.result else 0
        return not self.running and answers >= TUNE_FROM and answers >= GROWTH * last

    def start(self, answered: Sequence[int], target: np.ndarray, frozen: np.ndarray) -> None:
        """Tune on the texts ``answered`` (ids) with ``target`` and their frozen unit vectors."""
        self.folder.mkdir(parents=True, exist_ok=True)
        np.save(self.folder / "frozen.npy", frozen)
        job = {"db": str(self.db.resolve()), "model": self.model, "seed": self.seed, "ids": self.ids,
               "answered": [int(i) for i in answered], "target": [int(t) for t in target]}
        (self.folder / JOB).write_text(json.dumps(job), encoding="utf-8")
        with open(self.folder / LOG, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bertclf.label.tune_job", str(self.folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.log(f"few-shot tuning on {len(answered)} answers started in the background")
        threading.Thread(target=self._watch, args=(self._process, len(answered)), daemon=True,
                         name="bertclf-label-tuner").start()

    def _watch(self, process: subprocess.Popen[bytes], answers: int) -> None:
        code = process.wait()
        try:
            result = json.loads((self.folder / RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
        if code != 0 or result is None or result.get("labels") != answers:
            if code > 0:  # not stopped by us: say so once, and wait for more answers before a retry
                self.log(f"warning: few-shot tuning failed (exit {code}; see {self.folder / LOG}); "
                         f"the head on the frozen embeddings goes on")
            self.result = {"labels": answers, "adopted": False, "reason": f"the tuning job ended with {code}"}
            return
        with self._lock:
            self.result = result
            self._news = (True, np.load(self.folder / VECTORS)) if result["adopted"] else (False, None)
        verdict = "adopted" if result["adopted"] else "not adopted"
        self.log(f"few-shot tuning {verdict}: {result.get('tuned')} against the head's "
                 f"{result.get('frozen')} on {result.get('check')} held-back answers")
        self.done()

    def take(self) -> tuple[bool, np.ndarray | None] | None:
        """The last finished run's verdict, once: (True, the pool's tuned vectors) when it was kept,
        (False, None) when not; None when no run finished since the last call."""
        with self._lock:
            news, self._news = self._news, None
        return news

    def stop(self) -> None:
        if self.running:
            self._process.terminate()
