"""Multi-label targets, sentence pairs, long texts and metadata through TextClassifier."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from bertclf import BertclfWarning, Embedder, TextClassifier
from bertclf.classify.features import ExtraEmbeddings, MetaEncoder
from bertclf.classify.heads import HEADS
from bertclf.classify.sentence_guide import TextGuide
from bertclf.classify.thresholds import tune_thresholds
from bertclf.encode.sources import load_tokenizer, resolve
from bertclf.errors import InputError, SpecError
from bertclf.evaluate.multilabel import evaluate_multilabel
from bertclf.io.labels import encode_multilabel
from tests.conftest import LABELS, TEXTS

# sport+money texts carry both labels; water texts neither (allowed, and counted)
MULTI = pd.DataFrame({"sport": [1] * 8 + [1, 1, 1, 1] + [0] * 4 + [0] * 8,
                      "money": [0] * 8 + [1] * 8 + [0] * 8})


@pytest.fixture
def embedder(tiny_model):
    return Embedder(tiny_model, progress=False)


def test_label_sets_and_zero_one_columns_encode_alike():
    names, matrix = encode_multilabel([["b", "a"], [], ["a"]])
    assert names.tolist() == ["a", "b"] and matrix.tolist() == [[1, 1], [0, 0], [1, 0]]
    names, matrix = encode_multilabel(pd.DataFrame({"a": ["1", "0", "1"], "b": [1.0, 0.0, 0.0]}))
    assert names.tolist() == ["a", "b"] and matrix.tolist() == [[1, 1], [0, 0], [1, 0]]
    with pytest.raises(InputError, match=r"label column 'b' must hold only 0 and 1: found '2' \(1 rows: 3\)"):
        encode_multilabel(pd.DataFrame({"a": [1, 0, 1], "b": ["1", "0", "2"]}))


def test_thresholds_maximise_each_labels_f1():
    truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]])
    proba = np.array([[0.3, 0.9], [0.35, 0.8], [0.1, 0.2], [0.2, 0.6], [0.4, 0.1]])
    cut = tune_thresholds(truth, proba)
    assert 0.2 < cut[0] <= 0.3  # every positive above, every negative below
    predicted = (proba >= cut).astype(int)
    assert (predicted[:, 0] == truth[:, 0]).all()
    report = evaluate_multilabel(truth, predicted, proba, ["a", "b"])
    assert report["per_label"][0]["f1"] == 1.0
    assert report["mean_roc_auc"] == pytest.approx((1.0 + 0.5) / 2)
    assert report["hamming_loss"] == pytest.approx(np.mean(predicted != truth))


def test_each_label_may_have_its_own_fixed_threshold(embedder, tmp_path):
    model = TextClassifier(embedder, features="tfidf", thresholds={"money": 0.7, "sport": 0.2})
    with pytest.warns(BertclfWarning, match="no positive label"):
        model.fit(TEXTS, MULTI)
    assert model.thresholds_.tolist() == [0.2, 0.7]  # in the order of classes_: sport, money
    model.save(tmp_path / "m")
    assert TextClassifier.load(tmp_path / "m").thresholds_.tolist() == [0.2, 0.7]
    missing = r"every label: missing \['money'\], unknown \['moneys'\]"
    with pytest.warns(BertclfWarning), pytest.raises(SpecError, match=missing):
        clone(model).set_params(thresholds={"sport": 0.5, "moneys": 0.5}).fit(TEXTS, MULTI)
    with pytest.raises(SpecError, match="a mapping of every label to one, got {'sport': 1.5}"):
        clone(model).set_params(thresholds={"sport": 1.5}).fit(TEXTS, MULTI)


@pytest.mark.parametrize("head", HEADS)
def test_multilabel_heads_fit_predict_and_round_trip(embedder, head, tmp_path):
    params = {"n_estimators": 20} if head == "xgboost" else None
    model = TextClassifier(embedder, head=head, head_params=params)
    with pytest.warns(BertclfWarning, match="8 of 24 rows have no positive label"):
        model.fit(TEXTS, MULTI)
    assert model.classes_.tolist() == ["sport", "money"] and model.multilabel_
    proba = model.predict_proba(TEXTS)
    assert proba.shape == (24, 2) and ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1.0)  # independent probabilities, not a softmax
    predicted = model.predict(TEXTS)
    assert predicted.shape == (24, 2) and set(np.unique(predicted)) <= {0, 1}
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), proba)
    np.testing.assert_array_equal(loaded.thresholds_, model.thresholds_)
    np.testing.assert_array_equal(loaded.predict(TEXTS), predicted)


def test_multilabel_learns_the_labels(embedder):
    with pytest.warns(BertclfWarning, match="24 of 72 rows have no positive label"):
        model = TextClassifier(embedder, C=100.0).fit(TEXTS * 3, pd.concat([MULTI] * 3, ignore_index=True))
    assert (model.predict(TEXTS) == MULTI.to_numpy()).mean() > 0.9
    assert model.score(TEXTS, MULTI.to_numpy()) > 0.7  # subset accuracy, as scikit-learn defines it


def test_constant_label_gets_its_prevalence(embedder):
    target = MULTI.assign(never=0)
    with pytest.warns(BertclfWarning) as caught:
        model = TextClassifier(embedder, thresholds=0.5).fit(TEXTS, target)
    assert any("label never is never or always present" in str(w.message) for w in caught)
    np.testing.assert_allclose(model.predict_proba(TEXTS)[:, 2], 1e-3, rtol=1e-2)
    assert model.thresholds_.tolist() == [0.5] * 3


def test_sentence_pairs_fit_and_round_trip(embedder, tmp_path):
    frame = pd.DataFrame({"question": TEXTS, "answer": TEXTS[::-1], "label": LABELS})
    model = TextClassifier(embedder, pair_col="answer", text_col="question").fit(frame, frame["label"])
    tuples = list(zip(TEXTS, TEXTS[::-1], strict=True))
    np.testing.assert_allclose(model.predict_proba(frame), model.predict_proba(tuples))
    single = TextClassifier(embedder).fit(TEXTS, LABELS)
    assert not np.allclose(model.predict_proba(frame), single.predict_proba(TEXTS))
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.pair_col == "answer"
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    with pytest.raises(InputError, match="no column 'answer'"):
        loaded.predict_proba(frame.drop(columns="answer"))
    with pytest.raises(InputError, match="1 of 24 sentence pairs have no second text"):
        loaded.predict_proba(frame.assign(answer=[None] + TEXTS[1:]))


def test_metadata_encoder_matches_scikit_learns_column_transformer():
    table = pd.DataFrame({"year": ["2001", "1999", "", "2010"], "kind": ["a", "b", None, "a"],
                          "author": ["x1", "x2", "x3", "x4"]})
    encoder = MetaEncoder(["year", "kind", "author"], max_categories=3).fit(table)
    assert [s["kind"] for s in encoder.specs] == ["numeric", "onehot", "hashed"]
    ours = encoder.transform(table)
    frame = pd.DataFrame({"year": [2001.0, 1999.0, np.nan, 2010.0], "kind": ["a", "b", "(missing)", "a"],
                          "author": ["x1", "x2", "x3", "x4"]})
    np.testing.assert_allclose(ours, encoder.fitted_.transform(frame))
    again = MetaEncoder.from_json(encoder.to_json()).transform(table.assign(kind=["zzz", "a", "b", "a"]))
    assert again[0, 1:3].tolist() == [0.0, 0.0, 0.0][:2]  # an unseen category is all zeros
    assert again.shape == ours.shape


def test_metadata_and_extra_vectors_are_fused_and_checked(embedder, tmp_path, write):
    topics = {"sport": 0, "money": 1, "water": 2}
    frame = pd.DataFrame({"text": ["the"] * 24, "source": [f"s{topics[y]}" for y in LABELS],
                          "pages": [str(3 * topics[y]) for y in LABELS], "author": [y[:2] for y in LABELS]})
    vectors = write("authors.csv", "author,v1,v2\nsp,1,0\nmo,0,1\nwa,-1,-1\n")
    plain = TextClassifier(embedder).fit(frame[["text"]], LABELS)
    assert plain.score(frame[["text"]], LABELS) < 0.5  # the texts alone say nothing
    fused = TextClassifier(embedder, meta_cols=["source", "pages"]).fit(frame, LABELS)
    assert fused.score(frame, LABELS) == 1.0
    assert fused.transform(frame).shape[1] == fused.tfidf_.dim + embedder.settings().dim + 3 + 1
    joined = TextClassifier(embedder, extra_embeddings=vectors, join_on="author").fit(frame, LABELS)
    assert joined.score(frame, LABELS) == 1.0
    joined.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(frame), joined.predict_proba(frame))
    with pytest.warns(BertclfWarning, match="1 of 2 rows have a author key with no extra embedding"):
        loaded.predict_proba(frame.head(2).assign(author=["sp", "nobody"]))
    fused.save(tmp_path / "f")
    with pytest.raises(InputError, match="no column 'pages'"):
        TextClassifier.load(tmp_path / "f").predict(frame.drop(columns="pages"))
    with pytest.raises(InputError, match="need X as a DataFrame"):
        fused.predict(["the"])
    with pytest.raises(SpecError, match="give both --extra-embeddings and --join-on"):
        TextClassifier(embedder, join_on="author").fit(frame, LABELS)


def test_extra_embeddings_refuse_duplicate_keys(write):
    path = write("dup.csv", "key,v\na,1\na,2\n")
    with pytest.raises(InputError, match="1 keys appear more than once"):
        ExtraEmbeddings.read(path, "key")
    with pytest.raises(InputError, match="no column 'name'"):
        ExtraEmbeddings.read(path, "name")


def test_guide_keeps_the_title_and_the_informative_sentences(tiny_model):
    tokenizer = load_tokenizer(resolve(tiny_model))
    texts = ["the bank rate. the cat sat on the mat. a loan from the bank. my dog was slow.",
             "the team won. the cat sat on the mat. a great game. my dog was slow."] * 4
    labels = np.array([0, 1] * 4)
    guide = TextGuide().fit(texts, labels)
    assert set(guide.importance) >= {"bank", "loan", "team", "game"}
    sentences = ("the bank rate.", "a loan from the bank.", "my dog was slow.")
    sizes = [len(tokenizer.tokenize(s)) for s in sentences]
    assert sizes[1] > sizes[2]  # the informative sentence is not merely the shorter one
    picked = guide.select(texts[:2], tokenizer, budget=sizes[0] + sizes[1])
    assert picked[0] == "the bank rate. a loan from the bank."
    assert picked[1].startswith("the team won.") and "game" in picked[1] and "cat" not in picked[1]
    assert guide.select(["short text"], tokenizer, budget=20) == ["short text"]


def test_guide_in_a_classifier_round_trips(tiny_model, tmp_path):
    long_texts = [f"{t}. " + " ".join(["the cat sat on the mat."] * 6) for t in TEXTS]
    model = TextClassifier(Embedder(tiny_model, max_length=16, long="guide", progress=False))
    model.fit(long_texts, LABELS)
    assert model.guide_.importance
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.embedder_.long == "guide"
    np.testing.assert_array_equal(loaded.predict_proba(long_texts), model.predict_proba(long_texts))
    assert clone(model).get_params()["embedder"].long == "guide"


def test_extra_embeddings_from_a_parquet_list_column(tmp_path):
    path = tmp_path / "authors.parquet"
    pd.DataFrame({"author": ["ann", "bob"], "embedding": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}).to_parquet(path)
    extra = ExtraEmbeddings.read(str(path), "author")
    assert extra.vectors.shape == (2, 3)
    np.testing.assert_array_equal(extra.lookup(["bob", "ann"]), [[4, 5, 6], [1, 2, 3]])
