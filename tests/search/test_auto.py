"""TF-IDF and hybrid features, C="auto", and the --auto search (issue 8, parts 1 and 2)."""

import json

import numpy as np
import pytest
from scipy import sparse

from bertclf import Embedder, TextClassifier
from bertclf.classify.auto_c import C_GRID, choose_C
from bertclf.classify.settings import DEFAULT_FEATURES
from bertclf.encode.memory_cache import memo
from bertclf.errors import BertclfWarning, InputError, ModelLoadError, SpecError
from bertclf.finetune.finetuner import FineTuner
from bertclf.search.auto import BASELINES, auto_train
from bertclf.search.space import Candidate, parse_budget, search_space
from tests.conftest import LABELS, TEXTS, assert_one_line_error, labelled_csv

NEW = ["the game of the team", "a loan at the bank", "water in the river", "the flood rate"]


@pytest.fixture
def embedder(tiny_model):
    return Embedder(tiny_model, progress=False)


@pytest.mark.parametrize("features,scaling", [
    ("tfidf", "none"), ("hybrid", "none"), ("embedding", "standard"), ("embedding", "l2"),
    ("embedding", "none")])
def test_every_feature_kind_round_trips_to_the_bit(embedder, features, scaling, tmp_path):
    model = TextClassifier(embedder, features=features, scaling=scaling, tfidf="word+char")
    model.fit(TEXTS, LABELS)
    model.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    assert back.features == features and back.scaling == scaling
    np.testing.assert_array_equal(model.predict_proba(NEW), back.predict_proba(NEW))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["approach"] == {"tfidf": "tfidf", "hybrid": "hybrid", "embedding": "frozen"}[features]
    assert config["features"]["kind"] == features
    assert ("tfidf.json" in config["files"]) == (features != "embedding")
    assert ("scaling.safetensors" in config["files"]) == (features == "hybrid" or scaling == "standard")


def test_tfidf_models_never_run_the_encoder(embedder):
    before = memo.computed
    model = TextClassifier(embedder, features="tfidf", reuse_embeddings=True).fit(TEXTS, LABELS)
    model.predict(NEW)
    assert memo.computed == before
    assert sparse.issparse(model.transform(NEW))
    assert model.predict(["the team won the game"])[0] == "sport"


def test_hybrid_puts_tfidf_first_and_scales_the_embedding_to_unit_length(embedder):
    model = TextClassifier(embedder, features="hybrid").fit(TEXTS, LABELS)
    X = model.transform(TEXTS)
    words = model.tfidf_.dim
    assert X.shape[1] == words + embedder.settings().dim
    tfidf_norms = sparse.linalg.norm(X[:, :words], axis=1)
    np.testing.assert_allclose(tfidf_norms, 1.0, rtol=1e-9)  # TF-IDF rows are unit length
    dense = X[:, words:].toarray()
    # and so is the embedding, on average over the training rows
    assert np.mean((dense ** 2).sum(axis=1)) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("head", ["svm", "mlp", "xgboost"])
def test_other_heads_read_sparse_features(embedder, head, tmp_path):
    params = {"n_estimators": 10} if head == "xgboost" else None
    model = TextClassifier(embedder, features="tfidf", head=head, head_params=params).fit(TEXTS, LABELS)
    model.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(model.predict_proba(NEW), back.predict_proba(NEW), atol=1e-6)


def test_C_auto_picks_from_the_grid_and_is_saved(embedder, tmp_path):
    model = TextClassifier(embedder, C="auto", scaling="standard").fit(TEXTS * 2, LABELS * 2)
    assert model.C_ in C_GRID
    model.save(tmp_path / "m")
    head = json.loads((tmp_path / "m" / "config.json").read_text())["head"]
    assert head["C"] == model.C_ and head["C_chosen"] == "by cross-validation"
    assert TextClassifier.load(tmp_path / "m").C == model.C_


def test_choose_C_follows_the_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 50))
    y = (X @ rng.normal(size=50) > 0).astype(int)  # separable: only the penalty limits the fit
    # The same data at a smaller scale needs a larger C for the same fit, and the search sees it.
    assert choose_C("logreg", X * 0.05, y, 2) > choose_C("logreg", X * 20, y, 2)
    assert choose_C("logreg", X[:3], np.array([0, 1, 1]), 2) == 1.0  # too few to fold


@pytest.mark.parametrize("params,message", [
    ({"features": "words"}, "unknown features"), ({"scaling": "minmax"}, "unknown scaling"),
    ({"tfidf": "bigram"}, "unknown TF-IDF kind"), ({"C": "best"}, "C must be a positive number"),
])
def test_bad_feature_settings_fail_before_any_work(embedder, params, message):
    with pytest.raises(SpecError, match=message):
        TextClassifier(embedder, **params).fit(TEXTS, LABELS)


def test_texts_without_words_for_tfidf_are_one_clear_error(embedder):
    with pytest.raises(InputError, match="no words for TF-IDF"):
        TextClassifier(embedder).fit(["a", "b", "!", "?"] * 3, ["x", "y"] * 6)
    TextClassifier(embedder, features="embedding").fit(["a", "b", "!", "?"] * 3, ["x", "y"] * 6)


def test_an_edited_vocabulary_is_refused(embedder, tmp_path):
    TextClassifier(embedder, features="tfidf").fit(TEXTS, LABELS).save(tmp_path / "m")
    vocabulary = json.loads((tmp_path / "m" / "tfidf.json").read_text())
    vocabulary["parts"][0]["idf"].pop()
    (tmp_path / "m" / "tfidf.json").write_text(json.dumps(vocabulary))
    with pytest.raises(ModelLoadError, match="checksum"):  # every file is hashed in config.json
        TextClassifier.load(tmp_path / "m")


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("10m", 600), ("1.5h", 5400), ("45", 45), (30, 30)])
def test_budgets(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0", "-5m", "10 minutes"])
def test_bad_budgets(text):
    with pytest.raises(SpecError, match="budget"):
        parse_budget(text)


def test_search_space_covers_every_family():
    space = search_space()
    assert {c.features for c in space} == {"tfidf", "embedding", "hybrid"}
    assert {c.scaling for c in space if c.features == "embedding"} >= {"l2", "standard"}
    assert len({c.layers for c in space if c.features != "tfidf"}) == 2
    assert {c.tfidf for c in space if c.features == "tfidf"} == {"word", "word+char"}
    assert {c.head for c in space} == {"logreg", "svm"}
    assert {c.pooling for c in space} == {None, "cls"}  # the model's own (mean), and one other
    assert {c.pooling for c in search_space(pooling="cls")} == {None, "mean"}
    assert search_space(finetune=True)[-1].features == "finetune"
    assert len({c.name for c in space}) == len(space)


def test_auto_trains_the_cross_validated_winner(embedder, tmp_path):
    messages = []
    base = TextClassifier(embedder)
    model, result = auto_train(TEXTS * 2, LABELS * 2, base=base, budget="5m", log=messages.append)
    assert result.folds == 5 and result.winner is not None
    board = result.leaderboard()
    finals = [r for r in board if r["folds"] == 5]
    assert 1 <= len(finals) <= 4 + len(BASELINES) and all(r["spread"] is not None for r in finals)
    assert set(BASELINES) <= {r["candidate"] for r in finals}  # always scored on every fold
    assert finals[0]["cv_score"] == max(r["cv_score"] for r in finals)
    if result.guarded:  # the best of those scored on every fold, or a baseline it barely beat
        assert result.winner.name in BASELINES and finals[0]["candidate"] in result.guarded
    else:
        assert finals[0]["candidate"] == result.winner.name
    assert all(r["folds"] == 1 for r in board[len(finals):] if r["cv_score"] is not None)
    assert model.features == result.winner.features and model.C == result.winner.C
    assert model.embedder_.model == embedder.model  # the user's encoder, not the bundled one
    model.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(NEW), model.predict_proba(NEW))
    assert any("searching" in m for m in messages)


def test_auto_embeds_each_text_once_per_embedder_setting(embedder):
    memo.clear()
    before = memo.computed
    texts = [f"{t} {i}" for i, t in enumerate(TEXTS * 2)]  # new texts: nothing memoised yet
    auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="5m", finetune=False)
    # last layer, last four and the other pooling are searched (the winner's refit finds its
    # vectors memoised); the sample timed before each pass is part of the texts
    assert memo.computed - before == 3 * len(texts)


def _cls_hybrid_wins(monkeypatch):
    """Make the CLS-pooled hybrid win the search, whatever the tiny model says."""
    import bertclf.search.auto

    def score(self, c, fold):
        c.scores.append(1.0 if c.pooling == "cls" and c.features == "hybrid" else 0.5)
        c.fit_seconds.append(0.0)

    monkeypatch.setattr(bertclf.search.auto.Search, "score_fold", score)


def test_a_winner_with_the_other_pooling_is_saved_with_it(embedder, monkeypatch, tmp_path):
    _cls_hybrid_wins(monkeypatch)
    model, result = auto_train(TEXTS * 2, LABELS * 2, base=TextClassifier(embedder), budget="5m")
    assert result.winner.name == "hybrid word + cls last, C=1"
    assert model.embedder_.settings().pooling == "cls" and model.features == "hybrid"
    model.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    assert back.embedder_.settings().pooling == "cls"
    np.testing.assert_array_equal(back.predict_proba(NEW), model.predict_proba(NEW))


def test_a_budget_too_small_trains_the_default_and_says_so(embedder):
    with pytest.warns(BertclfWarning, match="too small for even one candidate"):
        model, result = auto_train(TEXTS * 2, LABELS * 2, base=TextClassifier(embedder), budget=1e-6)
    assert result.winner is None and "default" in result.note
    assert model.features == DEFAULT_FEATURES and model.predict(NEW).shape == (4,)


def test_small_sets_use_fewer_folds_and_say_so(embedder):
    messages = []
    texts, labels = TEXTS[:3] + TEXTS[8:11] + TEXTS[16:19], LABELS[:3] + LABELS[8:11] + LABELS[16:19]
    _, result = auto_train(texts, labels, base=TextClassifier(embedder), budget="5m", log=messages.append)
    assert result.folds == 3
    assert any("3 folds, not 5" in m for m in messages)


def test_auto_refuses_what_it_cannot_search(embedder):
    with pytest.raises(InputError, match="at least 2 training texts of every label"):
        auto_train(TEXTS[:8] + TEXTS[8:9], LABELS[:8] + LABELS[8:9], base=TextClassifier(embedder))
    with pytest.raises(SpecError, match="pairs, metadata"):
        auto_train(TEXTS, LABELS, base=TextClassifier(embedder, meta_cols=["year"]))


def test_auto_keeps_the_users_class_weight_and_refuses_guide(embedder, monkeypatch):
    import bertclf.classify.heads

    seen = []
    real = bertclf.classify.heads.fit_head

    def spy(*args, **kwargs):
        seen.append(kwargs.get("class_weight"))
        return real(*args, **kwargs)

    monkeypatch.setattr(bertclf.classify.heads, "fit_head", spy)
    base = TextClassifier(embedder, class_weight="balanced")
    model, _ = auto_train(TEXTS * 2, LABELS * 2, base=base, budget="5m")
    assert seen and set(seen) == {"balanced"} and model.class_weight == "balanced"
    with pytest.raises(SpecError, match="--long guide"):
        auto_train(TEXTS, LABELS, base=TextClassifier(Embedder(embedder.model, long="guide")))


def test_auto_finetunes_on_the_search_rows_and_scores_on_the_check_rows(tiny_model, embedder):
    tuner = FineTuner(tiny_model, epochs=2, batch_size=8, progress=False, verbose=False)
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 2)]
    model, result = auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="5m", finetuner=tuner)
    tuned = [c for c in result.candidates if c.features == "finetune"][0]
    assert tuned.status.startswith(("2 epoch(s)", "1 epoch(s)"))
    assert "scored on the check texts" in tuned.status
    assert tuned.check is not None and tuned.scores == [tuned.check] and tuned.fit_seconds
    rival = max((c for c in result.candidates if len(c.scores) == result.folds), key=lambda c: c.score)
    assert rival.check is not None  # both were scored on the same check rows
    if result.winner is tuned:
        assert isinstance(model, FineTuner) and model.training_["texts"] < len(texts)  # not refitted
        assert set(model.predict(NEW)) <= set(LABELS)  # the user's labels, not class numbers
    else:
        assert result.winner is rival and isinstance(model, TextClassifier)
    assert result.estimate["chosen_on_check_rows"] is True


def test_auto_skips_fine_tuning_that_the_budget_cannot_hold(tiny_model, embedder, monkeypatch):
    import bertclf.search.finetune_trial

    monkeypatch.setattr(bertclf.search.finetune_trial, "TRAIN_PASSES", 1e9)  # an epoch would take for ever
    messages = []
    _, result = auto_train(TEXTS * 2, LABELS * 2, base=TextClassifier(embedder), budget="5m",
                           log=messages.append)
    tuned = [c for c in result.candidates if c.features == "finetune"][0]
    assert tuned.status.startswith("skipped: ") and "time for ~0 texts (it needs" in tuned.status
    assert not tuned.scores
    assert result.winner is not tuned and any("fine-tuning skipped" in m for m in messages)
    _, result = auto_train(TEXTS * 2, LABELS * 2, base=TextClassifier(embedder), budget="5m", finetune=False)
    assert all(c.features != "finetune" for c in result.candidates)


def test_auto_fine_tunes_on_part_of_an_epoch_when_a_whole_one_does_not_fit(tiny_model, embedder,
                                                                           monkeypatch):
    import bertclf.search.finetune_trial as trial
    from bertclf.search.auto import Search

    monkeypatch.setattr(Search, "seconds_per_text", lambda self, embed: 1.0)  # a slow machine
    monkeypatch.setattr(trial, "TRAIN_PASSES", 40.0)  # an epoch of the ~20 search texts: ~800 s
    monkeypatch.setattr(trial, "MIN_TEXTS", 3)
    messages = []
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 2)]
    tuner = FineTuner(tiny_model, batch_size=4, progress=False, verbose=False)
    _, result = auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="5m", finetuner=tuner,
                           log=messages.append)
    tuned = [c for c in result.candidates if c.features == "finetune"][0]
    plan = next(m for m in messages if "fine-tuning:" in m)
    assert "s of the 300 s budget are left for it" in plan and "one partial epoch" in plan
    assert tuned.scores and " texts in " in tuned.status  # "N of M texts in S s ..."
    seen = int(plan.split("time for ~")[1].split(" of ")[0].replace(",", ""))
    assert 3 <= seen < len(texts)


def test_auto_keeps_a_share_of_the_budget_for_fine_tuning_on_large_sets(tiny_model, embedder, monkeypatch):
    import bertclf.search.finetune_trial as trial
    from bertclf.search.auto import Search

    kept = []
    left = Search.left
    monkeypatch.setattr(Search, "left", lambda self: kept.append(self.tune_reserve) or left(self))
    monkeypatch.setattr(trial, "MIN_TEXTS", 3)  # the toy set counts as large
    messages = []
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 2)]
    tuner = FineTuner(tiny_model, batch_size=4, progress=False, verbose=False)
    _, result = auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="4m", finetuner=tuner,
                           log=messages.append)
    said = next(m for m in messages if "keeping 120 s (50% of the budget) for fine-tuning" in m)
    per_class = int(said.split("texts (~")[1].split(" a class)")[0].replace(",", ""))
    assert per_class > 0  # the texts a class the share buys: the gain's estimate, logged
    assert 120.0 in kept and kept[-1] == 0.0  # the search saw less; fine-tuning got it back
    tuned = [c for c in result.candidates if c.features == "finetune"][0]
    assert tuned.scores
    messages.clear()
    monkeypatch.setattr(trial, "MIN_TEXTS", 2000)  # a small set: the search ends early anyway
    auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="4m", finetuner=tuner,
               log=messages.append)
    assert not any("(50% of the budget) for fine-tuning" in m for m in messages)


def test_auto_keeps_no_share_that_finishing_with_a_fine_tuned_winner_would_take(tiny_model, embedder,
                                                                                monkeypatch):
    """ag_news: predicting 7,600 report texts at the tuner's speed took the whole share, and
    fine-tuning was skipped after the search had stopped early for it."""
    import bertclf.search.finetune_trial as trial
    from bertclf.search.auto import Search

    kept = []
    left = Search.left
    monkeypatch.setattr(Search, "left", lambda self: kept.append(self.tune_reserve) or left(self))
    monkeypatch.setattr(Search, "seconds_per_text", lambda self, embed: 0.5)  # a slow tuner
    monkeypatch.setattr(trial, "MIN_TEXTS", 3)
    messages = []
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 2)]
    tuner = FineTuner(tiny_model, batch_size=4, progress=False, verbose=False)
    auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="4m", finetuner=tuner,
               log=messages.append, after_texts=200)  # 30 s saving + 0.5 s x 200 texts > the 120 s share
    said = next(m for m in messages if "(50% of the budget) for fine-tuning" in m)
    assert said.startswith("not keeping 120 s") and "the search gets it" in said, said
    assert set(kept) == {0.0}


def test_fine_tuning_stops_when_it_cannot_catch_up():
    from bertclf.search.finetune_trial import cannot_reach

    history = [{"val_accuracy": 0.70}, {"val_accuracy": 0.75}]
    assert cannot_reach(history, 0.90, epochs=3, n_val=10_000) is not None  # 0.75 + 0.05 < 0.90
    assert cannot_reach(history, 0.80, epochs=3, n_val=10_000) is None  # 0.75 + 0.05 reaches it
    assert cannot_reach(history[:1], 0.99, epochs=3, n_val=10_000) is None  # one epoch: no gain known
    flat = [{"val_accuracy": 0.8}, {"val_accuracy": 0.7}]
    assert cannot_reach(flat, 0.75, epochs=5, n_val=10_000) is not None
    # measured on 100 texts, 0.70 is within two standard errors (0.09) of 0.75: it goes on
    assert cannot_reach(flat, 0.75, epochs=5, n_val=100) is None


def test_fine_tuning_keeps_a_time_limit_and_a_stop_rule(tiny_model):
    texts, labels = TEXTS * 2, LABELS * 2
    quick = FineTuner(tiny_model, epochs=50, batch_size=4, progress=False, verbose=False, time_limit=1.0)
    quick.fit(texts, labels)
    assert quick.training_["stop_reason"] == "out of time" and quick.training_["epochs_run"] < 50
    assert quick.training_["seconds"] < 10
    judged = FineTuner(tiny_model, epochs=5, batch_size=8, progress=False, verbose=False, early_stopping=0)
    judged.fit(texts, labels, stop_when=lambda history: "enough" if len(history) == 2 else None)
    assert judged.training_["epochs_run"] == 2 and judged.training_["stop_reason"] == "enough"
    assert judged.predict(NEW).shape == (4,)


def test_candidate_names_are_short():
    assert Candidate("hybrid", "word", layers="-4..-1", C=10.0).name == "hybrid word + last4, C=10"
    assert all(len(c.name) <= 30 for c in search_space(finetune=True))


# -- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def train_csv(write):
    return write("train.csv", labelled_csv(list(zip(TEXTS * 2, LABELS * 2, strict=True))))


def test_train_auto_prints_a_leaderboard_and_saves_the_winner(run, tiny_model, train_csv, tmp_path):
    out = tmp_path / "model"
    result = run("train", train_csv, "--model", tiny_model, "--auto", "--budget", "2m", "--out", out)
    assert result.exit_code == 0, result.output
    assert "CV accuracy" in result.stderr and "(chosen)" in result.stderr
    config = json.loads((out / "config.json").read_text())
    auto = config["metrics"]["auto"]
    assert auto["chosen"] and auto["folds"] == 5 and auto["budget_seconds"] == 120
    assert auto["leaderboard"][0]["cv_score"] is not None
    assert config["approach"] in ("tfidf", "frozen", "hybrid")
    predicted = run("predict", out, "-", stdin="the team won the game\n")
    assert predicted.exit_code == 0, predicted.output


def test_train_auto_names_the_pooling_it_chose(run, tiny_model, train_csv, tmp_path, monkeypatch):
    _cls_hybrid_wins(monkeypatch)
    out = tmp_path / "model"
    result = run("train", train_csv, "--model", tiny_model, "--auto", "--out", out)
    assert result.exit_code == 0, result.output
    assert "cls embeddings of layers" in result.stderr
    board = json.loads((out / "config.json").read_text())["metrics"]["auto"]["leaderboard"]
    assert board[0]["pooling"] == "cls"


def test_train_with_features_and_C_auto(run, tiny_model, train_csv, tmp_path):
    out = tmp_path / "model"
    result = run("train", train_csv, "--model", tiny_model, "--features", "hybrid", "-C", "auto",
                 "--out", out, "-q")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["approach"] == "hybrid" and config["head"]["C"] in C_GRID


@pytest.mark.parametrize("args,fragment", [
    (["--auto", "-C", "2"], "--auto chooses -C itself"),
    (["--auto", "--features", "tfidf"], "--auto chooses --features"),
    (["--auto", "--budget", "soon"], "--budget must be a duration"),
    (["-C", "lots"], "-C must be 'auto' or a positive number"),
    (["-C", "0"], "-C must be 'auto' or a positive number"),
])
def test_train_auto_bad_usage(run, tiny_model, train_csv, tmp_path, args, fragment):
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", *args)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "m").exists()


def test_a_tfidf_model_predicts_without_its_encoder(run, tiny_model, train_csv, tmp_path):
    import shutil

    encoder = tmp_path / "encoder-copy"
    shutil.copytree(tiny_model, encoder)
    out = tmp_path / "model"
    trained = run("train", train_csv, "--model", encoder, "--features", "tfidf", "--out", out, "-q")
    assert trained.exit_code == 0, trained.output
    shutil.rmtree(encoder)  # a TF-IDF model must not need it
    result = run("predict", out, "-", stdin="the team won the game\n")
    assert result.exit_code == 0, result.output
    assert "sport" in result.stdout


@pytest.mark.parametrize("finetune_wins", [False, True])
def test_train_auto_finetune_from_the_command_line(run, tiny_model, train_csv, tmp_path, monkeypatch,
                                                   finetune_wins):
    import bertclf.search.auto

    if finetune_wins:  # every other candidate scores below anything fine-tuning can score
        monkeypatch.setattr(bertclf.search.auto.Search, "score_fold",
                            lambda self, c, fold: (c.scores.append(-1.0), c.fit_seconds.append(0.0)))
        monkeypatch.setattr(bertclf.search.auto, "check", lambda search, c: setattr(c, "check", -1.0))
    out = tmp_path / "model"
    result = run("train", train_csv, "--model", tiny_model, "--auto", "--budget", "5m", "--out", out)
    assert result.exit_code == 0, result.output
    assert "fine-tuned encoder" in result.stderr  # on the leaderboard
    if finetune_wins:
        assert "saved fine-tuned encoder model (3 labels, a fine-tuned encoder)" in result.stderr
    board = json.loads((out / "config.json").read_text())["metrics"]["auto"]["leaderboard"]
    tuned = [r for r in board if r["features"] == "finetune"]
    assert tuned and tuned[0]["check_score"] is not None
    config = json.loads((out / "config.json").read_text())
    assert (config["approach"] == "finetune") == finetune_wins
    assert set(TextClassifier.load(out).predict(NEW)) <= set(LABELS)  # whichever won, with its labels


def test_cross_validation_reads_the_features_the_refitted_model_reads(embedder):
    """One assembly: for every kind of candidate, the search's feature matrix on TRAIN equals the
    features of the model --auto would save, refitted on the same rows."""
    from bertclf.io.labels import encode_labels
    from bertclf.search.auto import Search, winner_model

    probe = TextClassifier(embedder)
    probe.embedder_ = embedder
    _, target = encode_labels(LABELS)
    search = Search(TEXTS, target, 3, probe, 600, 3, 0, lambda message: None)
    kinds = {}
    for c in search_space(False, "mean"):
        kinds.setdefault((c.features, c.tfidf, c.scaling, c.pooling), c)
    assert {k[0] for k in kinds} == {"tfidf", "embedding", "hybrid"} and len(kinds) >= 5
    for c in kinds.values():
        searched = _dense(search.matrix(c))
        refitted = _dense(winner_model(c, probe).fit(TEXTS, LABELS).transform(TEXTS))
        np.testing.assert_allclose(searched, refitted, rtol=0, atol=1e-12, err_msg=c.name)


def _dense(matrix):
    return matrix.toarray() if sparse.issparse(matrix) else matrix


def test_no_finetune_and_the_removed_flag(run, tiny_model, train_csv, tmp_path):
    out = tmp_path / "model"
    result = run("train", train_csv, "--model", tiny_model, "--auto", "--no-finetune", "--budget", "5m",
                 "--out", out, "--json")
    assert result.exit_code == 0, result.output
    board = json.loads((out / "config.json").read_text())["metrics"]["auto"]["leaderboard"]
    assert board and all(r["features"] != "finetune" for r in board)
    old = run("train", train_csv, "--model", tiny_model, "--auto", "--auto-finetune", "--budget", "5m",
              "--out", tmp_path / "old", "--json")
    assert old.exit_code == 2 and "No such option '--auto-finetune'" in old.output  # removed in 0.4
    assert not (tmp_path / "old").exists()


def test_auto_does_not_fine_tune_what_must_be_calibrated(embedder):
    base = TextClassifier(embedder, calibrate="sigmoid")
    model, result = auto_train(TEXTS * 2, LABELS * 2, base=base, budget="5m")
    tuned = [c for c in result.candidates if c.features == "finetune"][0]
    assert tuned.status.startswith("skipped: --calibrate")
    assert not any(c.features == "vote" for c in result.candidates)
    assert model.calibrate == "sigmoid" and model.calibration_ is not None


def test_long_texts_bring_head_tail_and_chunk_candidates_and_say_so(embedder, monkeypatch, tmp_path):
    import bertclf.search.auto
    from bertclf.search.space import beyond_window

    space = search_space(long_texts=True)
    longs = [c for c in space if c.long]
    assert {c.long for c in longs} == {"head-tail", "chunk"}
    assert {c.features for c in longs} == {"embedding", "hybrid"}
    assert not any(c.long for c in search_space()) and len({c.name for c in space}) == len(space)
    said = []
    assert beyond_window(embedder, TEXTS, said.append) is False and said == []

    def score(self, c, fold):  # make the chunked hybrid win, whatever the tiny model says
        c.scores.append(1.0 if c.long == "chunk" and c.features == "hybrid" else 0.5)
        c.fit_seconds.append(0.0)

    monkeypatch.setattr(bertclf.search.auto.Search, "score_fold", score)
    texts = [" ".join([t] * 40) for t in TEXTS * 2]  # each over the tiny model's 64-token window
    messages = []
    model, result = auto_train(texts, LABELS * 2, base=TextClassifier(embedder), budget="5m",
                               log=messages.append)
    assert any("100% of the training texts are longer than the encoder's window" in m for m in messages)
    assert result.winner.name == "hybrid word + last (chunks), C=10"
    assert {r["long"] for r in result.leaderboard()} == {None, "head-tail", "chunk"}
    assert model.embedder_.settings().long.mode == "chunk"
    model.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    assert back.embedder_.settings().long.mode == "chunk"
    np.testing.assert_array_equal(back.predict_proba(texts[:3]), model.predict_proba(texts[:3]))


def test_fine_tuning_is_priced_against_the_rivals_own_refit_not_the_slowest_candidates(
        tiny_model, embedder, monkeypatch):
    """The search's reserve covers the slowest candidate it screened; once the rival is known and
    checked, fine-tuning needs to leave room for the rival's refit only."""
    from bertclf.io.labels import encode_labels
    from bertclf.search.auto import Search
    from bertclf.search.finetune_trial import finetune_candidate

    monkeypatch.setattr(Search, "seconds_per_text", lambda self, embed: 0.001)
    probe = TextClassifier(embedder)
    probe.embedder_ = embedder
    _, target = encode_labels(LABELS)
    tuner = FineTuner(tiny_model, batch_size=4, epochs=1, progress=False, verbose=False)
    messages = []
    search = Search(TEXTS, target, 3, probe, 600, 3, 0, messages.append, finetuner=tuner)
    rival = Candidate("embedding", pooling="mean", fit_seconds=[0.01])
    rival.check = 0.5
    slow_vote = Candidate("vote", fit_seconds=[400.0])
    search.keep_back(rival)
    search.keep_back(slow_vote)
    assert search.left() < 0  # the vote's refit alone would take the whole budget
    assert search.refit_seconds(rival, checked=True) < search.refit_seconds(rival) < 60
    tuned = Candidate("finetune")
    assert finetune_candidate(search, tuned, rival) is not None
    assert tuned.scores and not tuned.status.startswith("skipped"), tuned.status
    assert any("of the 600 s budget are left for it" in m for m in messages)
