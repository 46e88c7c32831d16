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
