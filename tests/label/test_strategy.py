"""What the loop asks about: uncertain texts, spread over the space; covering texts to start."""

import numpy as np

from bertclf.label import strategy


def test_margins_rank_ties_first():
    proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.5, 0.5, 0.0]])
    assert np.argsort(strategy.margins(proba)).tolist() == [2, 1, 0]
    multi = np.array([[0.9, 0.1], [0.55, 0.02], [0.3, 0.7]])
    assert np.argmin(strategy.margins(multi, multi_label=True)) == 1


def test_a_batch_is_uncertain_and_diverse():
    rng = np.random.default_rng(0)
    # two tight groups of near-duplicates, the first a little less sure than the second, and sure
    # texts elsewhere: the plain margin takes both from the first group, the batch one of each
    vectors = np.vstack([rng.normal(0, 0.01, (10, 4)) + [5, 0, 0, 0],
                         rng.normal(0, 0.01, (10, 4)) + [0, 5, 0, 0], rng.normal(0, 1, (80, 4))])
    top = np.concatenate([np.linspace(0.50, 0.51, 10), np.linspace(0.52, 0.53, 10), np.full(80, 0.99)])
    proba = np.column_stack([top, 1 - top])
    rows = np.arange(100)
    plain = strategy.next_batch(proba, vectors, rows, 2, diverse=False)
    spread = strategy.next_batch(proba, vectors, rows, 2)
    assert all(r < 20 for r in spread)  # only uncertain texts
    assert sorted(int(r) // 10 for r in spread) == [0, 1]  # one from each group
    assert [int(r) // 10 for r in plain] == [0, 0]


def test_cold_start_covers_the_clusters_and_keywords_take_turns():
    rng = np.random.default_rng(1)
    centres = np.eye(5) * 10
    vectors = np.vstack([c + rng.normal(0, 0.1, (30, 5)) for c in centres])
    chosen = strategy.covering(vectors, np.arange(150), 5)
    assert sorted(int(r) // 30 for r in chosen) == [0, 1, 2, 3, 4]
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.7], [0.2, 0.95]])
    assert strategy.keyword_start(scores, np.arange(4), 4).tolist() == [0, 3, 1, 2]


def test_the_model_suggests_from_ten_answers_but_asks_only_after_the_covering_ones(tmp_path, monkeypatch):
    from bertclf.label.learner import Learner
    from bertclf.label.store import LabelStore

    monkeypatch.setattr(strategy, "COVER_FIRST", 50)  # longer than the default, to tell the phases apart
    rng = np.random.default_rng(2)
    size = 600  # the model's candidates (10 per text asked) are a sixth of the pool
    vectors = rng.normal(0, 1, (size, 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store, _ = LabelStore.create_or_open(tmp_path / "l.db", [f"text {i}" for i in range(size)], ["a", "b"])
    rows = np.arange(size)
    cover = strategy.covering(vectors, rows, strategy.COVER_FIRST)
    learner = Learner(store, vectors, np.concatenate([cover, np.setdiff1d(rows, cover)]))
    covering_ids = {store.ids[r] for r in cover}

    def answer(count):
        for text_id in store.lease("ann", learner.refit().queue, count):
            store.answer(text_id, ["a" if vectors[learner.row_of[text_id], 0] > 0 else "b"], "ann")

    answer(20)
    snap = learner.refit()
    assert snap.proba is not None  # a model from 10 answers on: the page shows its suggestion
    assert set(snap.queue) <= covering_ids and snap.queue  # but the covering texts come first
    while len(store.answered()) < strategy.COVER_FIRST:
        answer(10)
    asked = [learner.row_of[i] for i in learner.refit().queue]
    open_rows = [learner.row_of[i] for i in store.ids if i not in store.answered()]
    # then the model's uncertain texts: near its boundary (the first coordinate's sign decides)
    assert asked and np.abs(vectors[asked, 0]).mean() < 0.5 * np.abs(vectors[open_rows, 0]).mean()
    store.close()
