import json

import numpy as np
import pytest

from bertclf.io.files import read_vectors
from tests.conftest import TINY_HIDDEN, assert_one_line_error


@pytest.mark.parametrize("command", [[], ["tokens"], ["embed"], ["train"], ["predict"], ["evaluate"]])
def test_every_help_shows_examples(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and "bertclf " in result.output


def test_unknown_option_is_a_usage_error(run):
    assert run("embed", "x.csv", "--out", "v.npy", "--bogus").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_tokens_table_shows_pieces_specials_segments(run, tiny_model):
    result = run("tokens", "The bank raised rates.", "The river flooded.", "--model", tiny_model)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for piece in ("[CLS]", "[SEP]", "##ed", "rais", "segment"):
        assert piece in out


def test_tokens_json_reports_what_max_length_cut(run, tiny_model):
    result = run("tokens", "the bank raised rates", "--model", tiny_model, "--max-length", "5",
                 "--pad-to", "7", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tokens"] == ["[CLS]", "the", "bank", "rais", "[SEP]", "[PAD]", "[PAD]"]
    assert data["attention_mask"] == [1, 1, 1, 1, 1, 0, 0]
    assert data["cut"] == [["##ed", "rate", "##s"]]
    assert data["segment_ids"] == [0] * 7 and data["positions"] == list(range(7))


def test_embed_runtime_options_are_wired_through(run, tiny_model, write, tmp_path):
    source = write("in.txt", "hello world\nthe cat sat on the mat and the dog sat\ngood\n")
    default = run("embed", source, "--model", tiny_model, "--backend", "onnx", "--out", tmp_path / "a.npy",
                  "-q")
    tuned = run("embed", source, "--model", tiny_model, "--out", tmp_path / "b.npy", "--device", "cpu",
                "--threads", "1", "--batch-size", "2", "--max-length", "6", "--backend", "torch")
    assert default.exit_code == 0 and tuned.exit_code == 0, tuned.output
    assert "max 6 tokens" in tuned.stderr and "1 of 3 texts were longer than 6 tokens" in tuned.stderr
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    np.testing.assert_allclose(a[[0, 2]], b[[0, 2]], atol=1e-5)  # short texts: same vectors
    assert not np.allclose(a[1], b[1], atol=1e-3)  # the cut text changed


def test_tokens_max_length_beyond_the_model_limit(run, tiny_model):
    assert_one_line_error(run("tokens", "hi", "--model", tiny_model, "--max-length", "999"),
                           "2..64")


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".csv"])
def test_embed_writes_vectors_in_input_order(run, tiny_model, write, tmp_path, suffix):
    source = write("in.csv", "id,text\n1,hello world\n2,the cat sat on the mat\n3,good\n")
    out = tmp_path / f"v{suffix}"
    result = run("embed", source, "--model", tiny_model, "--backend", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote 3 x 32 vectors" in result.stderr
    vectors = read_vectors(out)
    assert vectors.shape == (3, TINY_HIDDEN)
    # row 2 is the longest text, sorted first internally; order must be the file's
    single = run("embed", write("one.txt", "the cat sat on the mat\n"), "--model", tiny_model,
                 "--backend", "onnx", "--out", tmp_path / "one.npy", "-q")
    assert single.exit_code == 0 and single.stderr == ""
    np.testing.assert_allclose(vectors[1], np.load(tmp_path / "one.npy")[0], atol=1e-5)


def test_embed_reads_stdin_and_concats_layers(run, tiny_model, tmp_path):
    out = tmp_path / "v.npy"
    result = run("embed", "-", "--model", tiny_model, "--out", out, "--layers", "-2..-1",
                 "--layer-agg", "concat", "--pooling", "cls", "--normalize", stdin="a\nb\nc\n")
    assert result.exit_code == 0, result.output
    vectors = np.load(out)
    assert vectors.shape == (3, 2 * TINY_HIDDEN)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embed_warns_about_empty_texts_once_and_strict_refuses(run, tiny_model, write, tmp_path):
    source = write("gaps.csv", "text\nhello\n\n\"\"\nworld\n")
    result = run("embed", source, "--model", tiny_model, "--out", tmp_path / "v.npy")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning: 1 of 3 texts are empty") == 1
    strict = run("embed", source, "--model", tiny_model, "--out", tmp_path / "s.npy", "--strict")
    assert_one_line_error(strict, "empty or missing")
    assert not (tmp_path / "s.npy").exists()


def test_embed_cuts_a_five_megabyte_line_and_says_so(run, tiny_model, write, tmp_path):
    source = write("big.txt", "short text\n" + "the cat sat " * 450_000 + "\n")
    result = run("embed", source, "--model", tiny_model, "--out", tmp_path / "v.npy")
    assert result.exit_code == 0, result.output
    assert "1 of 2 texts were longer than 64 tokens" in result.stderr
    assert np.load(tmp_path / "v.npy").shape == (2, TINY_HIDDEN)


def test_embed_reports_replaced_bytes(run, tiny_model, write, tmp_path):
    source = write("latin1.txt", "caf\xe9\n".encode("latin-1"))
    result = run("embed", source, "--model", tiny_model, "--out", tmp_path / "v.npy")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "1 undecodable byte" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["{missing}"], ["no such file"]),
        (["{csv}", "--text-col", "body"], ["no column 'body'", "text, label"]),
        (["{csv}", "--pooling", "avg"], ["cls, mean, max"]),
        (["{csv}", "--layers", "last"], ["-4..-1", "all"]),
        (["{csv}", "--layers", "7"], ["out of range", "3 layers"]),
        (["{csv}", "--layer-agg", "sum"], ["mean, concat"]),
        (["{csv}", "--model", "{folder}"], ["no config.json"]),
        (["{csv}", "--out", "{folder}/v.xyz"], ["unknown output format"]),
        (["{csv}", "--out", "{folder}/nowhere/v.npy"], ["does not exist"]),
        (["{csv}", "--out", "{folder}/dir.npy"], ["cannot write"]),
        (["{csv}", "--max-length", "0"], ["takes 2..64 tokens"]),
        (["{csv}", "--threads", "-2"], ["threads must be a positive integer"]),
    ],
)
def test_embed_bad_input_is_one_line_and_exit_2(run, tiny_model, write, tmp_path, args, fragments):
    csv = write("in.csv", "text,label\nhello,a\n")
    (tmp_path / "dir.npy").mkdir()  # a folder where the output file should go
    values = {"missing": tmp_path / "nope.csv", "csv": csv, "folder": tmp_path}
    args = [a.format(**values) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "v.npy")]
    if "--model" not in args:
        args += ["--model", tiny_model]
    assert_one_line_error(run("embed", *args), *fragments)


def test_failed_run_leaves_an_existing_output_untouched(run, tiny_model, write, tmp_path):
    out = tmp_path / "v.npy"
    np.save(out, np.arange(3))
    result = run("embed", write("in.csv", "text\nhi\n"), "--model", tiny_model, "--out", out,
                 "--layers", "9")
    assert result.exit_code == 2
    np.testing.assert_array_equal(np.load(out), np.arange(3))
