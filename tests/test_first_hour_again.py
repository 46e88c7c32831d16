"""The first hour, second pass (issue 38): one reader for every command, input that is not text
refused, a busy port, options that do not apply, cheap checks first, each warning once, and
messages that say what is wrong."""

import gzip
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import assert_one_line_error
from tests.test_classifier import LABELS, TEXTS
from tests.test_cli_classify import model_dir, train_csv  # noqa: F401 - fixtures
from tests.test_first_hour import _commands, categories  # noqa: F401 - fixture

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
@pytest.mark.parametrize("command", list(_commands("", "", "", "", Path())))
def test_every_command_refuses_a_file_that_is_not_text(run, write, model_dir, categories,  # noqa: F811
                                                       tiny_model, tmp_path, command, content):
    path = write("in.csv", content)
    argv, _ = _commands(path, model_dir, categories, tiny_model, tmp_path)[command]
    result = run(*argv)
    assert_one_line_error(result, "in.csv")
    assert "not a text file" in result.stderr or "do not decode" in result.stderr


def test_predict_refuses_binary_text_input_in_both_installs(run, model_dir, tmp_path):  # noqa: F811
    result = run("predict", model_dir, sys.executable)
    assert_one_line_error(result, "not a text file")
    if RUNTIME:
        lean = subprocess.run([RUNTIME, "predict", model_dir, sys.executable], capture_output=True, text=True,
                              timeout=120)
        assert lean.returncode == 2 and lean.stdout == "" and "not a text file" in lean.stderr


def test_a_utf16_file_is_named_as_such_not_as_binary(run, model_dir, write):  # noqa: F811
    path = write("u16.csv", "text\nthe team won\n".encode("utf-16"))
    assert_one_line_error(run("predict", model_dir, path), "--encoding utf-16")
    result = run("predict", model_dir, path, "--encoding", "utf-16")
    assert result.exit_code == 0, result.output


def test_real_text_in_another_encoding_still_reads_with_a_warning(run, model_dir, write):  # noqa: F811
    path = write("latin.csv", "text\ncafé crème\nthe team won\n".encode("latin-1"))
    result = run("predict", model_dir, path)
    assert result.exit_code == 0, result.output
    assert "2 undecodable byte" in result.stderr


def test_serve_on_a_busy_port_is_one_error_before_anything_is_announced(run, model_dir):  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", model_dir, "--port", port)
    assert_one_line_error(result, f"127.0.0.1:{port}", "address already in use", "--port")
    assert "serving" not in result.output


@pytest.mark.parametrize(("args", "fragments"), [
    (["--budget", "3m"], ["--budget applies only with --auto"]),
    (["--folds", "3", "--no-finetune"], ["--folds, --finetune/--no-finetune apply only with --auto"]),
    (["--features", "embedding", "--tfidf", "word+char"], ["--tfidf applies only with --features tfidf"]),
    (["--features", "tfidf", "--scaling", "l2"], ["--scaling applies only with --features embedding"]),
    (["--few-shot", "--class-weight", "balanced"], ["--class-weight", "--few-shot"]),
    (["--auto", "--budget", "soon"], ["--budget must be a duration"]),
    (["--test", "{missing}"], ["no such file", "nope.csv"]),
])
def test_train_refuses_options_that_would_be_ignored(run, tiny_model, train_csv, tmp_path, args,  # noqa: F811
                                                     fragments):
    args = [a.format(missing=tmp_path / "nope.csv") for a in args]
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", *args)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "m").exists()


def test_threshold_on_a_single_label_file_is_warned_about_once(run, tiny_model, train_csv, tmp_path):  # noqa: F811
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", "--threshold", "0.3")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("--threshold applies to several labels") == 1


@pytest.mark.parametrize("argv", [["train", "nosuchfile.csv", "--out", "m"],
                                  ["train", "{csv}", "--out", "m", "--budget", "3m"],
                                  ["evaluate", "m", "nosuchfile.csv"],
                                  ["embed", "nosuchfile.csv", "--out", "v.npy"]])
def test_cheap_checks_fail_before_the_training_stack_is_imported(argv, write, tmp_path):
    argv = [a.format(csv=write("t.csv", "text,label\na,b\n")) for a in argv]
    code = ("import sys; from click.testing import CliRunner; from bertclf.cli import main; "
            f"r = CliRunner().invoke(main, {argv!r}); "
            "heavy = ('torch', 'transformers', 'sklearn', 'pandas'); "
            "print(r.exit_code, sorted(m for m in heavy if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.stdout.split(maxsplit=1) == ["2", "[]\n"], done.stdout + done.stderr


def test_each_warning_once_and_the_cut_texts_counted_over_every_step(run, tiny_model, write, tmp_path):
    # distinct texts, new to this process (the embedder reads a repeated or memoised text once);
    # every third over the tiny model's 64 tokens
    rows = [(f"once {i} {t} " * (30 if i % 3 == 0 else 1), label)
            for i, (t, label) in enumerate(zip(TEXTS * 2, LABELS * 2, strict=True))]
    path = write("long.csv", pd.DataFrame(rows, columns=["text", "label"]).to_csv(index=False))
    result = run("train", path, "--model", tiny_model, "--out", tmp_path / "m", "--no-cache")
    assert result.exit_code == 0, result.output
    cut = [line for line in result.stderr.splitlines() if "longer than" in line]
    long = sum(1 for t, _ in rows if len(t.split()) > 64)
    assert long > 3
    assert cut == [f"warning: {long} of {len(rows)} texts were longer than 64 tokens and were cut"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(set(warnings))


def test_a_budget_too_small_prints_no_empty_leaderboard(run, tiny_model, train_csv, tmp_path):  # noqa: F811
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", "--auto",
                 "--budget", "1s")
    assert result.exit_code == 0, result.output
    assert "┏" not in result.stderr.split("hold-out")[0]  # no table before the report's
    assert result.stderr.count("too small for even one candidate") == 1
    assert "scored none of its" in result.stderr and "of a 1 s budget" not in result.stderr


def test_the_leaderboard_note_is_true_to_the_folds_that_ran():
    from bertclf.render.console import _screening_note

    def row(name, folds):
        return {"candidate": name, "cv_score": 0.9, "features": "embedding", "folds": folds}

    baselines = ("base A", "base B")
    one_fold = _screening_note([row("base A", 1), row("base B", 1), row("x", 1)], 5, 4, baselines)
    assert "Every candidate was scored on the first of 5 folds alone" in one_fold
    assert "every fold" not in one_fold.replace("first of 5 folds", "")
    screened = _screening_note([row("base A", 5), row("base B", 5), row("x", 1)], 5, 4, baselines)
    assert "scored on every fold" in screened
    assert _screening_note([row("base A", 5), row("x", 5)], 5, 4, baselines) is None


def test_tokens_reads_a_model_folder_through_its_encoder(run, model_dir):  # noqa: F811
    result = run("tokens", "the river flooded", "--model", model_dir, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tokens"][0] == "[CLS]"


def test_embed_with_a_model_folder_as_encoder_names_what_it_is(run, model_dir, write, tmp_path):  # noqa: F811
    result = run("embed", write("t.csv", "text\nhi\n"), "--model", model_dir, "--out", tmp_path / "v.npy")
    assert_one_line_error(result, "is a bertclf model folder, not an encoder")
    assert "'None'" not in result.stderr


@pytest.mark.skipif(not RUNTIME, reason="needs the runtime venv `make test` builds")
def test_tokens_in_the_runtime_names_the_training_stack_not_the_network():
    done = subprocess.run([RUNTIME, "tokens", "hello world"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "bertclf[train]" in done.stderr
    assert "network" not in done.stderr and "cache" not in done.stderr


def test_serve_names_the_field_a_request_has_and_says_where_json_breaks(model_dir):  # noqa: F811
    from fastapi.testclient import TestClient

    from bertclf.serve import create_app

    client = TestClient(create_app([model_dir]))
    blank = client.post("/predict", json={"inputs": ""})
    assert blank.status_code == 422 and blank.json()["error"].startswith("inputs:")
    broken = client.post("/v1/predict", content=b'{"texts": [oops]}',
                         headers={"Content-Type": "application/json"})
    said = broken.json()["error"]
    assert broken.status_code == 422
    assert said.startswith("the body is not valid JSON") and "at character 11" in said, said


def test_the_calibration_hint_shows_only_where_calibration_would_help():
    from bertclf.evaluate.ece import calibrated_ece, reliability
    from bertclf.render.console import ece_hint

    rng = np.random.default_rng(0)
    n, k = 600, 4
    logits = rng.normal(0, 2.0, (n, k))
    honest = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = np.array([rng.choice(k, p=p) for p in honest])  # labels drawn from the probabilities
    timid = np.exp(logits / 4) / np.exp(logits / 4).sum(axis=1, keepdims=True)  # same ranks, underconfident
    for proba, helps in ((honest, False), (timid, True)):
        report = {"ece": reliability(proba, target)["ece"],
                  "ece_if_calibrated": calibrated_ece(proba, target)}
        assert ("--calibrate sigmoid" in ece_hint(report)) is helps, report
    assert calibrated_ece(honest[:20], target[:20]) is None  # too few texts to tell
    assert "calibrated by --calibrate isotonic" in ece_hint({"calibrated": "isotonic", "ece": 0.01})
