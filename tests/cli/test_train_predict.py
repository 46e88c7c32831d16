import io
import json

import pandas as pd
import pytest

from bertclf import TextClassifier, runtime
from tests.conftest import LABELS, TEXTS, assert_one_line_error, labelled_csv


def test_train_reports_holdout_and_baseline_then_saves(run, tiny_model, train_csv, tmp_path):
    out = tmp_path / "model"
    result = run("train", train_csv, "--model", tiny_model, "--out", out, "--head", "svm",
                 "--class-weight", "balanced", "--pooling", "cls", "--layers", "-2..-1")
    assert result.exit_code == 0, result.output
    assert "20% hold-out" in result.stdout and "accuracy" in result.stdout and "macro-F1" in result.stdout
    assert "TF-IDF + logistic regression on the same split" in result.stdout
    assert "saved hybrid svm model (3 labels" in result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["metrics"]["n"] == 10  # ceil(48 * 0.2), stratified
    assert config["head"]["class_weight"] == "balanced"
    assert config["embedder"]["pooling"] == "cls" and config["embedder"]["layers"] == [2, 3]
    assert "tfidf_logreg_baseline" in config["metrics"]
    assert config["training"]["texts"] == 38


def test_train_with_test_file_reports_unseen_labels(run, tiny_model, train_csv, write, tmp_path):
    test = write("test.csv", labelled_csv([("the team won", "sport"), ("the cat sat", "pets")]))
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", "--test", test,
                 "--no-baseline")
    assert result.exit_code == 0, result.output
    assert "1 test rows have labels the model never saw: pets (1)" in result.stdout
    assert "TF-IDF" not in result.stdout


def test_train_holdout_zero_trains_on_everything(run, tiny_model, train_csv, tmp_path):
    result = run("train", train_csv, "--model", tiny_model, "--out", tmp_path / "m", "--holdout", "0", "-q")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["metrics"] is None and config["training"]["texts"] == 48


def test_train_drops_rows_without_label_and_strict_refuses(run, tiny_model, write, tmp_path):
    path = write("t.csv", labelled_csv(list(zip(TEXTS, LABELS, strict=True))) + "an orphan text,\n")
    result = run("train", path, "--model", tiny_model, "--out", tmp_path / "m", "-q", "--no-baseline")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "1 of 25 rows have no label" in result.stderr
    strict = run("train", path, "--model", tiny_model, "--out", tmp_path / "m2", "--strict")
    assert_one_line_error(strict, "1 of 25 rows have no label")
    assert not (tmp_path / "m2").exists()


def test_train_warns_when_it_cannot_stratify(run, tiny_model, write, tmp_path):
    path = write("t.csv", labelled_csv(list(zip(TEXTS, LABELS, strict=True)) + [("the cat sat", "cat")]))
    result = run("train", path, "--model", tiny_model, "--out", tmp_path / "m", "--no-baseline")
    assert result.exit_code == 0, result.output
    assert "warning: cannot stratify the hold-out split: class 'cat' has a single example" in result.stderr


def test_train_empty_texts_warn_and_strict_refuses(run, tiny_model, write, tmp_path):
    path = write("t.csv", labelled_csv(list(zip(TEXTS, LABELS, strict=True)) + [("", "sport")]))
    result = run("train", path, "--model", tiny_model, "--out", tmp_path / "m", "--holdout", "0")
    assert result.exit_code == 0, result.output
    assert "texts are empty or missing" in result.stderr
    assert_one_line_error(run("train", path, "--model", tiny_model, "--out", tmp_path / "m2", "--strict",
                              "--holdout", "0"), "empty or missing")


@pytest.mark.parametrize(
    ("content", "args", "fragments"),
    [
        ("text,category\na,x\nb,y\n", [], ["no column 'label'", "text, category", "--label-col"]),
        ("text,label\na,x\nb,x\nc,x\n", ["--holdout", "0"], ["only one class in the labels ('x')"]),
        ("text,label\na,x\nb,y\n", ["--head", "forest"], []),
        ("text,label\na,x\nb,y\n", ["--holdout", "1.5"], ["--holdout must be at least 0 and below 1"]),
        ("text,label\na,x\nb,y\n", ["--holdout", "-0.2"], ["--holdout must be"]),
        ("text,label\na,x\nb,y\n", ["-C", "-1", "--holdout", "0"],
         ["-C must be 'auto' or a positive number"]),
        ("text,label,day\na,x,1\nb,y,2\n", ["--time-col", "date"], ["no column 'date'", "text, label, day",
                                                                       "--time-col"]),
        ("text,label,day\na,x,2024-01-03\nb,y,soon\nc,x,2024-01-01\n", ["--time-col", "day"],
         ["column 'day' (--time-col) must hold dates or numbers", "1 of 3 rows", "'soon'"]),
        ("text,label,day\na,x,1\nb,y,2\n", ["--time-col", "day", "--test", "TRAIN"],
         ["--time-col orders the hold-out and --auto's check rows", "add --auto"]),
    ],
)
def test_train_bad_input_is_one_line_and_exit_2(run, tiny_model, write, tmp_path, content, args, fragments):
    path = write("t.csv", content)
    args = [str(path) if arg == "TRAIN" else arg for arg in args]
    result = run("train", path, "--model", tiny_model, "--out", tmp_path / "m", *args)
    if fragments:
        assert_one_line_error(result, *fragments)
    else:
        assert result.exit_code == 2
    assert not (tmp_path / "m").exists()


def test_train_refuses_to_overwrite_a_folder_that_is_not_a_model(run, tiny_model, train_csv, tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("precious")
    result = run("train", train_csv, "--model", tiny_model, "--out", folder)
    assert_one_line_error(result, "is not a bertclf model folder")
    assert (folder / "chapter1.tex").read_text() == "precious"


def test_predict_table_keeps_columns_and_adds_probabilities(run, model_dir, write, tmp_path):
    path = write("new.csv", "id,text\n1,the team won\n2,a loan from the bank\n")
    out = tmp_path / "pred.csv"
    result = run("predict", model_dir, path, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["id", "text", "label", "p_money", "p_sport", "p_water"]
    assert table[["p_money", "p_sport", "p_water"]].sum(axis=1).round(4).tolist() == [1.0, 1.0]
    expected = TextClassifier.load(model_dir).predict(["the team won", "a loan from the bank"])
    assert table["label"].tolist() == expected.tolist()


def test_predict_stdin_to_stdout_with_top_k(run, model_dir):
    result = run("predict", model_dir, "--top-k", "2", stdin="the team won\nriver flood\n")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == ["text", "label", "p_label", "top_2", "p_top_2"]  # no top_1 = label
    assert (table["p_label"] >= table["p_top_2"]).all() and (table["label"] != table["top_2"]).all()


def test_predict_explain_adds_compact_columns_to_csv_and_full_lists_to_jsonl(run, model_dir, tmp_path):
    texts = "the team won the game\na loan from the bank\n"
    result = run("predict", model_dir, "--explain", "2", stdin=texts)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns)[-2:] == ["explain_for", "explain_against"]
    expected = runtime.Model(model_dir).explain(texts.splitlines(), k=2)
    first = expected[0][0]
    assert table["explain_for"][0] == "; ".join(f"{w['word']} {w['weight']:+.3f}" for w in first.toward)
    result = run("predict", model_dir, "--explain", "--out", tmp_path / "why.jsonl", stdin=texts)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "why.jsonl").read_text().splitlines()]
    assert rows[1]["explanation"] == [e.to_json() for e in runtime.Model(model_dir).explain(
        texts.splitlines()[1:], k=5)[0]]
    assert run("predict", model_dir, "--explain", "-2", stdin=texts).exit_code == 2  # click: usage
    plain = pd.read_csv(io.StringIO(run("predict", model_dir, stdin=texts).stdout))
    assert plain["label"].tolist() == table["label"].tolist()  # explaining leaves the labels alone


def test_predict_keeps_an_existing_label_column(run, model_dir, train_csv, tmp_path):
    result = run("predict", model_dir, train_csv, "--out", tmp_path / "p.jsonl", "-q")
    assert result.exit_code == 0, result.output
    table = pd.read_json(tmp_path / "p.jsonl", lines=True)
    assert table["label"].tolist() == LABELS * 2 and "predicted_label" in table.columns
    assert "warning: the input already has a 'label' column" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--top-k", "9"], ["--top-k must be between 1 and 3"]),
        (["--out", "p.xlsx"], ["unknown output format"]),
        (["--text-col", "body"], ["no column 'body'"]),
        (["--explain", "0"], ["--explain needs a number of words of at least 1"]),
        (["--explain", "--engine", "ray", "--out", "p.csv"], ["--explain runs in this process"]),
    ],
)
def test_predict_bad_usage(run, model_dir, train_csv, args, fragments):
    assert_one_line_error(run("predict", model_dir, train_csv, *args), *fragments)


def test_evaluate_table_json_and_plot(run, model_dir, train_csv, tmp_path):
    table = run("evaluate", model_dir, train_csv)
    assert table.exit_code == 0, table.output
    assert "precision" in table.stdout and "confusion matrix" in table.stdout
    as_json = run("evaluate", model_dir, train_csv, "--json", "--plot", tmp_path / "cm.png")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["n"] == 48 and set(report) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_damaged_model_is_one_line(run, model_dir, train_csv):
    (model_dir / "head.safetensors").write_bytes(b"garbage")
    assert_one_line_error(run("evaluate", model_dir, train_csv), "fails its checksum")
    assert_one_line_error(run("predict", model_dir / "nope", train_csv), "no such model folder")
