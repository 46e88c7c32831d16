"""Every command reads a file the same way (one parser, whole or a chunk at a time, no cap on a
cell), and refuses one that is not text with one line (issue 38)."""

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import LABELS, TEXTS, assert_one_line_error, every_command

RUNTIME = os.environ.get("BERTCLF_RUNTIME")
BIG = 300_000  # characters in one cell: over the csv module's default cap of 131,072 a field


def test_one_huge_cell_is_read_the_same_by_train_evaluate_and_predict(run, tiny_model, write, tmp_path):
    rows = [(t, label) for t, label in zip(TEXTS * 2, LABELS * 2, strict=True)]
    rows[0] = ("flood " * (BIG // 6), rows[0][1])
    path = write("big.csv", pd.DataFrame(rows, columns=["text", "label"]).to_csv(index=False))
    trained = run("train", path, "--model", tiny_model, "--out", tmp_path / "m", "-q")
    assert trained.exit_code == 0, trained.output
    evaluated = run("evaluate", tmp_path / "m", path, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["n"] == len(rows)
    predicted = run("predict", tmp_path / "m", path)
    assert predicted.exit_code == 0, predicted.output
    assert len(pd.read_csv(io.StringIO(predicted.stdout))) == len(rows)
    if RUNTIME:
        lean = subprocess.run([RUNTIME, "predict", tmp_path / "m", path], capture_output=True, text=True,
                              timeout=120)
        assert lean.returncode == 0, lean.stderr
        assert lean.stdout == predicted.stdout


def test_the_whole_file_and_the_chunked_readers_agree(write):
    """`embed` streams a file a chunk at a time; the rest read it whole: the same rows either way."""
    from bertclf.encode.streaming import iter_chunks
    from bertclf.io.files import read_table

    text = 'text,label\n"a, quoted\nline",x\n\nplain,y\n,z\n"' + "w" * BIG + '",x\n'
    for name, body in (("t.csv", text), ("t.jsonl", '{"text": "a"}\n\n{"label": 1}\n{"text": "c"}\n')):
        path = write(name, body)
        whole = read_table(str(path))["text"].tolist()
        chunked = [v for texts, _ in iter_chunks(str(path), chunk_rows=2) for v in texts]
        assert [None if pd.isna(v) else v for v in whole] == chunked
        assert len(chunked) == (4 if name == "t.csv" else 3)


NOT_TEXT = {
    "an executable": Path(sys.executable).read_bytes()[:20_000],
    "gzip": gzip.compress(b"text,label\n" + b"hello,a\n" * 500),
    "random bytes": np.random.default_rng(0).integers(1, 256, 20_000, dtype=np.uint8).tobytes(),
}


@pytest.mark.parametrize("content", list(NOT_TEXT.values()), ids=list(NOT_TEXT))
@pytest.mark.parametrize("command", list(every_command("", "", "", "", Path())))
def test_every_command_refuses_a_file_that_is_not_text(run, write, model_dir, categories,
                                                       tiny_model, tmp_path, command, content):
    path = write("in.csv", content)
    argv, _ = every_command(path, model_dir, categories, tiny_model, tmp_path)[command]
    result = run(*argv)
    assert_one_line_error(result, "in.csv")
    assert "not a text file" in result.stderr or "do not decode" in result.stderr


def test_predict_refuses_binary_text_input_in_both_installs(run, model_dir, tmp_path):
    result = run("predict", model_dir, sys.executable)
    assert_one_line_error(result, "not a text file")
    if RUNTIME:
        lean = subprocess.run([RUNTIME, "predict", model_dir, sys.executable], capture_output=True, text=True,
                              timeout=120)
        assert lean.returncode == 2 and lean.stdout == "" and "not a text file" in lean.stderr


def test_a_utf16_file_is_named_as_such_not_as_binary(run, model_dir, write):
    path = write("u16.csv", "text\nthe team won\n".encode("utf-16"))
    assert_one_line_error(run("predict", model_dir, path), "--encoding utf-16")
    result = run("predict", model_dir, path, "--encoding", "utf-16")
    assert result.exit_code == 0, result.output


def test_real_text_in_another_encoding_still_reads_with_a_warning(run, model_dir, write):
    path = write("latin.csv", "text\ncafé crème\nthe team won\n".encode("latin-1"))
    result = run("predict", model_dir, path)
    assert result.exit_code == 0, result.output
    assert "2 undecodable byte" in result.stderr
