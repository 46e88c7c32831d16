"""Few labels: contrastive tuning of the encoder, then a head on its embeddings (issue 21)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bertclf import BertclfWarning, Embedder, TextClassifier
from bertclf.errors import InputError, SpecError
from bertclf.finetune.contrastive import (
    ContrastiveConfig,
    class_batches,
    cosine_pair_loss,
    pair_batches,
    settled,
    supcon_loss,
)
from bertclf.finetune.fewshot import FewShot
from tests.conftest import LABELS, TEXTS

NEW = ["the team won the game", "money in the bank", "rain on the river"]


def _fast(tiny_model, **settings):
    return FewShot(tiny_model, **{"epochs": 3, "lr": 1e-3, "batch_size": 8, "settle": 0, "progress": False,
                                  "objective": "supcon", "rounds": 1, **settings})


def test_batches_hold_each_text_once_with_a_positive_beside_it():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 8)
    lengths = np.arange(len(labels))
    cfg = ContrastiveConfig(epochs=1, lr=1e-5, batch_size=6, per_class=2, temperature=0.1, warmup=0.1,
                            weight_decay=0.0, settle=0.0, seed=3)
    batches = class_batches(labels, lengths, cfg, epoch=0)
    together = np.concatenate(batches)
    assert sorted(together.tolist()) == list(range(len(labels)))  # every text once
    for batch in batches:  # every text has a same-class batch-mate
        counts = np.bincount(labels[batch])
        assert counts[counts > 0].min() >= 2
    assert [b.tolist() for b in class_batches(labels, lengths, cfg, 0)] == [b.tolist() for b in batches]
    assert [b.tolist() for b in class_batches(labels, lengths, cfg, 1)] != [b.tolist() for b in batches]


def test_pairs_are_setfits_one_same_class_and_one_other_class_partner_per_text_and_round():
    labels = np.array([0] * 3 + [1] * 2 + [2] * 4)
    cfg = ContrastiveConfig(epochs=1, lr=1e-5, batch_size=4, per_class=2, temperature=0.1, warmup=0.1,
                            weight_decay=0.0, settle=0.0, seed=3, objective="pairs", rounds=3)
    batches = pair_batches(labels, cfg)
    firsts = np.concatenate([rows[:len(t)] for rows, t in batches])
    partners = np.concatenate([rows[len(t):] for rows, t in batches])
    similar = np.concatenate([t for _, t in batches])
    assert len(similar) == 2 * 3 * len(labels) and max(len(t) for _, t in batches) == 4
    assert (np.bincount(firsts) == 6).all() and similar.mean() == 0.5  # each text: 3 rounds of 2 pairs
    assert (firsts != partners).all()
    np.testing.assert_array_equal(similar, labels[firsts] == labels[partners])
    assert [r.tolist() for r, _ in pair_batches(labels, cfg)] == [r.tolist() for r, _ in batches]  # seeded
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [1.0, 0.0]])  # (a, b) then partners
    assert cosine_pair_loss(vectors, torch.tensor([1.0, 0.0])) < 0.01 < cosine_pair_loss(
        vectors, torch.tensor([0.0, 1.0]))


def test_three_or_four_classes_tune_on_setfits_pairs(tiny_model):
    assert [FewShot()._config(n).objective for n in (2, 3, 4, 5, 77)] == \
        ["supcon", "pairs", "pairs", "supcon", "supcon"]
    assert FewShot(objective="supcon")._config(4).objective == "supcon"
    assert FewShot(objective="pairs")._config(2).objective == "pairs"
    model = _fast(tiny_model, objective="auto", lr="auto").fit(TEXTS, LABELS)  # three classes
    settings = model.training_["few_shot"]["settings"]
    assert settings["objective"] == "pairs" and settings["lr"] == 4e-5 and len(model.history_) == 1
    assert model.history_[0]["pairs"] == 2 * len(TEXTS)  # one round: two pairs a text
    assert model.predict(NEW).shape == (3,)
    with pytest.raises(SpecError, match="unknown objective 'triplet': use auto, supcon or pairs"):
        FewShot(objective="triplet")._config(4)


def test_supervised_contrastive_loss_is_low_when_classes_sit_apart():
    labels = torch.tensor([0, 0, 1, 1])
    apart = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    assert supcon_loss(apart, labels, 0.1) < 0.01 < supcon_loss(mixed, labels, 0.1)
    # a text with no same-class batch-mate is a negative for the others, not an anchor (no 0/0)
    lone = supcon_loss(torch.cat([apart, torch.tensor([[0.7, 0.7]])]), torch.tensor([0, 0, 1, 1, 2]), 0.1)
    assert torch.isfinite(lone) and lone > supcon_loss(apart, labels, 0.1)


def test_the_loss_settles_when_it_stops_falling():
    assert not settled([3.0, 2.0, 1.5, 1.2, 1.0, 0.9], 0.02)
    assert settled([1.0, 1.0, 1.0, 0.995, 0.99, 1.0], 0.02)
    assert not settled([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 0)  # 0: never
    assert not settled([1.0, 1.0], 0.02)


def test_few_shot_tunes_the_encoder_and_saves_an_ordinary_folder(tiny_model, tmp_path, cache_folder):
    model = _fast(tiny_model).fit(TEXTS, LABELS)
    tuned = model.classifier_.carry_encoder_["folder"]
    assert len(list(Path(tuned, "onnx").glob("*/model.onnx"))) == 2  # fp32 and int8, inside the tuned folder
    cached = [json.loads(m.read_text())["model"] for m in cache_folder.glob("onnx/*/meta.json")]
    assert tuned not in cached  # not in the cache, where each fit would leave 110 MB for ever
    assert model.classes_.tolist() == ["money", "sport", "water"] and len(model.history_) == 3
    assert model.history_[0]["pairs"] > 0 and model.history_[-1]["loss"] < model.history_[0]["loss"]
    proba = model.predict_proba(NEW)
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1)
    frozen = TextClassifier(Embedder(tiny_model, progress=False)).fit(TEXTS, LABELS)
    assert not np.allclose(frozen.predict_proba(NEW), proba)  # the encoder has moved
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["approach"] == "few-shot" and config["encoder"]["folder"] == "encoder"
    assert config["training"]["few_shot"]["epochs_run"] == 3
    assert (tmp_path / "m" / "encoder" / "model.safetensors").exists()
    # the base it was tuned from travels with it: an int8 graph exported again from the folder
    # borrows the same calibration, so the loaded model answers as the fitted one
    assert json.loads((tmp_path / "m" / "encoder" / "bertclf-tuned-from.json").read_text())["tuned_from"]
    back = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict_proba(NEW), proba, atol=1e-6)
    back.save(tmp_path / "again")  # re-saved: the tuned encoder travels again
    assert (tmp_path / "again" / "encoder" / "model.safetensors").exists()
    np.testing.assert_allclose(TextClassifier.load(tmp_path / "again").predict_proba(NEW), proba, atol=1e-6)


def test_the_same_seed_gives_the_same_model(tiny_model):
    one = _fast(tiny_model, seed=5).fit(TEXTS, LABELS).predict_proba(NEW)
    two = _fast(tiny_model, seed=5).fit(TEXTS, LABELS).predict_proba(NEW)
    other = _fast(tiny_model, seed=6).fit(TEXTS, LABELS).predict_proba(NEW)
    np.testing.assert_array_equal(one, two)
    assert not np.allclose(one, other)


def test_two_classes_tune_at_a_lower_learning_rate_unless_one_is_given():
    assert FewShot()._config(2).lr == 3e-5  # two classes overfit sooner (benchmarks/few_shot_settings.py)
    assert FewShot()._config(5).lr == FewShot()._config(77).lr == 1e-4
    assert FewShot(objective="supcon")._config(4).lr == 1e-4
    assert FewShot()._config(4).lr == 4e-5  # three or four classes: SetFit's pairs, their own rate
    assert FewShot(lr=2e-4)._config(2).lr == 2e-4
    with pytest.raises(SpecError, match="lr must be a number above 0 or 'auto', got 'fast'"):
        FewShot(lr="fast")._config(2)
    with pytest.raises(SpecError, match="lr must be a number above 0, got 0"):
        FewShot(lr=0)._config(2)


def test_many_classes_share_a_batch_unless_its_size_is_given():
    # banking77 at 8 per class: 16 classes a batch (64 texts) scored 82.5 against 80.5 for four
    assert [FewShot()._config(n).batch_size for n in (2, 4, 5, 77)] == [16, 16, 20, 64]
    assert FewShot(per_class=2)._config(77).batch_size == 32
    assert FewShot(batch_size=8)._config(77).batch_size == 8
    with pytest.raises(SpecError, match="batch_size must be an integer of at least 2 or 'auto', got 'big'"):
        FewShot(batch_size="big")._config(4)


def test_few_shot_refuses_what_it_cannot_learn(tiny_model):
    with pytest.raises(InputError, match="at least 2 texts in every class: lonely has 1"):
        _fast(tiny_model).fit(TEXTS + ["one text"], LABELS + ["lonely"])
    with pytest.raises(InputError, match="only one class in the labels"):
        _fast(tiny_model).fit(TEXTS[:8], ["sport"] * 8)
    with pytest.raises(SpecError, match="one label per text"):
        _fast(tiny_model).fit(TEXTS, [[label] for label in LABELS])
    with pytest.raises(SpecError, match="temperature must be a number above 0"):
        _fast(tiny_model, temperature=0).fit(TEXTS, LABELS)
    with pytest.raises(SpecError, match="unknown backend 'onnx-fast'"):
        _fast(tiny_model, backend="onnx-fast").fit(TEXTS, LABELS)


def test_the_tuned_encoder_embeds_through_the_backend_asked_for(tiny_model):
    model = _fast(tiny_model, epochs=1, backend="torch").fit(TEXTS, LABELS)
    assert model.classifier_.embedder_.backend == "torch"
    assert model.predict(NEW).shape == (3,)


def test_many_texts_per_class_are_sampled_for_tuning_with_a_warning(tiny_model):
    with pytest.warns(BertclfWarning, match="few-shot tuning draws 4 of each"):
        model = _fast(tiny_model, max_per_class=4, epochs=1).fit(TEXTS, LABELS)
    assert model.training_["few_shot"]["tuning_texts"] == 12
    assert model.training_["texts"] == len(TEXTS)  # the head reads every text


def test_train_few_shot_from_the_command_line(run, tiny_model, write, tmp_path):
    import pandas as pd

    from tests.conftest import assert_one_line_error

    path = write("few.csv", pd.DataFrame({"text": TEXTS, "label": LABELS}).to_csv(index=False))
    out = tmp_path / "model"
    result = run("train", path, "--model", tiny_model, "--few-shot", "--out", out, "--holdout", "0.25",
                 "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["name"] == "few-shot logreg" and summary["training"]["few_shot"]["epochs_run"] >= 1
    config = json.loads((out / "config.json").read_text())
    assert config["approach"] == "few-shot" and config["training"]["few_shot"]["tuning_texts"] == 18
    predicted = run("predict", out, path, "--json")
    assert predicted.exit_code == 0, predicted.output
    lonely = write("lonely.csv", pd.DataFrame({"text": TEXTS + ["one more"], "label": LABELS + ["odd"]})
                   .to_csv(index=False))
    assert_one_line_error(run("train", lonely, "--model", tiny_model, "--few-shot", "--out", tmp_path / "x",
                              "--holdout", "0"), "at least 2 texts in every class: odd has 1")
    pair = write("pair.csv", pd.DataFrame({"text": TEXTS + ["one more", "and another"],
                                           "label": LABELS + ["odd", "odd"]}).to_csv(index=False))
    assert_one_line_error(run("train", pair, "--model", tiny_model, "--few-shot", "--out", tmp_path / "z",
                              "--holdout", "0.25"), "after holding 25% of TRAIN out for the report odd has")
    assert_one_line_error(run("train", path, "--model", tiny_model, "--few-shot", "--auto", "--out",
                              tmp_path / "y"), "--few-shot and --auto")


def test_the_tuned_classifier_outlives_its_learner(tiny_model, tmp_path):
    import gc

    classifier = _fast(tiny_model, epochs=1).fit(TEXTS, LABELS).classifier_
    gc.collect()  # the FewShot is gone; its tuned encoder must not be
    classifier.save(tmp_path / "m")
    assert (tmp_path / "m" / "encoder" / "model.safetensors").exists()
    folder = classifier.carry_encoder_["folder"]
    del classifier
    gc.collect()
    assert not Path(folder).exists()  # cleaned up with the classifier


def _quick_learner(monkeypatch):
    """--auto's few-shot learner with 3 epochs: these tests check the wiring, not the tuning."""
    import bertclf.search.auto
    import bertclf.search.fewshot_trial

    real = bertclf.search.fewshot_trial.few_shot_learner

    def quick(base, seed, backend=None):
        return real(base, seed, backend).set_params(epochs=3, lr=1e-3, batch_size=8, settle=0)

    monkeypatch.setattr(bertclf.search.fewshot_trial, "few_shot_learner", quick)
    monkeypatch.setattr(bertclf.search.auto, "few_shot_learner", quick)


@pytest.mark.auto_few_shot
def test_auto_scores_few_shot_tuning_on_the_same_folds_as_the_rest(tiny_model, monkeypatch):
    from bertclf.search.auto import auto_train

    _quick_learner(monkeypatch)
    messages = []
    base = TextClassifier(Embedder(tiny_model, progress=False))
    model, result = auto_train(TEXTS * 2, LABELS * 2, base=base, budget="5m", finetune=False,
                               log=messages.append)
    few = [c for c in result.candidates if c.features == "fewshot"][0]
    assert len(few.scores) == result.folds and few.status == f"{result.folds}-fold"  # never cut at the screen
    assert all(0 <= s <= 1 for s in few.scores) and len(few.oof) == result.folds
    assert any(m.startswith("  few-shot tuned encoder: fold 1") for m in messages)
    if result.winner is few:
        assert model.carry_encoder_ and model.training_["few_shot"]["tuning_texts"] == len(TEXTS) * 2
    assert all("few-shot" not in row["candidate"] for row in result.leaderboard()
               if row["features"] == "vote")  # a vote merges heads of one encoder, not a tuned one


@pytest.mark.auto_few_shot
def test_a_few_shot_winner_is_checked_refitted_and_saved_with_its_encoder(tiny_model, monkeypatch, tmp_path,
                                                                          capsys):
    import bertclf.search.auto
    from bertclf.search.auto import auto_train
    from bertclf.search.space import Candidate

    _quick_learner(monkeypatch)
    monkeypatch.setattr(bertclf.search.auto, "search_space", lambda *a: [Candidate("fewshot")])
    base = TextClassifier(Embedder(tiny_model, progress=False))
    model, result = auto_train(TEXTS * 2, LABELS * 2, base=base, budget="5m")
    assert result.winner.features == "fewshot" and result.winner.name == "few-shot tuned encoder"
    assert isinstance(model, TextClassifier) and model.training_["texts"] == len(TEXTS) * 2  # refitted on all
    assert result.estimate is not None and result.winner.check is not None  # scored on the check rows
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert (tmp_path / "m" / "encoder" / "model.safetensors").exists()
    assert np.allclose(loaded.predict_proba(NEW), model.predict_proba(NEW), atol=1e-5)
    from bertclf.render import print_leaderboard

    print_leaderboard(result)
    shown = capsys.readouterr().err
    assert "few-shot" in shown and "(chosen)" in shown and "Expected accuracy on new texts" in shown


def test_auto_says_why_it_leaves_few_shot_tuning_out(tiny_model):
    from types import SimpleNamespace

    from bertclf.search.fewshot_trial import why_not

    def search(per_class, multilabel=False, calibrate=False, long="truncate"):
        target = np.repeat(np.arange(3), per_class)
        return SimpleNamespace(multilabel=multilabel, target=target, rows=np.arange(len(target)),
                               base=SimpleNamespace(calibrate=calibrate,
                                                    embedder_=Embedder(tiny_model, long=long)))

    import bertclf.search.fewshot_trial

    limit = bertclf.search.fewshot_trial.MAX_PER_CLASS  # conftest sets 0 outside marked tests
    bertclf.search.fewshot_trial.MAX_PER_CLASS = 64
    try:
        assert why_not(search(64)) is None
        assert why_not(search(65)) == "65 texts in the median class, over the 64 where it helps"
        assert "one label per text" in why_not(search(8, multilabel=True))
        assert "--calibrate" in why_not(search(8, calibrate=True))
        assert "--long is chunk" in why_not(search(8, long="chunk"))
    finally:
        bertclf.search.fewshot_trial.MAX_PER_CLASS = limit


@pytest.mark.parametrize("native", [True, False])
def test_precision_follows_the_cpus_bf16_instructions(monkeypatch, native):
    from bertclf.encode import backends

    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: native)
    assert FewShot()._dtype("cpu") == (torch.bfloat16 if native else None)
    assert FewShot(precision="bf16")._dtype("cpu") == torch.bfloat16  # asked for: emulated if need be
    assert FewShot(precision="fp32")._dtype("cpu") is None
