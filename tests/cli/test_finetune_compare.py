"""`bertclf finetune` and `bertclf compare` through the CLI, on the tiny random BERT."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import assert_one_line_error
from tests.finetune.test_finetuner import interrupt_at_step, toy

FAST = ("--epochs", "2", "--lr", "2e-3", "--batch-size", "4", "--device", "cpu")


@pytest.fixture
def toy_csv(write):
    texts, labels = toy(12)
    return write("toy.csv", pd.DataFrame({"text": texts, "label": labels}).to_csv(index=False))


def test_finetune_reports_saves_and_the_model_predicts(run, tiny_model, toy_csv, tmp_path):
    out = tmp_path / "ft"
    result = run("finetune", toy_csv, "--model", tiny_model, "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    assert "fine-tuned encoder on 20% hold-out" in result.stdout
    assert "TF-IDF + logistic regression on the same split" in result.stdout
    assert "epoch 2: train loss" in result.stderr and "saved fine-tuned model (3 labels" in result.stderr
    assert not (out / "checkpoint").exists()  # the finished model replaced it
    config = json.loads((out / "config.json").read_text())
    assert config["metrics"]["n"] == 8 and config["training"]["texts"] == 25  # 28 minus 10 % validation
    predicted = run("predict", out, "-", "-q", stdin="bank loan money rate\nriver flood water\n")
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stdout.splitlines()[0] == "text,label,p_money,p_sport,p_water"
    evaluated = run("evaluate", out, toy_csv, "--json", "-q")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["n"] == 36


def test_ctrl_c_then_resume_finishes_the_run(run, tiny_model, toy_csv, tmp_path, monkeypatch):
    out = tmp_path / "ft"
    interrupt_at_step(monkeypatch, 3)
    result = run("finetune", toy_csv, "--model", tiny_model, "--out", out, *FAST, "-q")
    assert result.exit_code == 130, result.output
    assert f"continue with: bertclf finetune --resume {out}" in result.stderr
    assert (out / "checkpoint" / "state.json").is_file()
    assert_one_line_error(run("predict", out, "-", stdin="bank\n"), "unfinished fine-tuning run",
                          f"--resume {out}")
    monkeypatch.undo()
    changed = run("finetune", "--resume", out, "--lr", "0.1", "-q")
    assert_one_line_error(changed, "settings differ", "lr")
    resumed = run("finetune", "--resume", out, "-q")
    assert resumed.exit_code == 0, resumed.output
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["resumed"] and config["training"]["epochs_run"] == 2
    assert not (out / "checkpoint").exists()


def test_finetune_bad_usage(run, tiny_model, toy_csv, tmp_path):
    assert run("finetune", toy_csv).exit_code == 2  # no --out
    assert_one_line_error(run("finetune", "--resume", tmp_path), "holds no fine-tuning checkpoint")
    assert_one_line_error(run("finetune", toy_csv, "--model", tiny_model, "--out", tmp_path / "x",
                              "--epochs", "0"), "epochs must be an integer at least 1")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    assert_one_line_error(run("finetune", toy_csv, "--model", tiny_model, "--out", tmp_path / "notes"),
                          "not a bertclf model folder")
    assert_one_line_error(run("finetune", toy_csv, "--model", tiny_model, "--out", tmp_path / "y",
                              "--time-limit", "soon"), "--time-limit must be a duration")


def test_finetune_time_limit_ends_the_run_and_keeps_the_model(run, tiny_model, toy_csv, tmp_path):
    out = tmp_path / "ft"
    result = run("finetune", toy_csv, "--model", tiny_model, "--out", out, "--epochs", "500",
                 "--batch-size", "2", "--device", "cpu", "--time-limit", "2s", "--no-baseline")
    assert result.exit_code == 0, result.output
    assert "stopping: the time limit came" in result.stderr
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["stop_reason"] == "out of time" and 1 <= training["epochs_run"] < 500


def test_finetune_freeze_layers_and_schedule_from_the_command_line(run, tiny_model, toy_csv, tmp_path):
    out = tmp_path / "ft"
    result = run("finetune", toy_csv, "--model", tiny_model, "--out", out, *FAST, "--freeze-layers", "2",
                 "--schedule", "steps", "--no-baseline", "-q")
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "config.json").read_text())["head"]["finetune"]
    assert recorded["freeze_layers"] == 2 and recorded["schedule"] == "steps"
    bad = run("finetune", toy_csv, "--model", tiny_model, "--out", tmp_path / "bad", *FAST,
              "--freeze-layers", "9")
    assert_one_line_error(bad, "freeze_layers=9, but the encoder has 3 layers")
    assert not (tmp_path / "bad").exists()
    unknown = run("finetune", toy_csv, "--model", tiny_model, "--out", tmp_path / "x", "--schedule", "cosine")
    assert unknown.exit_code == 2 and "Invalid value for '--schedule'" in unknown.output


def test_compare_gives_all_three_rows_json_and_a_chart(run, tiny_model, toy_csv, tmp_path):
    chart = tmp_path / "compare.png"
    result = run("compare", toy_csv, "--model", tiny_model, *FAST, "--json", "--plot", chart, "-q")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["approach"] for r in rows] == ["tfidf", "frozen", "finetune"]
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["train_seconds"] > 0 and r["size_bytes"] > 0
    assert rows[1]["shared_encoder_bytes"] > 0 and rows[2]["size_bytes"] > rows[1]["size_bytes"]
    assert chart.read_bytes().startswith(b"\x89PNG")
    table = run("compare", toy_csv, "--model", tiny_model, "--approaches", "tfidf,frozen", "-q")
    assert table.exit_code == 0 and "TF-IDF + logreg" in table.stdout and "frozen + logreg" in table.stdout
    assert_one_line_error(run("compare", toy_csv, "--approaches", "tfidf,bert"), "unknown approach 'bert'")
    assert run("compare", toy_csv, "--holdout", "0", "--approaches", "tfidf").exit_code == 2
