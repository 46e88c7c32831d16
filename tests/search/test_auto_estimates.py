"""--auto's honest estimate: overlapping texts kept together, check rows, the budget's reserve
(issue 20)."""

import numpy as np
import pytest

from bertclf import Embedder, TextClassifier
from bertclf.errors import SpecError
from bertclf.evaluate.intervals import f1_interval, interval, micro_f1
from bertclf.search.auto import auto_train
from bertclf.search.groups import MAX_CONTAINERS, overlap_groups
from bertclf.search.splits import CHECK_MAX, check_rows, grouped_folds, strata_of
from tests.conftest import LABELS, TEXTS


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


def test_with_times_the_check_rows_are_the_latest_whole_groups():
    target = np.tile([0, 1], 100)
    order = np.arange(200)[::-1].astype(float)  # the file's first rows are the latest
    groups = np.arange(200) // 2
    search, check = check_rows(target, groups, seed=3, order=order)
    assert check.tolist() == list(range(30))  # 15%, the latest rows, pairs kept together
    assert not set(groups[search]) & set(groups[check])
    skewed = np.array([0] * 150 + [1] * 20 + [2] * 30)  # label 2 only in the latest rows
    assert len(check_rows(skewed, None, seed=0, order=np.arange(200.0))[1]) == 0  # CV needs label 2


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
    assert estimate is not None and 0 <= estimate["score"] <= 1 and estimate["metric"] == "accuracy"
    assert estimate["interval"][0] <= estimate["score"] <= estimate["interval"][1]
    assert estimate["cv_score"] == round(result.winner.score, 4)
    never_searched = set(range(len(texts))) - set(seen)
    assert len(never_searched) == estimate["texts"] and 10 <= estimate["texts"] <= 20
    assert any("check texts the search never saw" in m for m in messages)
    assert result.summary()["estimate"] == estimate
    assert model.predict(texts).shape == (len(texts),)  # refitted on every row


def test_with_an_order_auto_checks_its_winner_on_the_latest_texts(embedder, monkeypatch):
    import bertclf.search.auto

    checked = []
    real = bertclf.search.auto.Search.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        checked.extend(self.check_rows.tolist())

    monkeypatch.setattr(bertclf.search.auto.Search, "__init__", spy)
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 4)]
    order = [float(len(texts) - i) for i in range(len(texts))]  # the first rows are the latest
    messages = []
    _, result = auto_train(texts, LABELS * 4, base=TextClassifier(embedder), budget="5m", order=order,
                           log=messages.append)
    assert checked == list(range(len(checked))) and result.estimate["texts"] == len(checked) >= 10
    assert any(f"check rows: the latest {len(checked)} texts in time" in m for m in messages)
    with pytest.raises(SpecError, match=f"order has 3 times for {len(texts)} texts"):
        auto_train(texts, LABELS * 4, base=TextClassifier(embedder), budget="5m", order=[1.0, 2.0, 3.0])


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
    scored = [r for r in board if r["cv_score"] is not None]
    assert 1 <= len(scored) <= 2  # what ran before the first embedding pass was timed
    assert all(r["status"].startswith("skipped") for r in board if r["cv_score"] is None)


def _tags(n=4):
    """Several labels per text: each text's own label, plus "long" for texts of five words or more."""
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * n)]
    return texts, [[label] + (["long"] if len(text.split()) >= 7 else []) for text, label in
                   zip(texts, LABELS * n, strict=True)]


def test_auto_searches_several_labels_per_text_by_micro_f1(embedder, tmp_path):
    texts, tags = _tags()
    messages = []
    model, result = auto_train(texts, tags, base=TextClassifier(embedder), budget="5m", log=messages.append)
    assert result.metric == "micro-F1" and result.winner is not None
    assert model.task == "multi-label" and model.features == result.winner.features
    assert set(model.classes_) == {"sport", "money", "water", "long"}
    estimate = result.estimate
    assert estimate["metric"] == "micro-F1" and 0 <= estimate["score"] <= 1
    assert estimate["interval"][0] <= estimate["score"] <= estimate["interval"][1]
    tuned = [c for c in result.candidates if c.features == "finetune"][0]
    assert tuned.status.startswith("skipped: fine-tuning in --auto reads one label per text")
    # the refit's cut-offs are the winner's, tuned on its out-of-fold probabilities
    assert set(result.thresholds) == set(model.classes_) and result.summary()["thresholds"] == "out of fold"
    assert model.thresholds == result.thresholds
    assert model.thresholds_.tolist() == pytest.approx([result.thresholds[c] for c in model.classes_])
    assert any("micro-F1" in m and "check texts" in m for m in messages)
    model.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(NEW_TAGS), model.predict(NEW_TAGS))


NEW_TAGS = ["the game of the team", "a loan at the bank and then a long walk by the river"]


def test_strata_of_several_labels_is_each_texts_rarest_label():
    target = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1],
                       [1, 0, 0]])
    strata = strata_of(target)
    # label 0 is common, 1 and 2 rarer; no label -> stratum 3
    assert strata.tolist() == [1, 0, 2, 3, 1, 3, 2, 0]
    lone = np.array([[1, 0], [1, 0], [1, 1], [0, 0]])  # label 1 once: folded into "no label"
    assert strata_of(lone).tolist() == [0, 0, 2, 2]
    assert strata_of(np.array([2, 0, 1])).tolist() == [2, 0, 1]  # one label per text: itself


def test_micro_f1_and_its_interval():
    truth = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    predicted = np.array([[1, 0], [0, 0], [1, 1], [1, 0]])
    # tp 3, fp 1, fn 1 -> 2*3 / (2*3 + 2)
    assert micro_f1(truth, predicted) == pytest.approx(0.75)
    assert micro_f1(truth, truth) == 1.0
    low, high = f1_interval(np.tile(truth, (50, 1)), np.tile(predicted, (50, 1)))
    assert low < 0.75 < high and high - low < 0.2


def test_train_auto_with_several_labels_from_the_command_line(run, tiny_model, write, tmp_path):
    import json

    import pandas as pd

    texts, tags = _tags()
    table = pd.DataFrame({"text": texts, "tags": [";".join(t) for t in tags]})
    path = write("tags.csv", table.to_csv(index=False))
    out = tmp_path / "model"
    result = run("train", path, "--model", tiny_model, "--label-col", "tags", "--label-sep", ";", "--auto",
                 "--no-finetune", "--budget", "2m", "--out", out)
    assert result.exit_code == 0, result.output
    assert "CV micro-F1" in result.stderr and "Expected micro-F1 on new texts" in result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "multi-label" and config["metrics"]["auto"]["metric"] == "micro-F1"


def test_a_baseline_is_kept_unless_beaten_by_more_than_noise():
    from types import SimpleNamespace

    from bertclf.search.auto import BASELINES
    from bertclf.search.settle import guard
    from bertclf.search.space import Candidate

    tfidf = Candidate("tfidf", "word", C=10.0, scores=[0.80, 0.82, 0.81, 0.79, 0.80])
    frozen = Candidate("embedding", layers=-1, scaling="l2", C=1.0, scores=[0.84, 0.85, 0.83, 0.86, 0.84])
    assert (tfidf.name, frozen.name) == BASELINES
    close = Candidate("hybrid", "word", C=10.0, scores=[0.85, 0.84, 0.84, 0.85, 0.85])  # +0.002, ± 0.005
    clear = Candidate("hybrid", "word", C=1.0, scores=[0.87, 0.88, 0.86, 0.89, 0.87])  # +0.03 on every fold
    messages = []
    search = SimpleNamespace(log=messages.append, guarded=None)
    assert guard(search, close, [tfidf, frozen, close, clear]) is frozen
    assert search.guarded.startswith("frozen last, L2, C=1 kept: the best candidate, hybrid word + last, "
                                     "C=10")
    assert "within noise" in close.status and messages == [f"  {search.guarded}"]
    search.guarded = None
    assert guard(search, clear, [tfidf, frozen, close, clear]) is clear and search.guarded is None
    assert guard(search, frozen, [tfidf, frozen]) is frozen
    assert guard(search, clear, [clear]) is clear  # no baseline scored in full: nothing to keep


def test_on_small_sets_few_shot_tuning_is_the_baseline_and_fine_tuning_stands_aside():
    from types import SimpleNamespace

    from bertclf.search.finetune_trial import finetune_candidate
    from bertclf.search.settle import guard
    from bertclf.search.space import Candidate

    tfidf = Candidate("tfidf", "word", C=10.0, scores=[1.0, 0.75, 0.75, 0.5, 0.5])
    few = Candidate("fewshot", scores=[0.5, 0.75, 0.5, 0.75, 0.5])
    frozen = Candidate("embedding", layers=-1, scaling="l2", C=10.0, scores=[0.75, 0.75, 0.75, 0.75, 0.75])
    search = SimpleNamespace(log=lambda m: None, guarded=None)
    assert guard(search, tfidf, [tfidf, frozen, few]) is few  # TF-IDF's lead is noise
    assert search.guarded.startswith("few-shot tuned encoder kept")
    tuned = Candidate("finetune", head="linear")
    search = SimpleNamespace(multilabel=False, base=SimpleNamespace(calibrate=False), scored=[tfidf, few],
                             log=lambda m: None)
    assert finetune_candidate(search, tuned, few) is None
    assert tuned.status == "skipped: few texts per class, where few-shot tuning tunes the encoder instead"


def test_against_few_shot_tuning_a_lead_is_judged_per_out_of_fold_text():
    from types import SimpleNamespace

    from bertclf.search.settle import FEW_SHOT_LEAD, few_shot_lead, fold_lead, guard
    from bertclf.search.space import Candidate
    from bertclf.search.voting import log_proba, vote_oof

    target = np.array([0, 1] * 15)  # 30 texts, five folds of six
    folds = [(np.setdiff1d(np.arange(30), np.arange(f * 6, f * 6 + 6)), np.arange(f * 6, f * 6 + 6))
             for f in range(5)]

    def candidate(features: str, right: np.ndarray, sure: float = 0.9, **kw) -> Candidate:
        """A candidate whose out-of-fold answers are right exactly where ``right`` says."""
        answer = np.where(right, target, 1 - target)
        proba = np.eye(2)[answer] * (2 * sure - 1) + (1 - sure)
        oof = {f: log_proba(proba[test]) for f, (_, test) in enumerate(folds)}
        scores = [float(right[test].mean()) for _, test in folds]
        return Candidate(features, oof=oof, scores=scores, **kw)

    few_right = np.arange(30) % 3 != 0  # 20 of 30 right
    few = candidate("fewshot", few_right)
    # right on 6 texts few-shot missed, wrong on 2 it got (both in the first fold): fold leads of
    # 0, 1/6, 1/6, 1/6, 1/6 agree (4 fold standard errors), but 4 texts net of 30 are 1.4 per text
    rows = np.arange(30)
    better = candidate("tfidf", (few_right | np.isin(rows, [0, 3, 6, 12, 18, 24])) & ~np.isin(rows, [1, 2]),
                       tfidf="word", C=10.0)
    search = SimpleNamespace(log=lambda m: None, guarded=None, splits=folds, target=target)
    lead, error, over = few_shot_lead(search, better, few)
    assert lead == pytest.approx(4 / 30) and over == "the same 30 out-of-fold texts"
    assert FEW_SHOT_LEAD * error > lead > error  # more than one standard error, fewer than two
    assert fold_lead(better, few)[0] > 3 * fold_lead(better, few)[1]  # what the fold means said
    assert guard(search, better, [few, better]) is few
    assert "a lead of 2 standard errors needed)" in search.guarded
    assert search.guarded.endswith("over the same 30 out-of-fold texts")
    clear = candidate("tfidf", np.ones(30, bool), sure=0.99, tfidf="word", C=1.0)  # right on every text
    search.guarded = None
    assert guard(search, clear, [few, better, clear]) is clear and search.guarded is None
    # a vote's answers are its members' vote, as best_vote records them (clear is the surer)
    vote = Candidate("vote", members=[better, clear], scores=list(clear.scores),
                     oof=vote_oof([better, clear], len(folds)))
    lead, _, over = few_shot_lead(search, vote, few)
    assert lead == pytest.approx(10 / 30) and over.endswith("30 out-of-fold texts")
    # without out-of-fold answers, the fold means are what there is
    bare = Candidate("embedding", layers=-1, scaling="l2", C=1.0, scores=clear.scores)
    assert few_shot_lead(search, bare, few)[2] == "the same folds"


@pytest.mark.parametrize("native", [True, False])
def test_fine_tuning_is_timed_in_its_precision_and_its_finish_in_fp32(tiny_model, embedder, monkeypatch,
                                                                        native):
    """On a CPU with bf16 the tuner trains under bf16 autocast but predicts in fp32: the texts
    it can train on come from a bf16 pass, the time to predict the check and report texts from
    an fp32 one, each timed once."""
    from types import SimpleNamespace

    from bertclf import FineTuner
    from bertclf.encode import backends
    from bertclf.search.finetune_trial import FINETUNE_SAVE_SECONDS, finish_seconds, forward_seconds

    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: native)
    timed = []

    def seconds_per_text(embed):
        timed.append(embed.__self__.dtype)
        return {"bf16": 0.01, "fp32": 0.02}[embed.__self__.dtype]

    search = SimpleNamespace(tune_forward={}, base=SimpleNamespace(embedder_=embedder),
                             finetuner=FineTuner(tiny_model, device="cpu"), seconds_per_text=seconds_per_text,
                             check_rows=np.arange(100), splits=[], after_texts=50)
    assert forward_seconds(search) == (0.01 if native else 0.02)
    assert finish_seconds(search) == pytest.approx(FINETUNE_SAVE_SECONDS + 0.02 * 150)
    forward_seconds(search), finish_seconds(search)  # once timed, kept
    assert timed == (["bf16", "fp32"] if native else ["fp32"])


def test_an_embedding_pass_is_priced_once_per_setting(embedder, monkeypatch):
    """Timed again, the memoised sample looks free: on sst2 a second candidate reading [CLS]
    was priced at ~0 s after the first was refused at ~91 s, and with time left it would have
    started the pass the first could not afford."""
    from bertclf.io.labels import encode_labels
    from bertclf.search.auto import Search
    from bertclf.search.space import Candidate

    priced = []
    monkeypatch.setattr(Search, "_pass_seconds", lambda self, e: priced.append(e) or 91.0 / len(priced))
    base = TextClassifier(embedder)
    base.embedder_ = embedder
    classes, target = encode_labels(LABELS)
    search = Search(TEXTS, target, len(classes), base, 600, 2, 0, lambda line: None)
    frozen, hybrid = Candidate("embedding", pooling="cls"), Candidate("hybrid", pooling="cls", C=10)
    assert search.embedding_cost(frozen) == search.embedding_cost(hybrid) == 91.0 and len(priced) == 1
    assert search.embedding_cost(Candidate("embedding", pooling="max")) == 45.5  # another setting: timed
