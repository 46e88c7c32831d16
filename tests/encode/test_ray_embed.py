"""`embed --engine ray` on a local 2-CPU Ray cluster: same vectors, same order, clear errors."""

from __future__ import annotations

import builtins

import numpy as np
import pandas as pd
import pytest

from bertclf import Embedder
from bertclf.errors import BertclfError
from tests.conftest import assert_one_line_error

TEXTS = [f"text {i} the cat sat on the mat" if i % 4 else f"hello {i} bank rate money loan water flood"
         for i in range(300)]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_embeds_a_file_in_input_order_like_a_local_run(ray_cluster, run, tiny_model, tmp_path):
    from bertclf.encode.ray_embed import embed_with_ray

    path = tmp_path / "in.csv"
    frame = pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS, "pair": ["good"] * len(TEXTS)})
    frame.to_csv(path, index=False)
    embedder = Embedder(model=tiny_model, backend="onnx", progress=False)
    rows, dim = embed_with_ray(embedder, str(path), str(tmp_path / "v.npy"), batch_rows=64)
    assert (rows, dim) == (len(TEXTS), 32)
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), embedder.transform(TEXTS), atol=1e-5)
    result = run("embed", path, "--model", tiny_model, "--backend", "onnx", "--engine", "ray", "--pair-col",
                 "pair", "--out", tmp_path / "p.parquet", "-q")
    assert result.exit_code == 0, result.output
    from bertclf.io.files import read_vectors

    np.testing.assert_allclose(read_vectors(tmp_path / "p.parquet"),
                               embedder.transform(list(zip(TEXTS, frame.pair, strict=True))), atol=1e-5)


def test_engine_flags_are_checked(run, tiny_model, write, tmp_path, monkeypatch):
    source = write("in.txt", "hello\n")
    assert_one_line_error(run("embed", source, "--model", tiny_model, "--actors", "2", "--out",
                              tmp_path / "v.npy"), "--address and --actors are for --engine ray")
    assert_one_line_error(run("embed", source, "--model", tiny_model, "--engine", "ray", "--encoding",
                              "latin-1", "--out", tmp_path / "v.npy"), "leave out --encoding and --sep")
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    assert_one_line_error(run("embed", source, "--model", tiny_model, "--engine", "ray", "--out",
                              tmp_path / "v.npy"), "pip install 'bertclf[ray]'")
    from bertclf.io.ray_data import import_ray

    with pytest.raises(BertclfError, match="Ray Data, which is not installed"):
        import_ray()


def test_ray_predicts_a_file_in_input_order_like_a_local_run(ray_cluster, run, tiny_model, tmp_path):
    from bertclf import TextClassifier

    labels = ["money" if i % 4 == 0 else "cat" for i in range(len(TEXTS))]
    # the default int8: a text's vector does not depend on its batch, so Ray's batches of 64 give
    # a local run's probabilities to the last digit
    model = TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False).fit(TEXTS[:60], labels[:60])
    model.save(tmp_path / "m")
    frame = pd.DataFrame({"id": [str(i) for i in range(len(TEXTS))], "text": TEXTS})
    frame.to_csv(tmp_path / "in.csv", index=False)
    local = run("predict", tmp_path / "m", tmp_path / "in.csv", "--top-k", "2", "--out", tmp_path / "l.csv",
                "-q")
    assert local.exit_code == 0, local.output
    from bertclf.runtime.ray_predict import predict_with_ray

    rows = predict_with_ray(str(tmp_path / "m"), str(tmp_path / "in.csv"), str(tmp_path / "r.csv"),
                            top_k=2, batch_rows=64, progress=False)
    assert rows == len(TEXTS)
    assert (tmp_path / "r.csv").read_text() == (tmp_path / "l.csv").read_text()
    assert (tmp_path / "r.csv").read_text().startswith("id,text,label,p_label,top_2,p_top_2\n0,")
    result = run("predict", tmp_path / "m", tmp_path / "in.csv", "--engine", "ray", "--out",
                 tmp_path / "r.parquet", "--json")
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(tmp_path / "r.parquet")["id"].tolist() == frame["id"].tolist()
    assert_one_line_error(run("predict", tmp_path / "m", tmp_path / "in.csv", "--engine", "ray"),
                          "give --out")
