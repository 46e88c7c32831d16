"""A vote of linear models merged into one ordinary model (issue 20, ensembles)."""

import numpy as np
import pytest

from bertclf import Embedder, TextClassifier
from bertclf.classify.heads import softmax
from bertclf.classify.vote import can_vote, merge
from bertclf.errors import SpecError
from tests.conftest import LABELS, TEXTS

NEW = ["the game of the team", "a loan at the bank", "water in the river", "the flood rate", "money"]


@pytest.fixture
def embedder(tiny_model):
    return Embedder(tiny_model, progress=False, normalize=False)


def _members(embedder, kinds, labels=LABELS):
    made = []
    for features, tfidf, scaling, C in kinds:
        model = TextClassifier(embedder, features=features, tfidf=tfidf, scaling=scaling, C=C)
        made.append(model.fit(TEXTS, labels))
    return made


def _vote(members, texts):
    """The geometric soft vote, computed from the members' own probabilities."""
    logs = np.mean([np.log(m.predict_proba(texts)) for m in members], axis=0)
    return softmax(logs, axis=1)


MIXED = [("tfidf", "word", "none", 10.0), ("embedding", "word", "standard", 0.1),
         ("hybrid", "word", "none", 1.0),
         ("hybrid", "word+char", "none", 10.0)]


@pytest.mark.parametrize("kinds", [MIXED, MIXED[:2], MIXED[1:2] * 2, [MIXED[0], MIXED[3]]])
def test_the_merged_model_predicts_the_vote(embedder, kinds, tmp_path):
    members = _members(embedder, kinds)
    merged = merge(members, names=[str(k) for k in kinds])
    np.testing.assert_allclose(merged.predict_proba(NEW), _vote(members, NEW), rtol=0, atol=1e-9)
    merged.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict_proba(NEW), _vote(members, NEW), rtol=0, atol=1e-9)
    from bertclf.runtime import Model

    np.testing.assert_allclose(Model(tmp_path / "m").predict_proba(NEW), _vote(members, NEW), atol=1e-5)
    assert back.training_["vote"] == [str(k) for k in kinds]


def test_a_binary_vote(embedder):
    labels = ["a" if label == "sport" else "b" for label in LABELS]
    members = _members(embedder, MIXED[:3], labels)
    np.testing.assert_allclose(merge(members).predict_proba(NEW), _vote(members, NEW), atol=1e-9)


def test_what_cannot_be_merged(embedder, tiny_model):
    l2 = TextClassifier(embedder, features="embedding", scaling="l2")
    svm = TextClassifier(embedder, head="svm")
    other = TextClassifier(Embedder(tiny_model, pooling="cls", progress=False), features="hybrid")
    plain = TextClassifier(embedder, features="hybrid")
    assert "standardised" in can_vote([plain, l2])
    assert "logistic-regression" in can_vote([plain, svm])
    assert "pooling and layers" in can_vote([plain, other])
    assert can_vote([plain, TextClassifier(embedder, features="tfidf")]) is None
    with pytest.raises(SpecError, match="same labels"):
        merge([m.fit(TEXTS, labels) for m, labels in ((TextClassifier(embedder, features="tfidf"), LABELS),
                                                       (TextClassifier(embedder, features="tfidf"),
                                                        ["x" if x == "sport" else x for x in LABELS]))])


def test_auto_keeps_a_vote_only_when_it_beats_every_finalist(embedder, monkeypatch, tmp_path):
    import bertclf.search.auto
    import bertclf.search.voting
    from bertclf.search.auto import auto_train

    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 4)]
    labels = LABELS * 4
    _, result = auto_train(texts, labels, base=TextClassifier(embedder), budget="5m", finetune=False)
    votes = [c for c in result.candidates if c.features == "vote"]
    singles = [c for c in result.candidates if len(c.scores) == result.folds and c.features != "vote"]
    if votes:  # there only if it beat the best single candidate on the same folds
        assert votes[0].score > max(c.score for c in singles) and len(votes[0].members) >= 2
    monkeypatch.setattr(bertclf.search.voting, "vote_scores",
                        lambda members, splits, target: [2.0] * len(splits))
    model, result = auto_train(texts, labels, base=TextClassifier(embedder), budget="5m", finetune=False)
    vote = result.winner
    assert vote.features == "vote" and vote.name.startswith("vote: ") and vote.check is not None
    assert isinstance(model, TextClassifier) and model.training_["vote"] == [m.name for m in vote.members]
    assert sorted(vote.oof) == list(range(result.folds))  # its out-of-fold answers: the members' vote
    np.testing.assert_allclose(vote.oof[0], bertclf.search.voting.vote_oof(vote.members, result.folds)[0])
    members = [bertclf.search.auto.winner_model(m, model).fit(texts, labels) for m in vote.members]
    np.testing.assert_allclose(model.predict_proba(NEW), _vote(members, NEW), atol=1e-9)
    model.save(tmp_path / "vote")
    assert TextClassifier.load(tmp_path / "vote").predict(NEW).shape == (5,)
    board = result.summary()["leaderboard"]
    assert board[0]["features"] == "vote" and board[0]["cv_score"] == 2.0
