"""What a new user trips on in the first hour (issue 16): empty input, other encodings and
separators, line numbers in warnings, honest timings, and readable reports."""

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import LABELS, TEXTS, assert_one_line_error, every_command

EMPTY_INPUTS = {"empty file": "", "header only": "text,label\n"}


@pytest.mark.parametrize("content", list(EMPTY_INPUTS.values()), ids=list(EMPTY_INPUTS))
@pytest.mark.parametrize("command", list(every_command("", "", "", "", Path())))
def test_every_command_on_empty_input_answers_empty_or_one_error(run, write, model_dir, categories,
                                                                tiny_model, tmp_path, command, content):
    path = write("in.csv", content)
    argv, expected = every_command(path, model_dir, categories, tiny_model, tmp_path)[command]
    result = run(*argv)
    if expected != "empty":
        assert_one_line_error(result, expected)
        return
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    if command == "embed":
        assert np.load(tmp_path / "v.npy").shape == (0, 32)
    elif command == "predict":
        assert result.stdout.splitlines()[0].endswith("p_money,p_sport,p_water")
        assert len(result.stdout.splitlines()) == 1 and "0 texts in the input" in result.stderr
    elif command == "zero-shot":
        assert result.stdout.splitlines() == [result.stdout.strip()] and "category" in result.stdout
    else:
        assert (tmp_path / "proj" / "vectors.tsv").read_text() == ""


@pytest.mark.parametrize("stdin", ["", None])
def test_predict_on_empty_stdin_writes_the_header(run, model_dir, stdin):
    result = run("predict", model_dir, stdin=stdin)
    assert result.exit_code == 0, result.output
    assert result.stdout == "text,label,p_money,p_sport,p_water\n"


def test_predict_reports_loading_and_predicting_apart(run, model_dir):
    result = run("predict", model_dir, stdin="the team won\nriver flood\n")
    assert result.exit_code == 0, result.output
    assert re.search(r"predicted 2 texts in [\d.]+ m?s, [\d,]+ texts/s, after [\d.]+ s loading the model",
                     result.stderr), result.stderr


def test_zero_shot_with_labels_and_no_out_prints_assignments_and_scores(run, tiny_model, write, categories):
    path = write("t.csv", pd.DataFrame({"text": TEXTS, "label": LABELS}).to_csv(index=False))
    result = run("zero-shot", path, "--categories", categories, "--model", tiny_model, "--label-col", "label",
                 "--threshold", "0.5")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))  # stdout is the assignments alone
    assert len(table) == len(TEXTS) and "category" in table.columns
    assert "zero-shot on" in result.stderr and "macro-F1" in result.stderr
    digits = max(len(str(v).split(".")[-1]) for v in table["score_sport"])
    assert digits > 4  # as many digits as the file would keep, not 4


def test_zero_shot_macro_f1_leaves_out_other_without_support():
    from bertclf.evaluate.metrics import evaluate_predictions

    truth, predicted = ["a", "a", "b", "b"], ["a", "other", "b", "b"]
    everyone = evaluate_predictions(truth, predicted, ["a", "b", "other"])
    over_truth = evaluate_predictions(truth, predicted, ["a", "b", "other"], macro_over_truth=True)
    f1 = {row["label"]: row["f1"] for row in over_truth["per_class"]}
    assert over_truth["macro_f1"] == pytest.approx((f1["a"] + f1["b"]) / 2)
    assert everyone["macro_f1"] < over_truth["macro_f1"]


class _PerfectModel:
    """A stand-in that always gives the true label, to see the report of a model with no mistakes."""

    classes_ = np.array(["money", "sport", "water"])
    calibrate = None
    task = "single-label"

    def __init__(self, y):
        self.y = y

    def predict_proba(self, X):
        proba = np.full((len(X), 3), 0.1)
        proba[np.arange(len(X)), [list(self.classes_).index(v) for v in self.y]] = 0.8
        return proba

    def input_texts(self, X):
        return list(X)

    def transform(self, X):
        return np.random.default_rng(0).normal(size=(len(X), 4))


def test_html_report_gives_ece_and_says_no_mistakes():
    from bertclf.render.report import build_report

    page, report = build_report(_PerfectModel(LABELS * 2), TEXTS * 2, LABELS * 2, title="perfect")
    assert report["accuracy"] == 1.0 and report["ece"] == pytest.approx(0.2)
    # always right at 0.8: calibration would measurably help, so the report says how
    assert "<th class='text'>ECE</th><td>0.2000</td>" in page and "--calibrate sigmoid" in page
    assert "expected calibration error" in page and "No mistakes: all 48 texts" in page
    assert "0 of 0 mistakes" not in page


def test_evaluate_explains_ece_and_keeps_the_matrix_title_whole(run, model_dir, train_csv):
    result = run("evaluate", model_dir, train_csv)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "confusion matrix (rows: true, columns: predicted)" in lines
    assert any(line.startswith("ECE, the expected calibration error, is") for line in lines)
    assert any(re.match(r"ECE [\d.]+: probabilities as the head gives them", line) for line in lines)


def test_long_figure_titles_break_between_words():
    from bertclf.render.figures import wrap_title

    title = "models/support-tickets-hybrid on data/support_tickets_held_out_2026.csv"
    assert wrap_title(title, 6) == "models/support-tickets-hybrid\non data/support_tickets_held_out_2026.csv"
    assert wrap_title("short title", 6) == "short title"


LATIN = "text,topic\ncafé crème brûlée,food\nnaïve über straße,words\nthé à la menthe,food\n"


def test_latin1_input_names_its_encoding_and_encoding_reads_it(run, model_dir, write):
    path = write("latin.csv", LATIN.encode("latin-1"))
    guessed = run("predict", model_dir, path)
    assert guessed.exit_code == 0, guessed.output
    assert "looks like latin-1: try --encoding latin-1" in guessed.stderr
    read = run("predict", model_dir, path, "--encoding", "latin-1")
    assert read.exit_code == 0 and "warning" not in read.stderr, read.output
    assert "café crème brûlée" in read.stdout
    assert_one_line_error(run("predict", model_dir, path, "--encoding", "klingon"), "unknown encoding")


def test_streaming_embed_reads_other_encodings_too(run, tiny_model, write, tmp_path):
    path = write("latin.csv", LATIN.encode("latin-1"))
    result = run("embed", path, "--model", tiny_model, "--out", tmp_path / "v.npy", "--no-cache")
    assert result.exit_code == 0 and "try --encoding latin-1" in result.stderr, result.output
    quiet = run("embed", path, "--model", tiny_model, "--out", tmp_path / "v.npy", "--encoding", "latin-1",
                "--no-cache")
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr, quiet.output


def test_wrong_separator_suggests_sep_and_sep_reads_it(run, model_dir, write, tmp_path):
    path = write("semi.csv", "text;label\nthe team won;sport\nriver flood;water\nbank loan;money\n")
    assert_one_line_error(run("predict", model_dir, path), "no column 'text'", "try --sep ';'")
    result = run("predict", model_dir, path, "--sep", ";")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(io.StringIO(result.stdout))["text"].tolist()[0] == "the team won"
    ragged = write("ragged.csv", "text,label\na,b;c\nthe team, won;sport\nx;y\n")
    assert "try --sep" not in run("predict", model_dir, ragged).output  # no separator fits: no guess


def test_warnings_name_lines_as_an_editor_shows_them(run, model_dir, write):
    path = write("gaps.csv", 'text,label\n"a text over\ntwo lines",sport\n,water\nthe team,\n')
    result = run("evaluate", model_dir, path)
    assert result.exit_code == 0, result.output
    assert f"1 of 3 rows have no label (line 5 of {path}); those rows were dropped" in result.stderr
    assert f"1 of 2 texts are empty or missing (line 4 of {path})" in result.stderr
    assert result.stderr.count("empty or missing") == 1  # not again by position


def test_line_numbers_of_each_format(write):
    from bertclf.io.files import line_numbers, where

    csv_path = write("a.csv", 'text\n\n"one\ntwo"\nthree\n')
    assert line_numbers({"path": csv_path, "kind": "csv", "sep": ","}, 2) == [3, 5]
    jsonl = write("a.jsonl", '{"text": "a"}\n\n{"text": "b"}\n')
    assert line_numbers({"path": jsonl, "kind": "jsonl"}, 2) == [1, 3]
    assert where([0, 2], None) == "positions 0, 2, counting from 0"
    assert where([1], {"path": "x.parquet", "kind": "parquet"}) == "row 2 of x.parquet"


def test_predict_and_cluster_name_empty_texts_by_the_lines_of_their_file(run, model_dir, tiny_model, write,
                                                                        tmp_path):
    path = write("gaps.csv", "text\nthe team won\n\nriver flood\n\"\"\nbank loan\n")
    predicted = run("predict", model_dir, path)
    assert predicted.exit_code == 0, predicted.output
    assert f"1 of 4 texts are empty or missing (line 5 of {path})" in predicted.stderr
    assert predicted.stderr.count("empty or missing") == 1 and "counting from 0" not in predicted.stderr
    clustered = run("cluster", path, "--model", tiny_model, "-k", "2", "--out", tmp_path / "c.csv")
    assert clustered.exit_code == 0 and f"(line 5 of {path})" in clustered.stderr, clustered.output
