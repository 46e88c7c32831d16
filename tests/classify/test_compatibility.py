"""One rule of what combines (classify.compatibility): every caller gets the same answer."""

from types import SimpleNamespace

import pytest

from bertclf import Embedder, TextClassifier
from bertclf.classify import why_unsupported
from bertclf.classify.compatibility import why_not_merged


@pytest.mark.parametrize(("way", "settings", "multilabel", "fragment"), [
    ("head", {"calibrate": "sigmoid"}, True, "--calibrate is for one label per text"),
    ("few-shot", {}, True, "few-shot tuning reads one label per text"),
    ("fine-tune", {}, True, "fine-tuning in --auto reads one label per text"),
    ("vote", {}, True, "the soft vote merges models of one label per text"),
    ("few-shot", {"calibrate": "isotonic"}, False, "not a tuned encoder"),
    ("fine-tune", {"calibrate": "isotonic"}, False, "not a fine-tuned layer"),
    ("vote", {"calibrate": "isotonic"}, False, "only uncalibrated models of single texts"),
    ("few-shot", {"meta_cols": ["year"]}, False, "reads single texts"),
    ("vote", {"pair_col": "answer"}, False, "only uncalibrated models of single texts"),
    ("few-shot", {"embedder": Embedder(long="head-tail")}, False, "--long is head-tail"),
])
def test_each_refusal_names_its_reason(way, settings, multilabel, fragment):
    assert fragment in why_unsupported(way, TextClassifier(**settings), multilabel)


@pytest.mark.parametrize("way", ["head", "few-shot", "fine-tune", "vote"])
def test_the_defaults_combine_with_every_way(way):
    assert why_unsupported(way, TextClassifier()) is None
    assert why_unsupported("head", TextClassifier(calibrate="sigmoid")) is None  # one label: fine


def test_an_unknown_way_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown way of training"):
        why_unsupported("boosting", TextClassifier())


def test_merging_asks_the_same_rule_of_every_member():
    member = {"head": "logreg", "features": "hybrid", "scaling": "standard", "setting": ("mean", -1)}
    ok = [SimpleNamespace(**member), SimpleNamespace(**{**member, "features": "tfidf", "setting": None})]
    assert why_not_merged(ok) is None
    svm = SimpleNamespace(**{**member, "head": "svm"})
    assert "only logistic-regression members" in why_not_merged(ok + [svm])
    raw = SimpleNamespace(**{**member, "features": "embedding", "scaling": "none"})
    assert "must be standardised" in why_not_merged([raw])
    other = SimpleNamespace(**{**member, "setting": ("cls", -1)})
    assert "share their pooling and layers" in why_not_merged(ok + [other])
    calibrated = SimpleNamespace(**member, calibrate="sigmoid")
    assert "uncalibrated" in why_not_merged([calibrated])
