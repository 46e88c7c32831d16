"""Calibrated probabilities (--calibrate), the expected calibration error and its diagram."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertclf import Embedder, TextClassifier
from bertclf.classify.calibration import Calibrator
from bertclf.errors import SpecError
from bertclf.evaluate.ece import reliability
from tests.conftest import assert_one_line_error


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy():
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    target = np.array([0, 1, 0, -1])  # -1: a label the model never saw, always wrong
    report = reliability(proba, target, bins=10)
    # bin 0.8-0.9: 2 texts, confidence 0.9, accuracy 0.5; bin 0.5-0.6: 2 texts, 0.6, accuracy 0.5
    assert report["ece"] == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    assert sum(b["count"] for b in report["bins"]) == 4
    perfect = reliability(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1]))
    assert perfect["ece"] == pytest.approx(0.0)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrators_fix_overconfidence_and_survive_json(method):
    rng = np.random.default_rng(0)
    target = rng.integers(0, 2, 2000)
    right = rng.random(2000) < 0.7  # 70% right, but always 99% sure
    top = np.where(right, target, 1 - target)
    proba = np.where(top[:, None] == np.arange(2), 0.99, 0.01)
    before = reliability(proba, target)["ece"]
    calibrator = Calibrator.fit(method, proba, target)
    after = calibrator.apply(proba)
    assert before > 0.25 and reliability(after, target)["ece"] < 0.03
    np.testing.assert_allclose(after.sum(axis=1), 1.0)
    again = Calibrator.from_json(json.loads(json.dumps(calibrator.to_json())), 2)
    np.testing.assert_allclose(again.apply(proba), after)


def test_a_calibrated_classifier_saves_loads_and_predicts_the_same(tiny_model, tmp_path):
    texts = [f"{w} {i}" for i in range(12) for w in ("the bank rate money", "the river flood water")]
    labels = ["money", "water"] * 12
    embedder = Embedder(model=tiny_model, backend="onnx")
    model = TextClassifier(embedder, calibrate="isotonic").fit(texts, labels)
    plain = TextClassifier(Embedder(model=tiny_model, backend="onnx")).fit(texts, labels)
    assert not np.allclose(model.predict_proba(texts), plain.predict_proba(texts))
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    calibration = config["parts"]["calibration"]["settings"]  # format 2: parts keep their settings
    assert calibration["method"] == "isotonic" and len(calibration["params"]) == 2
    loaded = TextClassifier.load(tmp_path / "m", backend="onnx")
    assert loaded.calibrate == "isotonic"
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-6)
    with pytest.raises(SpecError, match="unknown calibration 'platt'"):
        TextClassifier(Embedder(model=tiny_model), calibrate="platt").fit(texts, labels)
    with pytest.raises(SpecError, match="--calibrate is for one label per text"):
        TextClassifier(Embedder(model=tiny_model), calibrate="sigmoid").fit(texts, [[1, 0], [0, 1]] * 12)


def test_train_calibrate_and_evaluate_show_ece_and_draw_the_diagram(run, tiny_model, write, tmp_path):
    rows = "\n".join(f"{t} {i},{label}" for i in range(10)
                     for t, label in (("the bank rate money", "money"), ("the river flood water", "water"),
                                      ("the sport game team", "sport")))
    source = write("train.csv", "text,label\n" + rows + "\n")
    trained = run("train", source, "--model", tiny_model, "--calibrate", "sigmoid", "--out", tmp_path / "m",
                  "--no-cache")
    assert trained.exit_code == 0, trained.output
    assert "ECE" in trained.stdout
    result = run("evaluate", tmp_path / "m", source, "--plot", tmp_path / "cm.png")
    assert result.exit_code == 0, result.output
    assert "ECE" in result.stdout and (tmp_path / "cm-reliability.png").stat().st_size > 1000
    assert "wrote the reliability diagram" in result.stderr
    report = json.loads(run("evaluate", tmp_path / "m", source, "--json").stdout)
    assert 0 <= report["ece"] <= 1 and len(report["calibration"]["bins"]) == 15
    few = write("few.csv", "text,label\nthe bank,money\nthe river,water\nthe sport,sport\nthe game,sport\n")
    refused = run("train", few, "--model", tiny_model, "--calibrate", "isotonic", "--holdout", "0",
                  "--out", tmp_path / "m2")
    assert_one_line_error(refused, "calibration needs at least 2 training texts")


def test_the_calibration_hint_shows_only_where_calibration_would_help():
    from bertclf.evaluate.ece import calibrated_ece, reliability
    from bertclf.render.console import ece_hint

    rng = np.random.default_rng(0)
    n, k = 600, 4
    logits = rng.normal(0, 2.0, (n, k))
    honest = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = np.array([rng.choice(k, p=p) for p in honest])  # labels drawn from the probabilities
    timid = np.exp(logits / 4) / np.exp(logits / 4).sum(axis=1, keepdims=True)  # same ranks, underconfident
    for proba, helps in ((honest, False), (timid, True)):
        report = {"ece": reliability(proba, target)["ece"],
                  "ece_if_calibrated": calibrated_ece(proba, target)}
        assert ("--calibrate sigmoid" in ece_hint(report)) is helps, report
    assert calibrated_ece(honest[:20], target[:20]) is None  # too few texts to tell
    assert "calibrated by --calibrate isotonic" in ece_hint({"calibrated": "isotonic", "ece": 0.01})
