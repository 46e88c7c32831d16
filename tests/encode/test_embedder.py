import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline

from bertclf import BertclfWarning, Embedder
from bertclf.encode import backends as backends_module
from bertclf.errors import InputError, ModelLoadError, SpecError
from tests.conftest import TINY_HIDDEN, TINY_LAYERS, TINY_MAX_POSITIONS

TEXTS = [
    "the cat sat on the mat",
    "hello",
    "the bank raised rates and the river flooded the city",
    "good game",
    "my dog was fast and the cat was slow",
    "a",
    "win",
]


def _cosines(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _reference_mean(model_dir, text, layer=-1):
    """Mean pooling computed directly with transformers on one unpadded text."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    inputs = tokenizer([text], return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**inputs, output_hidden_states=True).hidden_states[layer]
    return hidden[0].mean(dim=0).numpy()


def test_transform_returns_float32_rows_in_input_order(tiny_model):
    vectors = Embedder(model=tiny_model, backend="onnx").transform(TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), TINY_HIDDEN)
    # one text at a time needs no sorting or padding: the batched result must match it row by row
    singles = np.vstack([Embedder(model=tiny_model, backend="onnx").transform([t]) for t in TEXTS])
    np.testing.assert_allclose(vectors, singles, atol=1e-5)


def test_mean_pooling_matches_a_direct_transformers_computation(tiny_model):
    vectors = Embedder(model=tiny_model, pooling="mean", backend="torch").transform(TEXTS)
    for text, vector in zip(TEXTS, vectors, strict=True):
        np.testing.assert_allclose(vector, _reference_mean(tiny_model, text), atol=1e-5)


def test_second_layer_and_embedding_output_are_selectable(tiny_model):
    vectors = Embedder(model=tiny_model, layers="1", backend="torch").transform(TEXTS[:2])
    np.testing.assert_allclose(vectors[0], _reference_mean(tiny_model, TEXTS[0], layer=1), atol=1e-5)
    embeddings = Embedder(model=tiny_model, layers=0, backend="torch").transform(TEXTS[:2])
    np.testing.assert_allclose(embeddings[1], _reference_mean(tiny_model, TEXTS[1], layer=0), atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 64])
def test_same_text_same_vector_whatever_the_batch(tiny_model, batch_size):
    reference = Embedder(model=tiny_model, batch_size=4).transform(TEXTS)
    vectors = Embedder(model=tiny_model, batch_size=batch_size).transform(TEXTS)
    assert _cosines(vectors, reference).min() >= 0.9999
    # and whatever its neighbours: shuffle the corpus and add new texts around it
    mixed = ["sport news", *reversed(TEXTS), "the long long long long long text"]
    shuffled = Embedder(model=tiny_model, batch_size=batch_size).transform(mixed)[1:-1][::-1]
    assert _cosines(shuffled, reference).min() >= 0.9999


@pytest.mark.parametrize(
    ("layers", "layer_agg", "dim"),
    [
        ("-1", "mean", TINY_HIDDEN),
        ("-2..-1", "concat", 2 * TINY_HIDDEN),
        ("all", "concat", TINY_LAYERS * TINY_HIDDEN),
        ("all", "mean", TINY_HIDDEN),
        ([0, -1], "concat", 2 * TINY_HIDDEN),
    ],
)
def test_layer_selection_and_aggregation_shapes(tiny_model, layers, layer_agg, dim):
    embedder = Embedder(model=tiny_model, layers=layers, layer_agg=layer_agg, pooling="max")
    assert embedder.transform(TEXTS).shape == (len(TEXTS), dim)
    assert len(embedder.get_feature_names_out()) == dim


def test_concat_is_each_layer_pooled_side_by_side(tiny_model):
    both = Embedder(model=tiny_model, layers="-2,-1", layer_agg="concat").transform(TEXTS)
    second = Embedder(model=tiny_model, layers=-2).transform(TEXTS)
    last = Embedder(model=tiny_model, layers=-1).transform(TEXTS)
    np.testing.assert_allclose(both, np.hstack([second, last]), atol=1e-6)


def test_defaults_without_sentence_transformers_config(tiny_model):
    s = Embedder(model=tiny_model).settings()
    assert (s.pooling, s.max_length, s.normalize) == ("mean", TINY_MAX_POSITIONS, False)


def test_defaults_follow_the_sentence_transformers_config(tiny_st_model):
    s = Embedder(model=tiny_st_model).settings()
    assert (s.pooling, s.max_length, s.normalize) == ("cls", 16, True)
    vectors = Embedder(model=tiny_st_model).transform(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    raw = Embedder(model=tiny_st_model, normalize=False).transform(TEXTS)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


def test_explicit_settings_override_the_model_config(tiny_st_model):
    s = Embedder(model=tiny_st_model, pooling="max", max_length=8).settings()
    assert (s.pooling, s.max_length) == ("max", 8)


def test_truncation_is_counted_in_a_warning(tiny_model):
    with pytest.warns(BertclfWarning, match="1 of 2 texts were longer than 4 tokens"):
        Embedder(model=tiny_model, max_length=4).transform(["hello", "the cat sat on the mat"])


def test_empty_and_missing_texts_are_embedded_and_counted(tiny_model):
    texts = ["hello", "", None, float("nan"), "   "]
    with pytest.warns(BertclfWarning, match="4 of 5 texts are empty or missing"):
        vectors = Embedder(model=tiny_model).transform(texts)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors[1], vectors[2], atol=1e-6)


def test_strict_refuses_empty_texts(tiny_model):
    with pytest.raises(InputError, match="1 of 2 texts are empty"):
        Embedder(model=tiny_model, strict=True).transform(["hello", None])


def test_accepts_series_arrays_and_one_column_frames(tiny_model):
    embedder = Embedder(model=tiny_model)
    expected = embedder.transform(TEXTS[:3])
    for X in (pd.Series(TEXTS[:3]), np.array(TEXTS[:3]), pd.DataFrame({"t": TEXTS[:3]}),
              np.array(TEXTS[:3]).reshape(-1, 1)):
        np.testing.assert_allclose(embedder.transform(X), expected, atol=1e-6)
    assert embedder.transform([]).shape == (0, TINY_HIDDEN)
    with pytest.raises(InputError, match="single string"):
        embedder.transform("hello")
    with pytest.raises(InputError, match="one text column"):
        embedder.transform(pd.DataFrame({"a": ["x"], "b": ["y"], "c": ["z"]}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pooling": "avg"}, "cls, mean, max"),
        ({"layers": "-9"}, "has 3 layers"),
        ({"layers": "top4"}, "-4..-1"),
        ({"layer_agg": "sum"}, "mean, concat"),
        ({"max_length": TINY_MAX_POSITIONS + 1}, "takes 2..64 tokens"),
        ({"max_length": 0}, "takes 2..64 tokens"),
        ({"max_length": 8.5}, "takes 2..64 tokens"),
        ({"batch_size": 0}, "positive integer"),
        ({"threads": -1}, "threads must be a positive integer"),
        ({"backend": "tensorrt"}, "unknown backend"),
        ({"device": "tpu"}, "unknown device"),
    ],
)
def test_bad_parameters_raise_spec_errors_naming_the_valid_forms(tiny_model, params, message):
    with pytest.raises(SpecError, match=message):
        Embedder(model=tiny_model, **params).fit().transform(["hello"])


def test_folders_that_are_not_bert_encoders_are_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        Embedder(model=str(tmp_path)).fit()
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ModelLoadError, match="'gpt2' model, not a BERT-family encoder"):
        Embedder(model=str(tmp_path)).fit()
    with pytest.raises(ModelLoadError, match="model folder not found"):
        Embedder(model=str(tmp_path / "missing")).fit()


def test_unreachable_hub_ids_fail_fast_with_a_clear_message(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        Embedder(model="someone/not-a-cached-model").fit()


def test_is_a_scikit_learn_transformer(tiny_model):
    embedder = Embedder(model=tiny_model, pooling="max", layers="-2..-1")
    params = embedder.get_params()
    assert params["pooling"] == "max" and params["layers"] == "-2..-1"
    assert all(not hasattr(v, "forward") for v in params.values())  # no weights among params
    copy = clone(embedder)
    assert copy.get_params() == params and copy is not embedder
    assert embedder.fit(TEXTS) is embedder
    copy.set_params(pooling="cls")
    assert copy.pooling == "cls" and embedder.pooling == "max"
    assert len(pickle.dumps(embedder)) < 2000


def test_encoder_loads_once_per_process(tiny_model):
    backends_module.clear_cache()
    first = Embedder(model=tiny_model).load_encoder()
    second = clone(Embedder(model=tiny_model, pooling="cls")).load_encoder()
    assert first is second
    assert len(backends_module._cache) == 1


def test_works_in_a_pipeline_and_grid_search_over_pooling_and_layers(tiny_model):
    texts = [f"{w} game team win play" for w in ("good", "great", "fast", "good", "great", "win")]
    texts += [f"{w} river bank flood water" for w in ("bad", "slow", "lost", "bad", "slow", "lost")]
    labels = ["sport"] * 6 + ["river"] * 6
    pipe = Pipeline([("embed", Embedder(model=tiny_model)), ("clf", LogisticRegression())])
    search = GridSearchCV(
        pipe,
        {"embed__pooling": ["mean", "max"], "embed__layers": ["-1", "-2..-1"]},
        cv=2,
    )
    search.fit(texts, labels)
    assert set(search.best_params_) == {"embed__pooling", "embed__layers"}
    assert len(search.cv_results_["params"]) == 4
    assert search.score(texts, labels) >= 0.5
    simple = make_pipeline(Embedder(model=tiny_model), LogisticRegression()).fit(texts, labels)
    assert set(simple.predict(["good team win"])) <= {"sport", "river"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(tiny_model):
    from bertclf.errors import BertclfError

    with pytest.raises(BertclfError, match="sees no CUDA GPU"):
        Embedder(model=tiny_model, device="cuda").transform(["hello"])


def test_sentence_pairs_as_tuples_frames_or_arrays(tiny_model):
    embedder = Embedder(model=tiny_model)
    pairs = [("the cat sat", "my dog was fast"), ("hello", "good game")]
    expected = embedder.transform(pairs)
    frame = pd.DataFrame({"question": [a for a, _ in pairs], "answer": [b for _, b in pairs]})
    np.testing.assert_allclose(embedder.transform(frame), expected, atol=1e-6)
    np.testing.assert_allclose(embedder.transform(np.array(pairs, dtype=object)), expected, atol=1e-6)
    assert not np.allclose(expected, embedder.transform([a for a, _ in pairs]), atol=1e-3)
    swapped = embedder.transform([(b, a) for a, b in pairs])  # segment ids make order matter
    assert not np.allclose(expected, swapped, atol=1e-3)
    with pytest.raises(InputError, match="1 of 2 sentence pairs have no second text"):
        embedder.transform([("a", "b"), ("c", None)])


def test_long_strategies_change_only_long_texts(tiny_model):
    long_text = " ".join(TEXTS * 6)  # well past 16 tokens
    texts = ["hello", long_text]
    base = Embedder(model=tiny_model, max_length=16, backend="onnx")
    with pytest.warns(BertclfWarning, match="1 of 2 texts were longer than 16 tokens and were cut"):
        cut = base.transform(texts)
    strategies = ({"long": "head-tail"}, {"long": "chunk", "stride": 5},
                  {"long": "chunk", "chunk_agg": "max"})
    for options in strategies:
        with pytest.warns(BertclfWarning, match="1 of 2 texts were longer"):
            other = Embedder(model=tiny_model, max_length=16, backend="onnx", **options).transform(texts)
        np.testing.assert_allclose(other[0], cut[0], atol=1e-6)
        assert not np.allclose(other[1], cut[1], atol=1e-3)


def test_chunk_mean_is_the_mean_of_its_windows(tiny_model):
    from bertclf.encode.sources import load_tokenizer, resolve

    tokenizer = load_tokenizer(resolve(tiny_model))
    words = [w for w in "the cat sat on mat and dog was fast slow bank river".split()
             if len(tokenizer.tokenize(w)) == 1]
    first, second = " ".join((words * 2)[:10]), " ".join((words[::-1] * 2)[:10])  # 10 tokens each
    plain = Embedder(model=tiny_model, max_length=12, normalize=False)
    windows = plain.transform([first, second])
    for agg, expected in (("mean", windows.mean(axis=0)), ("max", windows.max(axis=0))):
        chunked = Embedder(model=tiny_model, max_length=12, long="chunk", stride=10, chunk_agg=agg,
                           normalize=False)
        with pytest.warns(BertclfWarning, match="read in overlapping windows"):
            combined = chunked.transform([f"{first} {second}"])
        np.testing.assert_allclose(combined[0], expected, atol=1e-5)


def test_guide_needs_labels(tiny_model):
    with pytest.raises(SpecError, match="guide learns which sentences matter"):
        Embedder(model=tiny_model, long="guide").transform(["hello"])
