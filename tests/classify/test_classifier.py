import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from bertclf import Embedder, TextClassifier
from bertclf.classify.heads import HEADS
from bertclf.encode.memory_cache import memo
from bertclf.errors import InputError, ModelLoadError, SpecError
from tests.conftest import LABELS, MONEY, SPORT, TEXTS


def _small(head):
    return {"n_estimators": 20} if head == "xgboost" else None


@pytest.fixture
def embedder(tiny_model):
    return Embedder(tiny_model, progress=False)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_fits_predicts_and_round_trips_to_the_bit(embedder, head, tmp_path):
    model = TextClassifier(embedder, head=head, head_params=_small(head))
    model.fit(TEXTS, LABELS)
    proba = model.predict_proba(TEXTS)
    assert proba.shape == (24, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert list(model.classes_) == ["money", "sport", "water"]
    assert model.score(TEXTS, LABELS) >= 0.6  # the tiny random encoder still separates its training set
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert np.array_equal(loaded.predict_proba(TEXTS), proba)
    assert list(loaded.predict(TEXTS)) == list(model.predict(TEXTS))
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    head_file = "head.xgboost.json" if head == "xgboost" else "head.safetensors"
    # the hybrid default also stores its TF-IDF vocabulary and the embedding's scaling
    assert files == sorted(["config.json", head_file, "scaling.safetensors", "tfidf.json",
                            "encoder.onnx", "tokenizer.json"])  # self-contained: the encoder travels


@pytest.mark.parametrize("head", ["logreg", "svm", "mlp", "xgboost"])
def test_binary_heads_and_numeric_labels(embedder, head, tmp_path):
    labels = [0] * 8 + [1] * 8
    model = TextClassifier(embedder, head=head, head_params=_small(head))
    model.fit(SPORT + MONEY, labels)
    assert model.predict_proba(SPORT[:2]).shape == (2, 2)
    assert model.predict(SPORT[:1])[0] in (0, 1)
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.classes_.tolist() == [0, 1]
    assert np.array_equal(loaded.predict(SPORT + MONEY), model.predict(SPORT + MONEY))


def test_linear_heads_match_scikit_learn(embedder):
    """The frozen numpy inference must equal the estimator it was taken from."""
    from sklearn.linear_model import LogisticRegression

    vectors = embedder.transform(TEXTS).astype(np.float64)
    reference = LogisticRegression(C=1.0, max_iter=2000, random_state=13).fit(vectors, LABELS)
    model = TextClassifier(embedder, features="embedding").fit(TEXTS, LABELS)
    np.testing.assert_allclose(model.predict_proba(TEXTS), reference.predict_proba(vectors), atol=1e-10)


@pytest.mark.parametrize("head", ["logreg", "svm", "mlp"])
def test_small_products_skip_blas_and_give_what_blas_gives(embedder, head, monkeypatch):
    """Few rows go through numpy's own loops (OpenBLAS's threads would spin on the encoder's
    cores after them); many through BLAS; the probabilities agree either way."""
    from bertclf.classify import heads

    vectors = embedder.transform(TEXTS).astype(np.float64)
    fitted = TextClassifier(embedder, features="embedding", head=head).fit(TEXTS, LABELS).head_
    real, calls = np.einsum, []
    monkeypatch.setattr(np, "einsum", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    small = fitted.predict_proba(vectors)
    through_numpy = len(calls)
    monkeypatch.setattr(heads, "SMALL_PRODUCT", 0)
    large = fitted.predict_proba(vectors)
    assert through_numpy == (2 if head == "mlp" else 1) and len(calls) == through_numpy
    np.testing.assert_allclose(small, large, rtol=0, atol=1e-12)


def test_class_weight_balanced_changes_the_fit(embedder):
    texts, labels = TEXTS[:12], LABELS[:12]  # 8 sport, 4 money
    plain = TextClassifier(embedder, C=0.05).fit(texts, labels).predict_proba(texts)
    balanced = TextClassifier(embedder, C=0.05, class_weight="balanced").fit(texts, labels)
    balanced = balanced.predict_proba(texts)
    assert balanced[:, 0].mean() > plain[:, 0].mean()  # the rarer class gains weight


def test_is_a_scikit_learn_estimator(embedder):
    model = TextClassifier(embedder, head="svm", C=0.5)
    params = model.get_params()
    assert params["C"] == 0.5 and params["embedder__pooling"] is None
    copy = clone(model)
    assert copy.get_params()["head"] == "svm" and copy.embedder is not model.embedder
    pipe = Pipeline([("lower", FunctionTransformer(lambda xs: [x.lower() for x in xs])),
                     ("clf", TextClassifier(embedder))])
    pipe.fit([t.upper() for t in TEXTS], LABELS)
    assert list(pipe.predict(TEXTS)) == list(TextClassifier(embedder).fit(TEXTS, LABELS).predict(TEXTS))


def test_grid_search_embeds_each_text_once_per_embedder_setting(embedder):
    memo.clear()
    before = memo.computed
    grid = GridSearchCV(
        TextClassifier(embedder),
        {"embedder__pooling": ["mean", "cls"], "embedder__layers": [-1, "-2..-1"],
         "head": ["logreg", "svm"], "C": [0.1, 1.0]},
        cv=3,
    )
    grid.fit(TEXTS, LABELS)
    # 4 embedder settings x 24 distinct texts, although 16 candidates x (3 folds + refit) were fitted
    assert memo.computed - before == 4 * len(set(TEXTS))
    assert set(grid.best_params_) == {"embedder__pooling", "embedder__layers", "head", "C"}
    assert grid.best_estimator_.predict(TEXTS[:2]).shape == (2,)


def test_memo_can_be_turned_off_and_is_bounded(embedder):
    memo.clear()
    TextClassifier(embedder, reuse_embeddings=False).fit(TEXTS, LABELS)
    assert not memo.groups
    small = type(memo)(max_bytes=1)
    out = small.embed(embedder, ["the bank"])
    assert out.shape == (1, 32) and small.nbytes <= 1


def test_fit_refuses_what_cannot_be_learned(embedder):
    with pytest.raises(InputError, match="only one class"):
        TextClassifier(embedder).fit(TEXTS[:3], ["a", "a", "a"])
    with pytest.raises(InputError, match="missing or empty labels"):
        TextClassifier(embedder).fit(TEXTS[:3], ["a", None, "b"])
    with pytest.raises(InputError, match="3 texts but 2 labels"):
        TextClassifier(embedder).fit(TEXTS[:3], ["a", "b"])
    with pytest.raises(SpecError, match="unknown head"):
        TextClassifier(embedder, head="forest").fit(TEXTS, LABELS)
    with pytest.raises(SpecError, match="C must be a positive"):
        TextClassifier(embedder, C=0).fit(TEXTS, LABELS)
    with pytest.raises(SpecError, match="class_weight"):
        TextClassifier(embedder, class_weight="auto").fit(TEXTS, LABELS)


def test_svm_with_a_single_example_class_still_gives_probabilities(embedder):
    model = TextClassifier(embedder, head="svm").fit(TEXTS + ["the cat sat"], LABELS + ["cat"])
    proba = model.predict_proba(TEXTS)
    assert proba.shape == (24, 4) and np.isfinite(proba).all()
    # every class smaller than scikit-learn's default 5 folds, one of them a single text (a fold
    # of --auto's search on a small set looks like this)
    texts, labels = TEXTS[:2] + TEXTS[8:10] + ["the cat sat"], LABELS[:2] + LABELS[8:10] + ["cat"]
    few = TextClassifier(embedder, head="svm", features="embedding").fit(texts, labels)
    proba = few.predict_proba(TEXTS)
    assert proba.shape == (24, 3) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.fixture
def saved(embedder, tmp_path):
    TextClassifier(embedder).fit(TEXTS, LABELS).save(tmp_path / "m", metrics={"accuracy": 1.0})
    return tmp_path / "m"


def test_config_is_readable(saved):
    config = json.loads((saved / "config.json").read_text())
    assert config["labels"] == ["money", "sport", "water"]
    assert config["embedder"]["pooling"] == "mean" and config["embedder"]["layers"] == [3]
    assert config["head"]["name"] == "logreg" and config["metrics"] == {"accuracy": 1.0}
    assert len(config["files"]["head.safetensors"]["sha256"]) == 64
    assert config["bertclf_version"] and config["training"]["texts"] == 24


def test_edited_weights_fail_the_checksum(saved):
    data = bytearray((saved / "head.safetensors").read_bytes())
    data[-1] ^= 1
    (saved / "head.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="fails its checksum"):
        TextClassifier.load(saved)


def test_missing_weight_file(saved):
    (saved / "head.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="head.safetensors is missing"):
        TextClassifier.load(saved)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["labels"].append("extra"), "4 labels"),
        (lambda c: c.pop("embedder"), "missing 'embedder'"),
        (lambda c: c["embedder"].update(pooling="median"), "pooling"),
        (lambda c: c["head"].update(name="forest"), "unknown head"),
        (lambda c: c["files"].update({"../evil.py": {"sha256": "0"}}), "unexpected file entry"),
        (lambda c: c.update(format_version=99), "version 99"),
    ],
)
def test_edited_config_is_refused_clearly(saved, edit, message):
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=message):
        TextClassifier.load(saved)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model folder"):
        TextClassifier.load(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="no config.json"):
        TextClassifier.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        TextClassifier.load(tmp_path)


def test_save_replaces_a_model_but_never_other_folders(embedder, saved, tmp_path):
    TextClassifier(embedder, head="svm").fit(TEXTS, LABELS).save(saved)
    assert TextClassifier.load(saved).head == "svm"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"x")
    with pytest.raises(InputError, match="not a bertclf model folder"):
        TextClassifier(embedder).fit(TEXTS, LABELS).save(other)
    assert (other / "cat.jpg").exists()


def test_interrupted_save_leaves_the_old_model_intact(embedder, saved, monkeypatch, tmp_path):
    before = {p.name: p.read_bytes() for p in Path(saved).iterdir()}
    model = TextClassifier(embedder, head="mlp").fit(TEXTS, LABELS)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("bertclf.io.modelio.os.fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        model.save(saved)
    assert {p.name: p.read_bytes() for p in Path(saved).iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_load_allows_runtime_options_only(saved):
    assert TextClassifier.load(saved, batch_size=4).embedder.batch_size == 4
    with pytest.raises(InputError, match="cannot change pooling"):
        TextClassifier.load(saved, pooling="cls")
