"""Few-shot tuning behind the loop: the held-back split, the rule that adopts a tuned encoder, the
job in its own process (and a session that resumes its vectors), and the learner switching to
the tuned vectors without blocking."""

import time

import numpy as np
import pytest

from bertclf import Embedder
from bertclf.label import tuning
from bertclf.label.learner import Learner, unit_vectors
from bertclf.label.session import start_session
from bertclf.label.store import LabelStore
from bertclf.label.tuning import Tuner, check_split, tune_and_check, tuning_folder
from tests.conftest import LABELS, TEXTS

POOL = TEXTS + [f"{t} again" for t in TEXTS]
NAMES = ["sport", "money", "water"]


def wait_for(condition, seconds=120.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background job did not finish"
        time.sleep(0.1)


def test_the_check_split_holds_back_a_share_of_each_label_and_keeps_two_for_tuning():
    target = np.asarray([0] * 10 + [1] * 5 + [2] * 2)
    tune, check = check_split(target, seed=0)
    assert sorted(np.concatenate([tune, check]).tolist()) == list(range(17))
    assert np.bincount(target[check], minlength=3).tolist() == [2, 1, 0]  # 20 %, rounded; none of 2
    assert (np.bincount(target[tune], minlength=3) >= 2).all()
    assert check_split(target, seed=0)[1].tolist() == check.tolist()  # seeded


def test_tune_and_check_scores_both_encoders_on_the_same_held_back_answers(tiny_model):
    embedder = Embedder(tiny_model, progress=False)
    labels = [NAMES.index(label) for label in LABELS] * 2
    target = np.asarray(labels)
    frozen = unit_vectors(POOL, embedder)
    result, tuned = tune_and_check(POOL, target, frozen, NAMES, tiny_model, seed=3)
    _, check = check_split(target, 3)
    assert result["check"] == len(check) > 0 and result["labels"] == len(POOL)
    assert result["adopted"] == (result["tuned"] > result["frozen"])
    assert 0 <= result["frozen"] <= 1 and 0 <= result["tuned"] <= 1
    moved = unit_vectors(POOL[:3], tuned.embedder_)
    assert moved.shape == (3, frozen.shape[1]) and not np.allclose(moved, frozen[:3], atol=1e-3)


def test_with_nothing_to_check_on_nothing_is_tuned(tiny_model):
    result, tuned = tune_and_check(POOL[:3], np.asarray([0, 1, 2]), np.zeros((3, 4)), NAMES, tiny_model)
    assert tuned is None and result["adopted"] is False and result["check"] == 0


def test_a_job_in_its_own_process_writes_its_figures_and_a_new_session_resumes_its_vectors(
        tiny_model, tmp_path, monkeypatch, run):
    monkeypatch.setattr(tuning, "TUNE_FROM", 20)
    db = tmp_path / "t.db"
    store, learner, _ = start_session(POOL, NAMES, db, Embedder(tiny_model, progress=False))
    try:
        truth = dict(zip(POOL, LABELS * 2, strict=True))
        texts = store.texts(store.ids)
        for text_id in store.ids[:24]:
            store.answer(text_id, [truth[texts[text_id]]], "ann")
        learner.changed()
        wait_for(lambda: learner.tuner.running or learner.tuner.result is not None)
        wait_for(lambda: not learner.tuner.running and learner.tuner.result is not None)
        result = learner.tuner.result
        assert result["labels"] == 24 and result["adopted"] == (result["tuned"] > result["frozen"]), result
        assert result["ids"] == store.ids
        wait_for(lambda: learner.snapshot.tuning is not None and not learner.snapshot.tuning["running"])
        assert learner.snapshot.tuning["in_use"] == result["adopted"]
        assert "ids" not in learner.snapshot.tuning  # the page is not sent the pool's ids
        saved = tuning_folder(db) / tuning.VECTORS
        assert saved.exists() == result["adopted"]
    finally:
        learner.stop()
        store.close()
    status = run("label", "status", str(db))
    assert status.exit_code == 0 and f"few-shot tuning on 24 labels: {result['tuned']:.3f}" in status.output
    assert "adopted" in status.output
    again = Tuner(db, LabelStore.open(db).ids, tiny_model)
    assert again.result["labels"] == 24 and not again.due(30)  # not before 1.5x the answers
    news = again.take()
    assert (news is not None) == result["adopted"]  # a kept run's vectors come back; none otherwise
    if news is not None:
        assert news[0] is True and news[1].shape[0] == len(POOL) and again.take() is None  # once


def test_a_failed_job_is_reported_once_and_waits_for_more_answers(tmp_path, monkeypatch):
    said = []
    db = tmp_path / "t.db"
    store, _ = LabelStore.create_or_open(db, POOL, NAMES)
    tuner = Tuner(db, store.ids, str(tmp_path / "no-such-model"), log=said.append)
    n = len(store.ids)
    target = np.arange(n) % 3
    tuner.start(store.ids, target, np.ones((n, 4), dtype=np.float32))
    wait_for(lambda: tuner.result is not None)
    assert tuner.result["adopted"] is False and not tuner.due(n + 1)
    assert tuner.due(max(n * 2, tuning.TUNE_FROM))
    assert any("few-shot tuning failed" in line and "job.log" in line for line in said)
    assert "no-such-model" in (tuning_folder(db) / tuning.LOG).read_text()
    store.close()


class _Given:
    """A tuner whose runs finish with the verdicts a test puts in ``news``."""

    def __init__(self):
        self.news, self.result, self.running, self.started = None, None, False, []

    def due(self, answers):
        return answers >= 20 and not self.started

    def start(self, answered, target, frozen):
        self.started.append((list(answered), frozen.shape))
        self.result = {"labels": len(answered), "adopted": True, "ids": [1, 2]}

    def take(self):
        news, self.news = self.news, None
        return news

    def stop(self):
        pass


def test_the_learner_starts_a_due_run_and_reads_adopted_vectors_from_its_next_refit(tmp_path):
    rng = np.random.default_rng(0)
    frozen = rng.normal(size=(len(POOL), 8)).astype(np.float32)
    target = np.asarray([NAMES.index(x) for x in LABELS * 2])
    centres = rng.normal(size=(3, 8))
    tuned = (centres[target] + rng.normal(0, 0.01, (len(POOL), 8))).astype(np.float32)  # separable
    store, _ = LabelStore.create_or_open(tmp_path / "t.db", POOL, NAMES)
    given = _Given()
    learner = Learner(store, frozen, np.arange(len(POOL)), tuner=given)
    texts = store.texts(store.ids)
    truth = dict(zip(POOL, LABELS * 2, strict=True))
    for text_id in store.ids[:24]:
        store.answer(text_id, [truth[texts[text_id]]], "ann")
    snap = learner.refit()
    assert given.started and given.started[0][1] == (24, 8)  # started with the frozen vectors
    assert snap.tuning["in_use"] is False and "ids" not in snap.tuning
    given.news = (True, tuned)
    snap = learner.refit()
    assert learner.tuned is tuned and snap.tuning["in_use"] is True
    suggested = snap.proba.argmax(axis=1)
    assert (suggested == target).mean() == 1.0  # the head now reads the tuned (separable) vectors
    assert snap.estimate["labels"] == 24  # still the frozen head's cross-validation
    assert learner.refit().tuning["in_use"] is True  # no new verdict: it stays
    given.news = (False, None)  # a later run measured no better than the frozen embeddings
    snap = learner.refit()
    assert learner.tuned is None and snap.tuning["in_use"] is False
    store.close()


@pytest.mark.parametrize("options", [{"multi_label": True}, {"tune": False}])
def test_several_labels_a_text_or_tune_false_run_no_tuning(tiny_model, tmp_path, options):
    store, learner, _ = start_session(POOL, NAMES, tmp_path / "m.db", Embedder(tiny_model, progress=False),
                                      **options)
    try:
        assert learner.tuner is None and learner.snapshot.tuning is None
    finally:
        learner.stop()
        store.close()
    assert not tuning_folder(tmp_path / "m.db").exists()
