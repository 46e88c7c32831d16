"""The library calls behind `train` and `finetune` (search.training): what the CLI prints and
saves, a Python user gets from ``train_model``."""

import json

import pytest

from bertclf import Embedder, TextClassifier
from bertclf.errors import SpecError
from bertclf.io.labels import Split
from bertclf.search import Trained, check_way, train_model
from tests.conftest import LABELS, TEXTS


def _split() -> Split:
    held = [0, 8, 16, 1, 9, 17]
    kept = [i for i in range(len(TEXTS)) if i not in held]
    return Split([TEXTS[i] for i in kept], [LABELS[i] for i in kept], [TEXTS[i] for i in held],
                 [LABELS[i] for i in held], "6 held-out texts", held_out=0.25)


def test_train_model_returns_the_report_the_cli_prints_and_saves(tiny_model, tmp_path):
    trained = train_model(TextClassifier(Embedder(tiny_model, progress=False)), _split())
    assert isinstance(trained, Trained) and trained.name == "hybrid logreg" and trained.texts == 18
    assert trained.holdout.title == "hybrid logreg on 6 held-out texts"
    assert trained.holdout.report["n"] == 6 and 0 <= trained.holdout.metrics["accuracy"] <= 1
    assert set(trained.holdout.baseline) >= {"accuracy", "macro_f1", "train_seconds"}
    assert trained.metrics["tfidf_logreg_baseline"] == trained.holdout.baseline
    trained.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["metrics"]
    assert saved["accuracy"] == trained.metrics["accuracy"]
    assert trained.summary(str(tmp_path / "m"))["labels"] == ["money", "sport", "water"]
    assert "embeddings of layers" in trained.reads()


def test_without_held_out_rows_there_is_no_report_and_no_baseline(tiny_model):
    split = Split(TEXTS, LABELS, None, None, "")
    trained = train_model(TextClassifier(Embedder(tiny_model, progress=False), features="tfidf"), split,
                          baseline=True)
    assert trained.holdout is None and trained.metrics is None and trained.reads() == "TF-IDF n-grams"


def test_the_cli_saves_what_the_library_measures(run, tiny_model, train_csv, tmp_path):
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)["metrics"]
    assert set(printed) >= {"accuracy", "macro_f1", "evaluated_on", "tfidf_logreg_baseline"}
    assert json.loads((tmp_path / "m" / "config.json").read_text())["metrics"] == printed


@pytest.mark.parametrize(("settings", "fragment"), [
    ({"calibrate": "sigmoid"}, "--few-shot: --calibrate calibrates frozen heads"),
    ({"pair_col": "answer"}, "--few-shot: few-shot tuning reads single texts"),
    ({"embedder": Embedder(long="chunk")}, "--few-shot: few-shot models truncate long texts"),
])
def test_a_way_the_settings_do_not_allow_is_refused_before_any_work(settings, fragment):
    with pytest.raises(SpecError, match=fragment):
        check_way("few-shot", TextClassifier(**settings))
    check_way("plain", TextClassifier(**settings))  # a head on frozen features takes them all
    with pytest.raises(SpecError, match="unknown way of training 'magic'"):
        check_way("magic", TextClassifier())
