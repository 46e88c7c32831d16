"""Streaming `embed`: chunked reading and writing, same vectors, reports added up over chunks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bertclf import Embedder
from bertclf.encode.streaming import embed_file, scan
from bertclf.errors import BertclfWarning, InputError
from bertclf.io.files import read_vectors

TEXTS = [f"text {i} the cat sat on the mat" if i % 3 else f"hello {i} bank rate money loan water flood city"
         for i in range(10)]


@pytest.fixture
def embedder(tiny_model):
    return Embedder(model=tiny_model, backend="onnx", max_length=10, progress=False)


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".csv"])
@pytest.mark.parametrize("source", ["csv", "jsonl", "parquet", "txt"])
def test_chunks_give_the_vectors_of_one_pass_in_input_order(embedder, tmp_path, suffix, source, monkeypatch):
    path = tmp_path / f"in.{source}"
    frame = pd.DataFrame({"id": range(10), "text": TEXTS})
    {"csv": lambda: frame.to_csv(path, index=False), "parquet": lambda: frame.to_parquet(path),
     "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     "txt": lambda: path.write_text("\n".join(TEXTS) + "\n")}[source]()
    sizes = []
    original = Embedder.encode_texts
    monkeypatch.setattr(Embedder, "encode_texts",
                        lambda self, texts, *a: sizes.append(len(texts)) or original(self, texts, *a))
    with pytest.warns(BertclfWarning) as caught:
        rows, dim = embed_file(embedder, str(path), str(tmp_path / f"v{suffix}"), chunk_rows=3)
    assert (rows, dim) == (10, 32) and sizes == [3, 3, 3, 1]
    cut = [str(w.message) for w in caught if "longer than" in str(w.message)]
    assert cut == ["4 of 10 texts were longer than 10 tokens and were cut"]  # one report, added up
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = embedder.transform(TEXTS)
    np.testing.assert_allclose(read_vectors(tmp_path / f"v{suffix}"), whole, atol=1e-5)


def test_problems_are_found_before_any_work_with_file_row_numbers(embedder, tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS[:7] + [""] + TEXTS[8:], "pair": ["x"] * 9 + [None]}).to_csv(path, index=False)
    assert scan(str(path), "text", "pair")[:3] == (10, [7], [9])
    with pytest.raises(InputError, match=r"1 of 10 texts are empty or missing \(line 9 of .*in\.csv\)"):
        embed_file(embedder, str(path), str(tmp_path / "v.npy"), chunk_rows=3, strict=True)
    with pytest.raises(InputError, match=r"1 of 10 sentence pairs have no second text \(line 11 of "):
        embed_file(embedder, str(path), str(tmp_path / "v.npy"), pair_col="pair", chunk_rows=3)
    with pytest.raises(InputError, match="no column 'body'; its columns are: text, pair"):
        embed_file(embedder, str(path), str(tmp_path / "v.npy"), text_col="body")
    assert not list(tmp_path.glob("v*")) and not list(tmp_path.glob(".v*"))  # nothing half-written


def test_undecodable_bytes_are_counted_across_chunks_or_refused_when_strict(embedder, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"caf\xe9\nfine\nna\xefve \xff\n")
    with pytest.warns(BertclfWarning, match="3 undecodable byte sequence"):
        embed_file(embedder, str(path), str(tmp_path / "v.npy"), chunk_rows=1)
    with pytest.raises(InputError, match="undecodable bytes at offset 3"):
        embed_file(embedder, str(path), str(tmp_path / "w.npy"), strict=True)


def test_a_malformed_table_is_one_clear_error(embedder, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('text,label\n"an unclosed quote,a\nfine,b\n')
    with pytest.raises(InputError, match="in.csv: cannot parse as csv"):
        embed_file(embedder, str(path), str(tmp_path / "v.npy"))
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(InputError, match="in.jsonl: cannot parse as jsonl"):
        embed_file(embedder, str(jsonl), str(tmp_path / "v.npy"))
