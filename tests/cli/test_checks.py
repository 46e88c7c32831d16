"""What the commands check before they work, and what they say (issue 38): a busy port, options
of another mode, cheap checks before heavy imports, each warning once, a leaderboard true to the
folds that ran, and messages that name the real problem."""

import json
import os
import socket
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import LABELS, TEXTS, assert_one_line_error

RUNTIME = os.environ.get("BERTCLF_RUNTIME")


def test_serve_on_a_busy_port_is_one_error_before_anything_is_announced(run, model_dir):
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
def test_train_refuses_options_that_would_be_ignored(run, tiny_model, train_csv, tmp_path, args,
                                                     fragments):
    args = [a.format(missing=tmp_path / "nope.csv") for a in args]
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", *args)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "m").exists()


def test_threshold_on_a_single_label_file_is_warned_about_once(run, tiny_model, train_csv, tmp_path):
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


def test_a_budget_too_small_prints_no_empty_leaderboard(run, tiny_model, train_csv, tmp_path):
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


def test_tokens_reads_a_model_folder_through_its_encoder(run, model_dir):
    result = run("tokens", "the river flooded", "--model", model_dir, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tokens"][0] == "[CLS]"


def test_embed_with_a_model_folder_as_encoder_names_what_it_is(run, model_dir, write, tmp_path):
    result = run("embed", write("t.csv", "text\nhi\n"), "--model", model_dir, "--out", tmp_path / "v.npy")
    assert_one_line_error(result, "is a bertclf model folder, not an encoder")
    assert "'None'" not in result.stderr


@pytest.mark.skipif(not RUNTIME, reason="needs the runtime venv `make test` builds")
def test_tokens_in_the_runtime_names_the_training_stack_not_the_network():
    done = subprocess.run([RUNTIME, "tokens", "hello world"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "bertclf[train]" in done.stderr
    assert "network" not in done.stderr and "cache" not in done.stderr


def test_serve_names_the_field_a_request_has_and_says_where_json_breaks(model_dir):
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
