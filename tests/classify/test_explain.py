"""Why this label: explanations that are faithful where the answer is known, exact for TF-IDF,
the same whatever the batch, and that never change the prediction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from bertclf import Embedder, TextClassifier, runtime
from bertclf.classify.explain import linear_scores, tfidf_contributions, without, word_spans
from bertclf.errors import InputError, SpecError
from tests.conftest import LABELS, TEXTS

FILLER = "the a and of to in is was it on for with that this my your we they cat dog sat mat".split()


def keyword_data(seed: int = 0, n: int = 80) -> tuple[list[str], list[str]]:
    """Texts of filler words; 'flood' anywhere in a text makes it 'yes': one keyword decides."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(FILLER, 6))
        if i % 2:
            words.insert(int(rng.integers(0, 7)), "flood")
        texts.append(" ".join(words))
        labels.append("yes" if i % 2 else "no")
    return texts, labels


@pytest.fixture(scope="module")
def keyword_model(tiny_model):
    texts, labels = keyword_data()
    return TextClassifier(Embedder(model=tiny_model), features="embedding", C=100.0,
                          reuse_embeddings=False).fit(texts, labels)


def test_the_deciding_keyword_comes_first_and_removing_the_top_words_lowers_the_label(keyword_model):
    texts = [t for t, label in zip(*keyword_data(seed=1, n=20), strict=True) if label == "yes"]
    found = keyword_model.explain(texts, k=3)
    assert len(found) == len(texts) and all(len(one) == 1 for one in found)
    top = [one[0].toward[0]["word"] for one in found if one[0].label == "yes" and one[0].toward]
    assert top.count("flood") >= 0.8 * len(texts)
    for text, (explanation,) in zip(texts, found, strict=True):
        best = explanation.toward[0]
        assert text[best["start"]:best["end"]] == best["word"]  # offsets point into the text
    # ERASER's comprehensiveness: without its top word, each text's label loses probability
    base = keyword_model.predict_proba(texts)[:, 1]
    cut = keyword_model.predict_proba([without(t, (e[0].toward[0]["start"], e[0].toward[0]["end"]))
                                       for t, e in zip(texts, found, strict=True)])[:, 1]
    assert (cut < base).all()
    assert found[0][0].probability == pytest.approx(base[0])  # the prediction's own probability


def test_tfidf_weights_sum_to_the_parts_share_of_the_labels_score(tiny_model):
    model = TextClassifier(Embedder(model=tiny_model), features="tfidf").fit(TEXTS * 2, LABELS * 2)
    W, b = linear_scores(model.head_)
    text = "the bank loan rate in the river city"
    features = model.tfidf_.transform([text]).toarray()[0]
    for label in range(len(model.classes_)):
        contributions = tfidf_contributions(model.tfidf_, model.head_, text, label)
        assert sum(contributions.values()) == pytest.approx(features @ W[label], abs=1e-9)
        assert sum(contributions.values()) + b[label] == pytest.approx(features @ W[label] + b[label])
    (explanation,) = model.explain([text], k=2)[0]
    assert explanation.method == "tfidf-weights" and explanation.label == "money"
    assert {w["word"] for w in explanation.toward} <= {"bank", "loan", "rate", "bank loan", "loan rate"}


def test_explanations_are_the_same_whatever_the_batch_and_leave_the_prediction_alone(model_dir):
    model = runtime.Model(model_dir)
    texts = ["the team won the game", "a loan from the bank in the city", "the river flood water"]
    before = model.predict_proba(texts)
    together = model.explain(texts, k=3)
    alone = [model.explain([t], k=3)[0] for t in texts]
    assert [[e.to_json() for e in one] for one in together] == [[e.to_json() for e in one] for one in alone]
    np.testing.assert_array_equal(model.predict_proba(texts), before)
    assert [one[0].probability for one in together] == pytest.approx(before.max(axis=1))


def test_empty_long_and_bad_inputs(model_dir):
    model = runtime.Model(model_dir)
    assert model.explain([], k=2) == []
    (empty,) = model.explain([""], k=2)[0]
    assert empty.toward == [] and empty.against == [] and not empty.cut
    long_text = "the bank rate " * 40  # 120 tokens: the tiny model reads 62 (64 positions)
    (long,) = model.explain([long_text], k=50)[0]
    read = max(w["end"] for w in long.toward + long.against)
    assert long.cut and read <= len("the bank rate " * 21)  # only what the model read is explained
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="at least 1"):
            model.explain(["the bank"], k=bad)


def test_each_predicted_label_is_explained_in_a_multi_label_model(tiny_model):
    both = ["the team and the bank", "a game at the bank", "the bank team won", "money for the team"] * 2
    labels = [[label] for label in LABELS] + [["sport", "money"]] * len(both)
    model = TextClassifier(Embedder(model=tiny_model), features="tfidf", thresholds=0.5)
    model.fit(TEXTS + both, labels)
    text = "the team and the bank rate"
    predicted = set(np.asarray(model.classes_)[model.predict([text])[0] == 1])
    found = model.explain([text], k=2)[0]
    assert predicted == {"sport", "money"} and {e.label for e in found} == predicted
    team = {e.label: {w["word"] for w in e.toward} for e in found}
    assert "team" in team["sport"] and "bank" in team["money"]


def test_word_spans_skip_punctuation_and_keep_clitics():
    text = "Don't panic, it's fine!"
    assert [text[a:b] for a, b in word_spans(text)] == ["Don't", "panic", "it's", "fine"]
    assert without("a b c", (2, 3)) == "a c" and without("only", (0, 4)) == ""


def test_both_sides_of_a_sentence_pair_are_explained(tiny_model):
    import pandas as pd

    table = pd.DataFrame({"text": TEXTS, "pair": TEXTS[::-1]})
    model = TextClassifier(Embedder(model=tiny_model), pair_col="pair", features="embedding")
    model.fit(table, LABELS)
    (found,) = model.explain([("the team won", "the bank loan")], k=10)[0]
    sides = {w["side"] for w in found.toward + found.against}
    assert sides == {"text", "pair"}
    words = {(w["side"], w["word"]) for w in found.toward + found.against}
    assert ("pair", "loan") in words and ("text", "team") in words


def test_the_token_method_finds_the_keyword_in_one_pass_and_says_where_not(keyword_model, tmp_path):
    keyword_model.save(tmp_path / "kw")
    model = runtime.Model(tmp_path / "kw")
    texts = [t for t, label in zip(*keyword_data(seed=2, n=20), strict=True) if label == "yes"]
    found = model.explain(texts, k=2, method="tokens")
    assert all(one[0].method == "tokens" for one in found)
    top = [one[0].toward[0]["word"] for one in found if one[0].label == "yes" and one[0].toward]
    assert top.count("flood") >= 0.8 * len(texts)
    assert [one[0].probability for one in found] == pytest.approx(model.predict_proba(texts).max(axis=1))
    guided = model.explain(texts, k=10, method="guided")  # occlusion of the words the shares rate highest
    assert [one[0].toward[0]["word"] for one in guided].count("flood") >= 0.8 * len(texts)
    assert all(len(one[0].toward + one[0].against) <= 4 and one[0].method == "guided" for one in guided)
    with pytest.raises(InputError, match="unknown explanation method"):
        model.explain(texts, method="shap")
    clone(keyword_model).set_params(head="mlp").fit(*keyword_data()).save(tmp_path / "mlp")
    with pytest.raises(SpecError, match="a linear head"):
        runtime.Model(tmp_path / "mlp").explain(texts, method="tokens")


def test_metadata_columns_get_their_share_as_a_whole(tiny_model):
    import pandas as pd

    # the channel decides the label; the words are noise
    texts = [" ".join(np.random.default_rng(i).choice(FILLER, 5)) for i in range(60)]
    table = pd.DataFrame({"text": texts, "channel": ["mail", "web"] * 30})
    labels = ["late" if c == "mail" else "fine" for c in table["channel"]]
    model = TextClassifier(Embedder(model=tiny_model), meta_cols=["channel"], features="embedding", C=10.0)
    model.fit(table, labels)
    (found,) = model.explain(pd.DataFrame({"text": ["the cat sat on my mat"], "channel": ["mail"]}), k=3)[0]
    assert found.label == "late"
    assert found.toward[0] == {"word": "[metadata: channel]", "weight": found.toward[0]["weight"],
                               "start": None, "end": None, "side": "metadata"}
    assert found.toward[0]["weight"] > 0.2 and all(abs(w["weight"]) < found.toward[0]["weight"]
                                                   for w in found.toward[1:] + found.against)


@pytest.mark.parametrize("long", ["chunk", "head-tail"])
def test_a_long_text_is_explained_where_the_model_read_it(tiny_model, tmp_path, long):
    TextClassifier(Embedder(model=tiny_model, long=long, max_length=12), features="embedding",
                   reuse_embeddings=False).fit(TEXTS, LABELS).save(tmp_path / long)
    model = runtime.Model(tmp_path / long)
    text = "the team won the game " * 3 + "a loan from the bank " * 3  # 30 tokens, 10 a window
    (found,) = model.explain([text], k=50)[0]
    words = found.toward + found.against
    if long == "chunk":  # which window, then which words in it
        chunk = found.chunk
        assert chunk["of"] >= 3 and not found.cut
        assert words and all(chunk["start"] <= w["start"] < chunk["end"] for w in words)
    else:  # head+tail reads a start and an end: the middle is not explained
        assert found.cut and found.chunk is None
        starts = sorted(w["start"] for w in words)
        assert starts[0] < 20 and starts[-1] > len(text) - 25
        assert not any(35 <= s < len(text) - 40 for s in starts)
