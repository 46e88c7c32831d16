"""--auto's honest estimate: overlapping texts kept together, check rows, the budget's reserve
(issue 20)."""

import numpy as np
import pytest

from bertclf import Embedder, TextClassifier
from bertclf.search.auto import CHECK_MAX, auto_train, check_rows, interval
from bertclf.search.groups import MAX_CONTAINERS, grouped_folds, overlap_groups
from tests.test_classifier import LABELS, TEXTS


@pytest.fixture
def embedder(tiny_model):
    return Embedder(tiny_model, progress=False)


def test_repeats_and_contained_texts_share_a_group():
    texts = ["A great, GREAT film!", "a great great film", "the plot was thin and slow",
             "honestly the plot was thin and slow to start", "good fun", "good fun was had by all here",
             "something else entirely"]
    groups, shared = overlap_groups(texts)
    assert groups[0] == groups[1]  # equal once lower-cased and without punctuation
    assert groups[2] == groups[3]  # four words or more, inside another text
    assert groups[4] != groups[5]  # too short to be more than a common phrase
    assert len({groups[0], groups[2], groups[4], groups[5], groups[6]}) == 5
    assert shared == 4


def test_a_phrase_inside_many_texts_links_none_of_them():
    common = "at the end of the day"
    texts = [common] + [f"{common} story {i} went on" for i in range(MAX_CONTAINERS + 1)]
    groups, shared = overlap_groups(texts)
    assert shared == 0 and len(set(groups)) == len(texts)


def test_folds_never_split_a_group():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40, size=300)
    target = groups % 3  # a group's texts share a label, as repeats do
    for train, test in grouped_folds(target, groups, 5, seed=1):
        assert not set(groups[train]) & set(groups[test])
        assert set(target[test]) == {0, 1, 2}
    plain = grouped_folds(target, None, 5, seed=1)
    assert sorted(np.concatenate([t for _, t in plain]).tolist()) == list(range(300))


def test_check_rows_are_a_stratified_share_taken_whole_groups_at_a_time():
    target = np.repeat([0, 1, 2], [200, 100, 40])
    groups = np.arange(len(target)) // 2  # pairs of texts
    search, check = check_rows(target, groups, seed=3)
    assert len(search) + len(check) == len(target) and not set(search) & set(check)
    assert 0.12 < len(check) / len(target) < 0.18
    assert not set(groups[search]) & set(groups[check])
    shares = np.bincount(target[check]) / len(check)
    np.testing.assert_allclose(shares, np.bincount(target) / len(target), atol=0.05)
    big = np.repeat([0, 1], 20_000)
    assert len(check_rows(big, None, seed=0)[1]) == CHECK_MAX
    few = np.repeat([0, 1], [50, 9])  # the rarest label has fewer than 10
    assert len(check_rows(few, None, seed=0)[1]) == 0


def test_interval_holds_the_accuracy_and_narrows_with_more_texts():
    low, high = interval(0.9, 100)
    assert low < 0.9 < high
    assert interval(0.9, 10_000)[1] - interval(0.9, 10_000)[0] < high - low
    assert interval(1.0, 50)[1] == pytest.approx(1.0) and interval(1.0, 50)[0] < 1.0


def test_auto_scores_its_winner_once_on_rows_the_search_never_saw(embedder, monkeypatch):
    import bertclf.search.auto

    seen = []
    real = bertclf.search.auto.Search.score_fold

    def spy(self, c, fold):
        seen.extend(self.splits[fold][0].tolist() + self.splits[fold][1].tolist())
        return real(self, c, fold)

    monkeypatch.setattr(bertclf.search.auto.Search, "score_fold", spy)
    texts, labels = TEXTS * 4, LABELS * 4  # 32 texts of each label
    texts = [f"{t} number {i}" for i, t in enumerate(texts)]
    messages = []
    model, result = auto_train(texts, labels, base=TextClassifier(embedder), budget="5m", log=messages.append)
    estimate = result.estimate
    assert estimate is not None and 0 <= estimate["accuracy"] <= 1
    assert estimate["interval"][0] <= estimate["accuracy"] <= estimate["interval"][1]
    assert estimate["cv_accuracy"] == round(result.winner.score, 4)
    never_searched = set(range(len(texts))) - set(seen)
    assert len(never_searched) == estimate["texts"] and 10 <= estimate["texts"] <= 20
    assert any("check texts the search never saw" in m for m in messages)
    assert result.summary()["estimate"] == estimate
    assert model.predict(texts).shape == (len(texts),)  # refitted on every row


def test_auto_says_when_texts_overlap_and_when_it_cannot_set_rows_aside(embedder):
    import re

    messages = []
    texts = [f"{t} and then some more words" for t in TEXTS] + TEXTS  # each repeated inside another
    _, result = auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="5m", log=messages.append)
    long_enough = sum(len(re.findall(r"\w+", t)) >= 4 for t in TEXTS)
    assert long_enough >= 8 and result.overlapping == 2 * long_enough
    assert any(f"{result.overlapping} training texts repeat or sit inside another" in m for m in messages)
    assert result.estimate is not None
    messages.clear()
    few, few_labels = TEXTS[:3] + TEXTS[8:11] + TEXTS[16:19], LABELS[:3] + LABELS[8:11] + LABELS[16:19]
    _, result = auto_train(few, few_labels, base=TextClassifier(embedder), budget="5m", log=messages.append)
    assert any("too few texts to set rows aside" in m for m in messages) and result.estimate is None


def test_the_budget_keeps_back_what_comes_after_the_search(embedder):
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 4)]
    _, result = auto_train(texts, LABELS * 4, base=TextClassifier(embedder), budget="5m",
                           after_texts=10**9)  # a report far larger than any budget
    board = result.leaderboard()
    scored = [r for r in board if r["cv_accuracy"] is not None]
    assert 1 <= len(scored) <= 2  # what ran before the first embedding pass was timed
    assert all(r["status"].startswith("skipped") for r in board if r["cv_accuracy"] is None)
