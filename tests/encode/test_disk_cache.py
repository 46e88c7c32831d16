"""The persistent embedding cache: reuse, keys, corruption, concurrency and its CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import warnings

import numpy as np
import pytest

from bertclf import Embedder
from bertclf.encode import disk_cache
from bertclf.errors import BertclfWarning

TEXTS = ["hello world", "the cat sat on the mat", "good", "bank rate money", "hello world"]


@pytest.fixture
def folder(tmp_path):
    yield tmp_path / "cache"
    disk_cache.forget_open_caches()


def vectors_in(folder) -> int:
    with sqlite3.connect(folder / disk_cache.FILENAME) as conn:
        return conn.execute("SELECT count(*) FROM vectors").fetchone()[0]


def test_a_second_pass_reads_the_cache_and_never_runs_the_encoder(tiny_model, folder, monkeypatch):
    first = Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS)
    assert vectors_in(folder) == 4  # the repeated text is stored once
    monkeypatch.setattr(Embedder, "_embed", lambda *a: pytest.fail("the encoder ran"))
    again = Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS[::-1])
    np.testing.assert_array_equal(again, first[::-1])


def test_only_missing_texts_are_embedded_and_settings_never_share_vectors(tiny_model, folder):
    Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS[:2])
    more = Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS)
    np.testing.assert_allclose(more, Embedder(model=tiny_model, backend="onnx-int8").transform(TEXTS),
                               atol=0.05)
    assert vectors_in(folder) == 4
    cls = Embedder(model=tiny_model, cache=str(folder), pooling="cls").transform(TEXTS)
    pairs = Embedder(model=tiny_model, cache=str(folder)).transform([("hello world", "good")])
    assert vectors_in(folder) == 9 and not np.allclose(cls, more, atol=1e-3)
    assert not np.allclose(pairs[0], more[0], atol=1e-3)
    info = disk_cache.open_cache(folder).info()
    assert sorted(s["pooling"] for s in info["settings"]) == ["cls", "mean"]
    assert {s["vectors"] for s in info["settings"]} == {4, 5}


def test_a_corrupted_database_is_set_aside_and_rebuilt(tiny_model, folder):
    reference = Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS)
    disk_cache.forget_open_caches()
    path = folder / disk_cache.FILENAME
    for extra in ("-wal", "-shm"):
        (folder / f"{disk_cache.FILENAME}{extra}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 200)
    with pytest.warns(BertclfWarning, match="could not be read.*a new one started"):
        vectors = Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS)
    np.testing.assert_array_equal(vectors, reference)
    assert vectors_in(folder) == 4
    assert list(folder.glob(f"{disk_cache.FILENAME}.corrupt-*"))


def test_a_damaged_row_is_dropped_and_recomputed_never_served(tiny_model, folder):
    reference = Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS)
    with sqlite3.connect(folder / disk_cache.FILENAME) as conn:  # flip bytes in every stored vector
        conn.execute("UPDATE vectors SET vec = zeroblob(length(vec))")
    vectors = Embedder(model=tiny_model, cache=str(folder)).transform(TEXTS)
    np.testing.assert_array_equal(vectors, reference)


def test_an_unwritable_cache_folder_runs_without_the_cache_warned_once(tiny_model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.warns(BertclfWarning, match="cannot be written.*running without the cache"):
        first = Embedder(model=tiny_model, cache=str(blocker / "cache")).transform(TEXTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = Embedder(model=tiny_model, cache=str(blocker / "cache")).transform(TEXTS)
    np.testing.assert_array_equal(first, again)


WORKER = """
import sys
from bertclf import Embedder
texts = [f"hello world {i} the cat sat" for i in range(int(sys.argv[3]), int(sys.argv[3]) + 400)]
for _ in range(3):
    Embedder(model=sys.argv[1], cache=sys.argv[2], batch_size=64).transform(texts)
"""


def test_several_processes_can_fill_one_cache_at_once(tiny_model, folder):
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, tiny_model, str(folder), str(start)],
                                stderr=subprocess.PIPE, text=True) for start in (0, 200, 100)]
    for worker in workers:
        assert worker.wait(timeout=300) == 0, worker.stderr.read()
    assert vectors_in(folder) == 600
    expected = Embedder(model=tiny_model).transform([f"hello world {i} the cat sat" for i in (0, 599)])
    cached = Embedder(model=tiny_model, cache=str(folder)).transform(
        [f"hello world {i} the cat sat" for i in (0, 599)])
    cosine = np.sum(expected * cached, axis=1) / np.linalg.norm(expected, axis=1) / np.linalg.norm(
        cached, axis=1)
    assert cosine.min() > 0.99


def test_the_cli_caches_by_default_and_reports_and_clears(run, tiny_model, write, tmp_path, folder):
    source = write("in.txt", "hello world\nthe cat sat on the mat\ngood\n")
    result = run("embed", source, "--model", tiny_model, "--cache", folder, "--out", tmp_path / "a.npy")
    assert result.exit_code == 0, result.output
    skipped = run("embed", source, "--model", tiny_model, "--no-cache", "--cache", tmp_path / "other",
                  "--out", tmp_path / "b.npy")
    assert skipped.exit_code == 0 and not (tmp_path / "other").exists()
    info = run("cache", "info", "--cache", folder, "--json")
    figures = json.loads(info.stdout)
    assert figures["vectors"] == 3 and figures["settings"][0]["backend"] == "onnx-int8"
    assert "int8" in {e["quantization"] for e in figures["onnx_exports"]}  # where they live, not --cache
    readable = run("cache", "info", "--cache", folder)
    assert "3 vectors" in readable.stdout and "onnx-int8/fp32" in readable.stdout
    cleared = run("cache", "clear", "--cache", folder)
    assert cleared.exit_code == 0 and "removed 3 cached vectors" in cleared.stderr
    assert json.loads(run("cache", "info", "--cache", folder, "--json").stdout)["vectors"] == 0


def test_train_caches_by_default_and_no_cache_leaves_no_trace(run, tiny_model, write, tmp_path, folder):
    rows = "\n".join(f"{t} {i},{label}" for i in range(6)
                     for t, label in (("the bank rate money", "money"), ("the river flood water", "water")))
    source = write("train.csv", "text,label\n" + rows + "\n")
    trained = run("train", source, "--model", tiny_model, "--cache", folder, "--holdout", "0",
                  "--out", tmp_path / "m", "-q")
    assert trained.exit_code == 0, trained.output
    assert vectors_in(folder) == 12
    other = tmp_path / "other"
    plain = run("train", source, "--model", tiny_model, "--no-cache", "--cache", other, "--holdout", "0",
                "--out", tmp_path / "m2", "-q")
    assert plain.exit_code == 0, plain.output
    assert not (other / disk_cache.FILENAME).exists()
