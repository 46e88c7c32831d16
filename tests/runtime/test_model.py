"""The runtime: self-contained folders predict with numpy, ONNX Runtime and tokenizers alone, and
give what the full install gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bertclf import Embedder, TextClassifier, runtime
from bertclf.classify.features import hashed, murmurhash3_32
from bertclf.classify.tfidf import TfidfFeatures, _vectorizer
from bertclf.encode import sources
from bertclf.encode.onnx_export import ship
from bertclf.encode.shipped import ShippedEncoder
from bertclf.encode.tokenization import encode
from bertclf.errors import ModelLoadError
from tests.conftest import LABELS, TEXTS, assert_one_line_error

HELD_OUT = ["the team and the bank", "flood water in the game", "", "my loan rate " * 40, "Ünïcode straße 漢"]
# What a runtime install lacks; a blocked import fails as it would there.
BLOCKED = ("torch", "transformers", "sklearn", "scipy", "pandas", "pyarrow", "matplotlib", "huggingface_hub",
           "sentence_transformers", "onnx")
BLOCKER = f"""
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
sys.meta_path.insert(0, Blocker())
from bertclf.cli import main
main(sys.argv[1:])
"""


def run_runtime_only(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """The CLI in a fresh process where the training stack cannot be imported."""
    return subprocess.run([sys.executable, "-c", BLOCKER, *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=120)


def fitted(tiny_model: str, **options) -> TextClassifier:
    embedder = Embedder(model=tiny_model, **options.pop("embedder", {}))
    return TextClassifier(embedder, reuse_embeddings=False, **options).fit(TEXTS, LABELS)


@pytest.mark.parametrize("options", [
    {},
    {"features": "embedding", "head": "mlp"},
    {"features": "tfidf", "tfidf": "word+char"},
    {"head": "svm", "calibrate": "sigmoid", "embedder": {"long": "chunk", "max_length": 12}},
    {"embedder": {"long": "guide", "max_length": 12}},
    {"embedder": {"backend": "onnx", "layers": "-2..-1", "layer_agg": "concat", "pooling": "cls"}},
    {"head": "mlp", "head_params": {"hidden_layer_sizes": (8,), "max_iter": 50}},
    {"head": "xgboost", "head_params": {"n_estimators": 5}},
], ids=["hybrid", "mlp", "tfidf", "svm-chunk-calibrated", "guide", "fp32-concat-cls", "hybrid-mlp",
        "hybrid-xgboost"])
def test_the_runtime_predicts_what_the_full_install_predicts(tiny_model, tmp_path, options):
    model = fitted(tiny_model, **options)
    model.save(tmp_path / "m")
    loaded = runtime.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(HELD_OUT), model.predict_proba(HELD_OUT), atol=1e-9)
    assert list(loaded.predict(HELD_OUT)) == list(model.predict(HELD_OUT))
    assert (loaded.encoder is None) == (model.features == "tfidf")
    # Usage per text from the prediction's own tokenization (what a server reports), as
    # count_tokens finds it by tokenizing again; a guided text counts the sentences read.
    texts = [*HELD_OUT, "the team won the match. " * 200]  # over every budget
    proba, used = loaded.predict_proba_usage(texts)
    np.testing.assert_array_equal(proba, loaded.predict_proba(texts))
    tokens, over = loaded.count_tokens(texts)
    assert used.shape == (len(texts), 2) and used[:, 1].sum() == over
    assert used[-1, 1] == (loaded.encoder is not None)  # the long text
    if loaded.encoder is not None and "guide" in str(options):
        assert used[:, 0].max() <= loaded.encoder.settings().max_length and used[:, 0].sum() <= tokens
    else:
        assert used[:, 0].sum() == tokens
    if loaded.encoder is not None:  # the embedding path counts from its own tokenization the same way
        vectors, counted = loaded.vectors_usage(texts)
        np.testing.assert_array_equal(counted, used)
        np.testing.assert_array_equal(vectors, loaded.vectors(texts))
        assert loaded.embed(texts)[1] == used[:, 0].sum()


def test_multilabel_pairs_and_metadata_replay_in_the_runtime(tiny_model, tmp_path):
    table = pd.DataFrame({"text": TEXTS, "pair": TEXTS[::-1], "channel": ["web", "mail", "phone"] * 8,
                          "amount": [str(i) for i in range(24)], "user": [f"u{i}" for i in range(24)]})
    labels = [[label, "any"] if i % 3 else [label] for i, label in enumerate(LABELS)]
    model = TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False, pair_col="pair",
                           meta_cols=["channel", "amount"], random_state=0).fit(table, labels)
    model.meta_.max_categories = 2  # not refitted: the stored encodings stand
    model.save(tmp_path / "m")
    loaded = runtime.load(tmp_path / "m")
    assert loaded.task == "multi-label" and loaded.input_columns() == ["text", "pair", "channel", "amount"]
    np.testing.assert_allclose(loaded.predict_proba(table), model.predict_proba(table), atol=1e-9)
    np.testing.assert_array_equal(loaded.predict(table), model.predict(table))


def test_sparse_rows_multiply_as_their_dense_rows_do(monkeypatch):
    """The runtime's TF-IDF rows stay sparse: a product with them, empty rows and dense columns
    beside them included, is the dense product, in one pass over the nonzeros or in several."""
    from bertclf.classify import sparse
    from bertclf.classify.sparse import SparseRows

    rng = np.random.default_rng(0)
    rows = SparseRows(np.array([0, 2, 2, 5]), np.array([1, 4, 0, 2, 4]), rng.normal(size=5), width=6)
    beside = rows.beside(rng.normal(size=(3, 2))).beside(rng.normal(size=(3, 1)))
    weights = rng.normal(size=(9, 4))
    assert beside.shape == (3, 9) and beside.toarray()[1, :6].tolist() == [0.0] * 6
    np.testing.assert_allclose(beside @ weights, beside.toarray() @ weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rows @ weights[:6], rows.toarray() @ weights[:6], rtol=0, atol=1e-12)
    monkeypatch.setattr(sparse, "CELLS", 4)  # one nonzero a pass
    np.testing.assert_allclose(beside @ weights, beside.toarray() @ weights, rtol=0, atol=1e-12)


def test_tfidf_rows_are_scikit_learns_to_the_last_bit():
    texts = [*TEXTS, "", "a  b", "Straße STRASSE 漢字 emoji 🙂", "the-team, won! 12 34", "x" * 40]
    features = TfidfFeatures.fit("word+char", texts)
    expected = np.hstack([_vectorizer(p).fit(texts).transform(texts).toarray() for p in ("word", "char")])
    np.testing.assert_array_equal(features.transform(texts).toarray(), expected)
    np.testing.assert_array_equal(features.transform_rows(texts).toarray(), expected)
    back = TfidfFeatures.from_json(json.loads(json.dumps(features.to_json())))
    np.testing.assert_array_equal(back.transform_rows(texts[::-1]).toarray(), expected[::-1])


def test_metadata_hashing_is_scikit_learns_feature_hasher():
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.utils import murmurhash3_32 as reference

    for data in (b"", b"a", b"ab", b"abc", b"abcd", b"city=Z\xc3\xbcrich", bytes(range(200))):
        assert murmurhash3_32(data) == reference(data, seed=0)
    values = [f"v{i}" for i in range(300)]
    expected = FeatureHasher(32, input_type="string").transform([[f"city={v}"] for v in values]).toarray()
    np.testing.assert_array_equal(hashed("city", values, 32), expected)


def test_the_shipped_tokenizer_gives_the_ids_transformers_gives(tiny_model):
    embedder = Embedder(model=tiny_model, max_length=16)
    s = embedder.settings()
    shipped = ShippedEncoder.from_files(*ship(s, "onnx-int8").to_files())
    texts = [*TEXTS, "", "UNKNOWN wörds!!", "long " * 30]
    for pairs in (None, texts[::-1]):
        ours = encode(shipped.tokenizer, texts, 16, pairs=pairs)
        theirs = encode(sources.load_tokenizer(s.source), texts, 16, pairs=pairs)
        assert (ours.input_ids, ours.token_type_ids) == (theirs.input_ids, theirs.token_type_ids)
    assert shipped.settings() == s.__class__(**{**s.__dict__, "source": None})


def test_predict_runs_without_the_training_stack(tiny_model, tmp_path, run):
    fitted(tiny_model).save(tmp_path / "m")
    (tmp_path / "in.csv").write_text("id,text\n1,the team won\n2,\n3,water in the city\n", encoding="utf-8")
    full = run("predict", tmp_path / "m", tmp_path / "in.csv")
    lean = run_runtime_only("predict", tmp_path / "m", tmp_path / "in.csv")
    assert lean.returncode == 0, lean.stderr
    assert lean.stdout == full.stdout and lean.stdout.startswith("id,text,label,p_money")
    assert "line 3 of" in lean.stderr  # the empty text, named by its line
    one = run_runtime_only("predict", tmp_path / "m", "--json", stdin="the bank rate\n")
    assert json.loads(one.stdout)["predictions"][0]["label"] in {"sport", "money", "water"}
    out = tmp_path / "p.jsonl"
    written = run_runtime_only("predict", tmp_path / "m", tmp_path / "in.csv", "--out", out, "-q")
    assert written.returncode == 0, written.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["1", "2", "3"]


def test_a_runtime_install_says_what_it_lacks_in_one_line(tiny_model, tmp_path, run):
    fitted(tiny_model).save(tmp_path / "slim", self_contained=False)
    slim = run_runtime_only("predict", tmp_path / "slim", stdin="the team\n")
    assert slim.returncode == 2 and "bertclf export" in slim.stderr and "Traceback" not in slim.stderr
    assert len(slim.stderr.strip().splitlines()) == 1
    (tmp_path / "x.csv").write_text("text,label\nhi,a\n")
    train = run_runtime_only("train", tmp_path / "x.csv", "--out", tmp_path / "x")
    assert train.returncode == 2 and "pip install 'bertclf[train]'" in train.stderr
    assert "Traceback" not in train.stderr
    # the full install still predicts with a slim folder, through the training stack
    assert run("predict", tmp_path / "slim", "-q", stdin="the team\n").exit_code == 0


def test_a_damaged_graph_fails_its_checksum(tiny_model, tmp_path, run):
    fitted(tiny_model).save(tmp_path / "m")
    graph = tmp_path / "m" / "encoder.onnx"
    graph.write_bytes(graph.read_bytes()[:-10] + b"0123456789")
    damaged = run("predict", tmp_path / "m", stdin="the team\n")
    assert_one_line_error(damaged, "encoder.onnx fails its checksum")
    with pytest.raises(ModelLoadError, match="checksum"):
        runtime.load(tmp_path / "m")


def test_export_makes_a_slim_folder_self_contained(tiny_model, tmp_path, run):
    model = fitted(tiny_model)
    model.save(tmp_path / "slim", self_contained=False)
    assert not runtime.is_self_contained(tmp_path / "slim")
    with pytest.raises(ModelLoadError, match="bertclf export"):
        runtime.load(tmp_path / "slim")
    result = run("export", tmp_path / "slim", "--out", tmp_path / "full", "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["encoder"] == "int8" and written["encoder_bytes"] > 0
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == sorted(
        [*(p.name for p in (tmp_path / "slim").iterdir()), "encoder.onnx", "tokenizer.json"])
    np.testing.assert_allclose(runtime.load(tmp_path / "full").predict_proba(HELD_OUT),
                               model.predict_proba(HELD_OUT), atol=1e-9)
    fp32 = run("export", tmp_path / "full", "--out", tmp_path / "full", "--backend", "onnx")  # in place
    assert fp32.exit_code == 0, fp32.output
    assert runtime.load(tmp_path / "full").encoder.name == "onnx"
    assert "wrote" in run("export", tmp_path / "full", "--out", tmp_path / "again").stderr


def test_a_fine_tuned_folder_ships_its_encoder(tiny_model, tmp_path):
    from bertclf.finetune.finetuner import FineTuner

    tuner = FineTuner(model=tiny_model, epochs=1, batch_size=8, max_length=16, seed=0).fit(TEXTS, LABELS)
    tuner.save(tmp_path / "ft")
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert "encoder" in config["parts"] and "encoder/model.safetensors" in config["files"]
    loaded = runtime.load(tmp_path / "ft")
    expected = TextClassifier.load(tmp_path / "ft").set_params(reuse_embeddings=False).predict_proba(HELD_OUT)
    np.testing.assert_allclose(loaded.predict_proba(HELD_OUT), expected, atol=1e-9)


def test_the_runtime_imports_none_of_the_training_stack(tiny_model, tmp_path):
    fitted(tiny_model).save(tmp_path / "m")
    code = ("import sys, bertclf.runtime as r; m = r.load(sys.argv[1]); m.predict_proba(['the team']); "
            f"print([n for n in {BLOCKED!r} if n in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_table_reading_and_writing_without_pandas(tmp_path):
    from bertclf.io.files import read_table, write_table

    source = tmp_path / "in.csv"
    source.write_text('text,n,text\n"a, b",1,x\n\n"line\nbreak",,y\n', encoding="utf-8")
    lean, full = read_table(str(source), lean=True), read_table(str(source))
    assert lean.columns == list(full.columns) == ["text", "n", "text.1"]
    assert lean["text"].tolist() == full["text"].tolist() and lean["n"].tolist() == ["1", None]
    lean["p"] = np.array([0.123456789, 1e-9])
    full["p"] = [0.123456789, 1e-9]
    write_table(tmp_path / "lean.csv", lean)
    write_table(tmp_path / "full.csv", full)
    assert (tmp_path / "lean.csv").read_text() == (tmp_path / "full.csv").read_text()
    (tmp_path / "in.jsonl").write_text('{"text": "a", "k": 1}\n\n{"text": "b", "extra": true}\n')
    rows = read_table(str(tmp_path / "in.jsonl"), lean=True)
    assert rows.columns == ["text", "k", "extra"] and rows["k"].tolist() == [1, None] and len(rows) == 2


def test_a_runtime_model_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model folder"):
        runtime.load(tmp_path / "missing")
    assert not runtime.is_self_contained(Path(tmp_path))


def test_train_writes_a_self_contained_folder_unless_slim(tiny_model, tmp_path, run):
    rows = "\n".join(f"{t},{label}" for t, label in zip(TEXTS, LABELS, strict=True))
    (tmp_path / "t.csv").write_text("text,label\n" + rows + "\n", encoding="utf-8")
    for flags, shipped in (([], True), (["--slim"], False)):
        out = tmp_path / ("slim" if flags else "full")
        trained = run("train", tmp_path / "t.csv", "--model", tiny_model, "--out", out, "--holdout", "0",
                      "-q", *flags)
        assert trained.exit_code == 0, trained.output
        assert (out / "encoder.onnx").exists() == shipped and runtime.is_self_contained(out) == shipped


def test_export_moved_to_the_training_side_and_the_old_name_still_works():
    import bertclf.runtime
    from bertclf.classify import export

    with pytest.warns(DeprecationWarning, match="import export from bertclf.classify"):
        assert bertclf.runtime.export is export
    assert "export" not in bertclf.runtime.__all__


def test_the_runtime_finds_the_training_stacks_loader_by_entry_point():
    from bertclf.classify.classifier import TextClassifier
    from bertclf.runtime.model import full_stack_loader

    assert full_stack_loader() == TextClassifier.load
