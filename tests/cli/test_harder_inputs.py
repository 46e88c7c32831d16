"""Multi-label, sentence pairs, long texts and metadata through the CLI, on the tiny random BERT."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import LABELS, TEXTS, assert_one_line_error


@pytest.fixture
def multi_csv(write):
    frame = pd.DataFrame({"text": TEXTS * 2, "sport": [int(y == "sport") for y in LABELS] * 2,
                          "wet": [int(y == "water") for y in LABELS] * 2})
    frame.loc[:7, "wet"] = 1  # some texts carry both labels; money texts carry none
    return write("multi.csv", frame.to_csv(index=False))


def test_label_columns_train_evaluate_and_predict(run, tiny_model, multi_csv, tmp_path):
    out = tmp_path / "m"
    result = run("train", multi_csv, "--model", tiny_model, "--label-cols", "sport,wet", "--out", out)
    assert result.exit_code == 0, result.output
    assert "micro-F1" in result.stdout and "mean ROC-AUC" in result.stdout and "Hamming loss" in result.stdout
    assert "TF-IDF + logistic regression on the same split: micro-F1" in result.stdout
    assert "rows have no positive label" in result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "multi-label" and config["labels"] == ["sport", "wet"]
    assert len(config["thresholds"]) == 2 and "micro_f1" in config["metrics"]
    evaluated = run("evaluate", out, multi_csv, "--json", "-q")  # label columns default to the model's
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["n"] == 48 and [r["label"] for r in report["per_label"]] == ["sport", "wet"]
    plot = tmp_path / "labels.png"
    assert run("evaluate", out, multi_csv, "--plot", plot, "-q").exit_code == 0 and plot.stat().st_size > 0
    predicted = run("predict", out, multi_csv, "-q", "--label-sep", "|")
    assert predicted.exit_code == 0, predicted.output
    table = pd.read_csv(pd.io.common.StringIO(predicted.stdout), keep_default_na=False)
    assert list(table.columns[-3:]) == ["labels", "p_sport", "p_wet"]
    assert set("|".join(table["labels"]).split("|")) <= {"sport", "wet", ""}


def test_label_sets_in_one_column(run, tiny_model, write, tmp_path):
    tags = ["sport;fun" if y == "sport" else "" if y == "money" else "wet" for y in LABELS]
    path = write("tags.csv", pd.DataFrame({"text": TEXTS * 2, "tags": tags * 2}).to_csv(index=False))
    out = tmp_path / "m"
    result = run("train", path, "--model", tiny_model, "--label-col", "tags", "--label-sep", ";",
                 "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["labels"] == ["fun", "sport", "wet"]
    test = write("test.csv", "text,tags\nthe team won,sport;cats\n")
    evaluated = run("evaluate", out, test, "--label-col", "tags", "--label-sep", ";", "--json", "-q")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["unseen_labels"] == {"cats": 1}


def test_bad_label_columns_are_one_line_errors(run, tiny_model, write, tmp_path):
    bad = write("bad.csv", "text,a,b\nhello,1,2\nworld,0,1\n")
    result = run("train", bad, "--model", tiny_model, "--label-cols", "a,b", "--out", tmp_path / "m")
    assert_one_line_error(result, "label column 'b' must hold only 0 and 1", "'2'")
    assert not (tmp_path / "m").exists()
    result = run("train", bad, "--model", tiny_model, "--label-cols", "a,c", "--out", tmp_path / "m")
    assert_one_line_error(result, "no column 'c'")
    both = run("train", bad, "--model", tiny_model, "--label-cols", "a", "--label-sep", ";",
               "--out", tmp_path / "m")
    assert_one_line_error(both, "not both")


def test_sentence_pairs_train_predict_tokens_and_embed(run, tiny_model, write, tmp_path):
    frame = pd.DataFrame({"question": TEXTS * 2, "answer": TEXTS[::-1] * 2, "label": LABELS * 2})
    path = write("qa.csv", frame.to_csv(index=False))
    out = tmp_path / "m"
    result = run("train", path, "--model", tiny_model, "--text-col", "question", "--pair-col", "answer",
                 "--out", out, "-q")
    assert result.exit_code == 0, result.output
    predicted = run("predict", out, path, "-q")
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stdout.splitlines()[0].startswith("question,answer,label,predicted_label")
    missing = run("predict", out, write("q.csv", "question\nhello\n"), "-q")
    assert_one_line_error(missing, "no column 'answer'")
    shown = run("tokens", "--input", path, "--text-col", "question", "--pair-col", "answer", "--row", "2",
                "--model", tiny_model, "--json")
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert view["tokens"][0] == "[CLS]" and view["tokens"].count("[SEP]") == 2 and 1 in view["segment_ids"]
    vectors = tmp_path / "pairs.npy"
    embedded = run("embed", path, "--text-col", "question", "--pair-col", "answer", "--model", tiny_model,
                   "--out", vectors, "-q")
    assert embedded.exit_code == 0, embedded.output
    assert np.load(vectors).shape == (48, 32)
    gaps = write("gaps.csv", "question,answer\nhello,\nworld,fine\n")
    assert_one_line_error(run("embed", gaps, "--text-col", "question", "--pair-col", "answer", "--model",
                              tiny_model, "--out", vectors), "1 of 2 sentence pairs have no second text")


def test_long_strategies_on_the_command_line(run, tiny_model, write, tmp_path):
    long_text = " ".join(TEXTS)
    path = write("long.txt", f"hello\n{long_text}\n")
    outs = {}
    for strategy in (("--long", "truncate"), ("--long", "head-tail", "--head-tokens", "4"),
                     ("--long", "chunk", "--stride", "7", "--chunk-agg", "max")):
        outs[strategy[1]] = tmp_path / f"{strategy[1]}.npy"
        result = run("embed", path, "--model", tiny_model, "--max-length", "16", *strategy, "--out",
                     outs[strategy[1]], "--backend", "onnx")
        assert result.exit_code == 0, result.output
        assert "1 of 2 texts were longer than 16 tokens" in result.stderr
    vectors = {k: np.load(v) for k, v in outs.items()}
    assert np.allclose(vectors["truncate"][0], vectors["chunk"][0], atol=1e-5)
    assert not np.allclose(vectors["truncate"][1], vectors["chunk"][1], atol=1e-3)
    wide = run("embed", path, "--model", tiny_model, "--max-length", "16", "--long", "chunk",
               "--stride", "15", "--out", tmp_path / "x.npy")
    assert_one_line_error(wide, "stride 15 is larger than the window (14 tokens")
    guide = run("embed", path, "--model", tiny_model, "--long", "guide", "--out", tmp_path / "x.npy")
    assert_one_line_error(guide, "--long guide learns from labels")


def test_guide_trains_and_predicts(run, tiny_model, write, tmp_path):
    frame = pd.DataFrame({"text": [f"{t}. the cat sat on the mat. my dog was slow." for t in TEXTS] * 2,
                          "label": LABELS * 2})
    path = write("docs.csv", frame.to_csv(index=False))
    out = tmp_path / "m"
    result = run("train", path, "--model", tiny_model, "--max-length", "12", "--long", "guide", "--out", out,
                 "-q")
    assert result.exit_code == 0, result.output
    assert (out / "guide.json").exists()
    assert run("predict", out, path, "-q").exit_code == 0


def test_metadata_and_extra_embeddings_on_the_command_line(run, tiny_model, write, tmp_path):
    frame = pd.DataFrame({"text": ["the"] * 48, "source": [y[:3] for y in LABELS] * 2,
                          "pages": [str(len(y)) for y in LABELS] * 2, "author": [y[:2] for y in LABELS] * 2,
                          "label": LABELS * 2})
    path = write("books.csv", frame.to_csv(index=False))
    authors = write("authors.csv", "author,v1,v2\nsp,1,0\nmo,0,1\n")
    out = tmp_path / "m"
    result = run("train", path, "--model", tiny_model, "--meta-cols", "source,pages", "--extra-embeddings",
                 authors, "--join-on", "author", "--out", out)
    assert result.exit_code == 0, result.output
    assert "rows have a author key with no extra embedding" in result.stderr  # 'wa' has no vector
    config = json.loads((out / "config.json").read_text())
    parts = config["parts"]  # format 2: each part's settings under "parts"
    assert [s["kind"] for s in parts["meta"]["settings"]["specs"]] == ["onehot", "numeric"]
    assert config["inputs"]["join_on"] == "author" and parts["extra"]["settings"]["dim"] == 2
    assert run("predict", out, path, "-q").exit_code == 0
    renamed = write("renamed.csv", frame.rename(columns={"pages": "page_count"}).to_csv(index=False))
    assert_one_line_error(run("predict", out, renamed, "-q"), "no column 'pages'")
    assert_one_line_error(run("evaluate", out, renamed, "-q"), "no column 'pages'")
    half = run("train", path, "--model", tiny_model, "--join-on", "author", "--out", tmp_path / "x")
    assert_one_line_error(half, "give both --extra-embeddings and --join-on")


def test_finetune_multilabel_and_pairs(run, tiny_model, multi_csv, write, tmp_path):
    fast = ("--epochs", "1", "--lr", "2e-3", "--batch-size", "8", "--device", "cpu", "-q")
    out = tmp_path / "ft"
    result = run("finetune", multi_csv, "--model", tiny_model, "--label-cols", "sport,wet", "--out", out,
                 *fast)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "multi-label" and len(config["thresholds"]) == 2
    assert "val_micro_f1" in config["training"]["history"][0]
    assert run("evaluate", out, multi_csv, "-q").exit_code == 0
    frame = pd.DataFrame({"question": TEXTS * 2, "answer": TEXTS[::-1] * 2, "label": LABELS * 2})
    path = write("qa.csv", frame.to_csv(index=False))
    pairs = tmp_path / "pairs"
    result = run("finetune", path, "--model", tiny_model, "--text-col", "question", "--pair-col", "answer",
                 "--out", pairs, *fast)
    assert result.exit_code == 0, result.output
    assert json.loads((pairs / "config.json").read_text())["inputs"]["pair_col"] == "answer"
    assert run("predict", pairs, path, "-q").exit_code == 0
    chunk = run("finetune", path, "--model", tiny_model, "--long", "chunk", "--out", tmp_path / "c", *fast)
    assert chunk.exit_code == 2


def test_report_on_a_multilabel_model(run, tiny_model, multi_csv, tmp_path):
    out = tmp_path / "m"
    assert run("train", multi_csv, "--model", tiny_model, "--label-cols", "sport,wet", "--out", out, "-q",
               "--no-baseline").exit_code == 0
    page = tmp_path / "report.html"
    result = run("report", out, multi_csv, "--out", page)
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "micro-F1" in result.stderr and "micro f1" in text and "Confusion matrix" not in text
