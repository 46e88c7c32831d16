"""Shared fixtures: a tiny random BERT with a real WordPiece vocab, built once per test session."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

WORDS = (
    "the a an and of to in is was it on for with that this my your i you we they "
    "bank river rate money loan water flood city news sport game team play win lost "
    "cat dog sat mat hello world good bad great fast slow rais flood tok lay er "
    "token short long text sentence word piece pad cut"
).split()
SUFFIXES = ["##s", "##ed", "##ing", "##er", "##ly", "##ization", "##en", "##able"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list(".,!?'0123456789")
TINY_LAYERS = 3
TINY_HIDDEN = 32
TINY_MAX_POSITIONS = 64


def _vocab() -> dict[str, int]:
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for token in [*dict.fromkeys(WORDS), *SUFFIXES, *LETTERS, *[f"##{c}" for c in LETTERS]]:
        if token not in tokens:
            tokens.append(token)
    return {token: i for i, token in enumerate(tokens)}


@pytest.fixture(scope="session", autouse=True)
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test's ONNX exports and embedding cache go to one temporary folder, never ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("bertclf-cache")
    os.environ["BERTCLF_CACHE"] = str(folder)
    return folder


@pytest.fixture(autouse=True)
def auto_few_shot(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--auto` leaves few-shot tuning out here unless a test is marked ``auto_few_shot``: the
    tiny sets of these tests are small enough to consider it, and tuning five folds would add
    seconds to each of the dozens of searches that test something else."""
    if request.node.get_closest_marker("auto_few_shot") is None:
        import bertclf.search.fewshot_trial

        monkeypatch.setattr(bertclf.search.fewshot_trial, "MAX_PER_CLASS", 0)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 3-layer, 32-dim random BertModel saved as an ordinary Hugging Face folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = _vocab()
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True)
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=TINY_LAYERS,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=TINY_MAX_POSITIONS,
    )
    torch.manual_seed(0)
    BertModel(config).eval().save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_st_model(tiny_model: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny model with sentence-transformers files declaring cls pooling, 16 tokens, Normalize."""
    folder = tmp_path_factory.mktemp("tiny-st") / "model"
    shutil.copytree(tiny_model, folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": TINY_HIDDEN, "pooling_mode_cls_token": True,
                    "pooling_mode_mean_tokens": False})
    )
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    return str(folder)


@pytest.fixture
def write(tmp_path: Path):
    """Write text or bytes to a file under tmp_path and return its path as str."""

    def _write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    return _write


@pytest.fixture
def run():
    """Invoke the bertclf CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    from bertclf.cli import main

    def _run(*args, stdin=None):
        return CliRunner().invoke(main, [str(a) for a in args], input=stdin)

    return _run


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in errors[0]


@contextmanager
def running(app):
    """A real uvicorn server for ``app`` on a free loopback port, stopped on exit; yields its URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()


# Three topics of eight short texts: what most unit tests train on.
SPORT = ["the team won the game", "a great game for the team", "they play a fast game", "the team lost",
         "win the game", "we play with the team", "a slow game was lost", "good team play"]
MONEY = ["the bank rate is up", "a loan from the bank", "money in the bank", "the loan rate",
         "my bank money", "rate of the loan was bad", "bank loan money", "the money rate"]
WATER = ["the river flood", "water in the city", "a flood of water", "the city river",
         "river water was slow", "flood in my city", "the water is long", "city flood water"]
TEXTS = SPORT + MONEY + WATER
LABELS = ["sport"] * 8 + ["money"] * 8 + ["water"] * 8


def labelled_csv(rows: list[tuple[str, str]]) -> str:
    """A CSV with a text and a label column, as a string."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.fixture
def train_csv(write):
    return write("train.csv", labelled_csv(list(zip(TEXTS * 2, LABELS * 2, strict=True))))


@pytest.fixture
def model_dir(run, tiny_model, train_csv, tmp_path):
    out = tmp_path / "model"
    result = run("train", train_csv, "--model", tiny_model, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def categories(write):
    return write("cats.yaml", "sport: [team, game]\nwater: [river, flood]\nmoney: [bank, loan]\n")


def every_command(path, model, categories, tiny, tmp_path):
    """Every command that reads texts, run on ``path``: (argv, what should happen)."""
    return {
        "embed": (["embed", path, "--out", tmp_path / "v.npy", "--model", tiny], "empty"),
        "predict": (["predict", model, path], "empty"),
        "evaluate": (["evaluate", model, path], "no labelled rows"),
        "report": (["report", model, path, "--out", tmp_path / "r.html"], "no labelled rows"),
        "cluster": (["cluster", path, "--out", tmp_path / "c.csv", "--model", tiny], "0 texts cannot"),
        "zero-shot": (["zero-shot", path, "--categories", categories, "--model", tiny], "empty"),
        "plot": (["plot", path, "--out", tmp_path / "p.png", "--model", tiny], "0 texts are too few"),
        "projector": (["projector", path, "--out", tmp_path / "proj", "--model", tiny], "empty"),
        "audit": (["audit", path, "--model", tiny], "no labelled rows"),
        "tokens": (["tokens", "--input", path, "--model", tiny], "has no rows"),
    }


