"""One CLI (issue 17, part 5): the same options everywhere, --json on every command that prints a
report or summary, -C auto wherever C applies, and the model's own columns by default."""

import json
import re

import pandas as pd
import pytest

from tests.conftest import LABELS, TEXTS


@pytest.fixture
def topic_csv(write):
    """A labelled file whose labels are in 'topic', not 'label'."""
    return write("topic.csv", pd.DataFrame({"text": TEXTS * 2, "topic": LABELS * 2}).to_csv(index=False))


@pytest.fixture
def topic_model(run, tiny_model, topic_csv, tmp_path):
    out = tmp_path / "model"
    result = run("train", topic_csv, "--model", tiny_model, "--label-col", "topic", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    return out


def test_evaluate_and_report_find_the_label_column_the_model_was_trained_on(run, topic_model, topic_csv,
                                                                           tmp_path):
    evaluated = run("evaluate", topic_model, topic_csv, "--json", "-q")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["n"] == 48
    reported = run("report", topic_model, topic_csv, "--out", tmp_path / "r.html", "--json")
    assert reported.exit_code == 0 and json.loads(reported.stdout)["n"] == 48, reported.output
    config = json.loads((topic_model / "config.json").read_text())
    assert config["inputs"]["labels"] == {"label_col": "topic", "label_cols": [], "label_sep": None}


def test_every_summary_command_prints_one_json_document_on_stdout(run, tiny_model, topic_model, topic_csv,
                                                                 write, tmp_path):
    cats = write("cats.yaml", "sport: [team, game]\nwater: [river]\nmoney: [bank]\n")
    tiny = ["--model", tiny_model]
    commands = {
        "train": (["train", topic_csv, *tiny, "--label-col", "topic", "--out", tmp_path / "m2"],
                  {"model", "metrics", "labels"}),
        "evaluate": (["evaluate", topic_model, topic_csv], {"accuracy", "ece"}),
        "predict": (["predict", topic_model, topic_csv], {"texts", "load_seconds", "predictions"}),
        "report": (["report", topic_model, topic_csv, "--out", tmp_path / "r.html"], {"accuracy"}),
        "embed": (["embed", topic_csv, *tiny, "--out", tmp_path / "v.npy"], {"rows", "dim"}),
        "cluster": (["cluster", topic_csv, *tiny, "-k", "3", "--out", tmp_path / "c.csv"], {"clusters", "k"}),
        "zero-shot": (["zero-shot", topic_csv, *tiny, "--categories", cats], {"counts", "rows"}),
        "projector": (["projector", topic_csv, *tiny, "--out", tmp_path / "proj"], {"rows", "dim"}),
        "plot": (["plot", topic_csv, *tiny, "--out", tmp_path / "map.png"], {"texts", "projection"}),
        "audit": (["audit", topic_csv, *tiny, "--label-col", "topic"], {"flagged", "top"}),
        "tokens": (["tokens", "the bank", *tiny], {"tokens"}),
        "cache info": (["cache", "info"], set()),
    }
    for name, (argv, keys) in commands.items():
        result = run(*argv, "--json")
        assert result.exit_code == 0, (name, result.output)
        document = json.loads(result.stdout)  # stdout holds the JSON and nothing else
        assert keys <= set(document), (name, sorted(document))


def test_C_auto_works_wherever_C_applies(run, tiny_model, topic_csv, tmp_path):
    audited = run("audit", topic_csv, "--model", tiny_model, "--label-col", "topic", "-C", "auto", "--json")
    assert audited.exit_code == 0, audited.output
    compared = run("compare", topic_csv, "--model", tiny_model, "--label-col", "topic", "-C", "auto",
                   "--approaches", "tfidf,frozen", "--json", "-q")
    assert compared.exit_code == 0, compared.output
    assert {row["approach"] for row in json.loads(compared.stdout)["rows"]} >= {"frozen"}
    bad = run("compare", topic_csv, "--model", tiny_model, "-C", "sometimes")
    assert bad.exit_code == 2 and "-C must be 'auto' or a positive number" in bad.stderr


@pytest.mark.parametrize("command", ["train", "compare", "audit", "cluster", "projector", "plot", "finetune"])
def test_shared_options_read_the_same_in_every_command(run, command):
    text = " ".join(run(command, "--help").stdout.split())  # help wraps where the terminal ends
    assert re.search(r"--seed INTEGER [^[]*\[default: 13\]", text), text
    if command in ("train", "compare", "audit"):
        assert "-C, --C auto|C" in text
