"""`bertclf audit`: rows whose label a cross-validated model finds unlikely come first."""

from __future__ import annotations

import pandas as pd
import pytest

from bertclf import Embedder
from bertclf.errors import InputError, SpecError
from bertclf.evaluate.audit import audit_labels
from tests.conftest import assert_one_line_error

MONEY = ["the bank rate money loan", "money and the bank rate", "my loan rate at the bank"]
WATER = ["the river flood water", "water in the river flood", "the flood of the river water"]


def corpus(flip: int = 7) -> tuple[list[str], list[str]]:
    texts = [f"{t} {i}" for i in range(6) for t in (*MONEY, *WATER)]
    labels = ["money" if t.startswith(tuple(MONEY)) else "water" for t in texts]
    labels[flip] = "money" if labels[flip] == "water" else "water"  # one wrong label
    return texts, labels


def test_a_flipped_label_is_flagged_first_with_the_right_suggestion(tiny_model):
    texts, labels = corpus(flip=7)
    found = audit_labels(texts, labels, Embedder(model=tiny_model, backend="onnx"), rows=list(range(10, 46)))
    top = found.iloc[0]
    assert top["row"] == 18 and top["text"] == texts[7]  # rows count from the file's, 1-based
    assert bool(top["issue"]) and top["given"] == labels[7] and top["suggested"] != labels[7]
    assert top["p_given"] < 0.5 < top["p_suggested"]
    assert found["issue"].sum() <= 3 and len(found) == len(texts)
    assert list(found.columns) == ["row", "text", "given", "suggested", "p_given", "p_suggested", "issue"]


def test_too_few_rows_and_several_labels_per_text_are_clear_errors(tiny_model):
    with pytest.raises(InputError, match="the audit needs at least 2 training texts of every label"):
        audit_labels(["a bank", "a river", "the river"], ["money", "water", "water"],
                     Embedder(model=tiny_model))
    with pytest.raises(SpecError, match="multi-label"):
        audit_labels(["a", "b"], [["x"], ["y"]], Embedder(model=tiny_model))


def test_the_cli_prints_the_suspects_and_writes_every_row(run, tiny_model, tmp_path):
    texts, labels = corpus(flip=3)
    source = tmp_path / "train.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(source, index=False)
    result = run("audit", source, "--model", tiny_model, "--backend", "onnx", "--out", tmp_path / "s.csv",
                 "--top", "3", "--no-cache")
    assert result.exit_code == 0, result.output
    assert "rows of" in result.stdout and "look mislabelled" in result.stdout
    written = pd.read_csv(tmp_path / "s.csv")
    assert len(written) == len(texts) and written.loc[0, "row"] == 4
    assert_one_line_error(run("audit", source, "--model", tiny_model, "--top", "-1"),
                          "--top must be 0 or more")
    assert_one_line_error(run("audit", source, "--model", tiny_model, "--label-col", "intent"),
                          "no column 'intent'")
