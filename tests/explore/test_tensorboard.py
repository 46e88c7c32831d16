"""Embedding Projector export: three files, one row per text, safe to rewrite, never clobbering."""

import json

import numpy as np
import pandas as pd
import pytest

from bertclf.errors import InputError
from bertclf.explore.tensorboard import write_projector
from tests.conftest import LABELS, TEXTS, assert_one_line_error


def test_files_line_up_and_texts_stay_on_one_row(tmp_path):
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    metadata = {"text": ["a\tb", "line\nbreak", None], "label": [1, 2, 3]}
    out = write_projector(tmp_path / "p", vectors, metadata)
    assert np.loadtxt(out / "vectors.tsv", delimiter="\t").tolist() == vectors.tolist()
    rows = (out / "metadata.tsv").read_text().splitlines()
    assert rows == ["text\tlabel", "a b\t1", "line break\t2", "\t3"]
    config = json.loads((out / "projector_config.json").read_text())
    assert config["embeddings"][0]["tensorShape"] == [3, 2]
    one = write_projector(tmp_path / "q", vectors, {"text": ["x", "y", "z"]})  # one column: no header
    assert (one / "metadata.tsv").read_text().splitlines() == ["x", "y", "z"]
    write_projector(out, vectors[:2], {"text": ["x", "y"]})  # an earlier export is replaced
    assert len((out / "vectors.tsv").read_text().splitlines()) == 2


def test_never_writes_over_a_folder_that_is_not_an_export(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="is not a projector export"):
        write_projector(tmp_path / "notes", np.zeros((1, 2)), {"text": ["a"]})
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_projector_command(run, tiny_model, write, tmp_path):
    path = write("texts.csv", pd.DataFrame({"text": TEXTS, "label": LABELS}).to_csv(index=False))
    out = tmp_path / "projector"
    result = run("projector", path, "--label-col", "label", "--clusters", "3", "--model", tiny_model,
                 "--out", out)
    assert result.exit_code == 0, result.output
    rows = (out / "metadata.tsv").read_text().splitlines()
    assert rows[0] == "text\tlabel\tcluster" and len(rows) == 25
    assert np.loadtxt(out / "vectors.tsv", delimiter="\t").shape == (24, 32)
    too_many = run("projector", path, "--clusters", "99", "--model", tiny_model, "--out", tmp_path / "x")
    assert_one_line_error(too_many, "k = 99 is more than the 24 texts")
