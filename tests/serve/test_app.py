"""`bertclf serve`: the HTTP API over model folders, through FastAPI's test client and one real
uvicorn server on a free loopback port."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from bertclf import Embedder, TextClassifier, runtime
from tests.conftest import LABELS, TEXTS, assert_one_line_error, running

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from bertclf.serve import create_app  # noqa: E402


@pytest.fixture(scope="module")
def folders(tiny_model, tmp_path_factory):
    """A single-label model, a multi-label one, and one that reads pairs and a metadata column."""
    root = tmp_path_factory.mktemp("served")
    def model(**options):
        return TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False, **options)

    model().fit(TEXTS, LABELS).save(root / "topics")
    multi = [[label, "any"] if i % 3 else [label] for i, label in enumerate(LABELS)]
    model().fit(TEXTS, multi).save(root / "tags")
    table = pd.DataFrame({"text": TEXTS, "pair": TEXTS[::-1], "channel": ["web", "mail"] * 12})
    model(pair_col="pair", meta_cols=["channel"]).fit(table, LABELS).save(root / "pairs")
    return root


@pytest.fixture(scope="module")
def client(folders):
    return TestClient(create_app([folders / "topics", folders / "tags", folders / "pairs"]))


def test_health_ready_and_models(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "models": ["topics", "tags", "pairs"]}
    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert models["topics"]["labels"] == ["money", "sport", "water"]
    assert (models["topics"]["task"], models["tags"]["task"]) == ("single-label", "multi-label")
    assert models["pairs"]["inputs"] == ["text", "pair", "channel"]
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]


def test_predict_gives_what_the_runtime_gives(client, folders):
    texts = ["the team won the game", "water in the city", "my bank loan"]
    answer = client.post("/v1/predict", json={"model": "topics", "texts": texts}).json()
    expected = runtime.load(folders / "topics").predict_proba(texts)
    classes = ["money", "sport", "water"]
    for prediction, row in zip(answer["predictions"], expected, strict=True):
        scores = {s["label"]: s["score"] for s in prediction["scores"]}
        np.testing.assert_allclose([scores[c] for c in classes], row, atol=1e-9)
        assert prediction["label"] == classes[int(np.argmax(row))]
    tokens = runtime.load(folders / "topics").count_tokens(texts)[0]
    assert answer["usage"] == {"texts": 3, "tokens": tokens, "truncated": 0} and answer["model"] == "topics"
    assert tokens >= sum(len(t.split()) for t in texts) + 2 * len(texts)  # words, [CLS] and [SEP]
    top = client.post("/v1/predict", json={"model": "topics", "texts": ["the game"], "top_k": 1}).json()
    assert len(top["predictions"][0]["scores"]) == 1


def test_a_text_gets_the_same_answer_alone_or_among_others(client):
    text = "the bank raised the loan rate"
    alone = client.post("/v1/predict", json={"model": "topics", "texts": [text]}).json()["predictions"][0]
    crowd = [f"the river flood {i} " * (i % 7 + 1) for i in range(63)]
    among = client.post("/v1/predict", json={"model": "topics", "texts": [*crowd[:30], text, *crowd[30:]]})
    mixed = among.json()["predictions"][30]
    assert mixed["label"] == alone["label"]
    gaps = [abs(a["score"] - b["score"]) for a, b in zip(alone["scores"], mixed["scores"], strict=True)]
    assert max(gaps) <= 1e-6


def test_multi_label_pairs_and_metadata(client, folders):
    tags = client.post("/v1/predict", json={"model": "tags", "texts": ["the team won", "a flood"]}).json()
    assert all(isinstance(p["labels"], list) and p["label"] is None for p in tags["predictions"])
    body = {"model": "pairs", "texts": ["the team won"], "pairs": ["a game"],
            "metadata": [{"channel": "web"}]}
    answer = client.post("/v1/predict", json=body)
    assert answer.status_code == 200, answer.text
    expected = runtime.load(folders / "pairs").predict_proba(
        pd.DataFrame({"text": ["the team won"], "pair": ["a game"], "channel": ["web"]}))
    assert max(s["score"] for s in answer.json()["predictions"][0]["scores"]) == pytest.approx(expected.max())
    missing = client.post("/v1/predict", json={"model": "pairs", "texts": ["the team won"], "pairs": ["x"]})
    assert (missing.status_code, missing.json()["type"]) == (422, "missing_input")


@pytest.mark.parametrize(("body", "status", "kind"), [
    ({"model": "nope", "texts": ["a"]}, 422, "unknown_model"),
    ({"texts": ["a"]}, 422, "model_required"),  # three are served
    ({"model": "topics", "texts": []}, 422, "invalid_request"),
    ({"model": "topics", "texts": "a single string"}, 422, "invalid_request"),
    ({"model": "topics", "texts": [1, 2]}, 422, "invalid_request"),
    ({"model": "topics", "texts": ["a"], "top_k": 0}, 422, "invalid_request"),
    ({"model": "topics", "texts": ["a"] * 257}, 413, "too_many_texts"),
    ({"model": "topics", "texts": ["a", "  "]}, 422, "invalid_request"),  # blank: refused, not guessed
    ({"model": "pairs", "texts": ["a"], "pairs": [""], "metadata": [{"channel": "web"}]}, 422,
     "invalid_request"),
])
def test_bad_requests_get_a_status_and_a_type(client, body, status, kind):
    answer = client.post("/v1/predict", json=body)
    assert (answer.status_code, answer.json()["type"]) == (status, kind)
    assert answer.json()["error"]
    assert client.get("/health").status_code == 200  # and the service keeps serving


def test_an_api_key_guards_everything_but_health(folders):
    guarded = TestClient(create_app({"topics": runtime.load(folders / "topics")}, api_key="s3cret"))
    assert guarded.get("/health").status_code == 200 and guarded.get("/ready").status_code == 200
    refused = guarded.post("/v1/predict", json={"texts": ["a"]})
    assert (refused.status_code, refused.json()["type"]) == (401, "unauthorized")
    assert refused.headers["www-authenticate"] == "Bearer"
    assert guarded.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = guarded.post("/v1/predict", json={"texts": ["a"]}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["model"] == "topics"  # one model served: no name needed


def test_a_real_server_on_loopback(folders):
    import httpx

    with running(create_app([folders])) as base:
        assert httpx.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
        answer = httpx.post(f"{base}/v1/predict", json={"model": "topics", "texts": ["the team won"]},
                            timeout=10)
        assert answer.status_code == 200 and answer.json()["predictions"][0]["label"] in LABELS


def test_serve_refuses_a_broken_folder_before_opening_a_port(run, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    assert_one_line_error(run("serve", tmp_path / "broken", "--port", "1"), "config.json is not valid JSON")


def test_an_empty_key_file_is_one_error_line(run, folders, tmp_path):
    (tmp_path / "keys.txt").write_text("# no key yet\n\n", encoding="utf-8")
    assert_one_line_error(run("serve", folders / "topics", "--api-key-file", tmp_path / "keys.txt"),
                          "holds no API key")


def test_each_worker_runs_its_encoders_on_its_share_of_the_cores(run, folders, monkeypatch):
    import json
    import os

    import uvicorn

    from bertclf.serve.app import SETTINGS_VARIABLE, from_environment

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(app=app, **options))
    monkeypatch.setattr("bertclf.encode.rowwise.default_workers", lambda: 8)
    monkeypatch.setattr("signal.signal", lambda *args: None)  # the CLI's handlers stay out of pytest
    monkeypatch.setattr("gc.freeze", lambda: None)
    monkeypatch.setenv(SETTINGS_VARIABLE, "")  # restored when the test ends
    result = run("serve", folders / "topics", "--workers", "3", "--port", "1")
    assert result.exit_code == 0, result.output
    assert started["workers"] == 3 and "3 workers" in result.stderr
    assert json.loads(os.environ[SETTINGS_VARIABLE])["threads"] == 2  # 8 cores // 3 processes
    assert from_environment().state.models["topics"].encoder.threads == 2
    assert create_app([folders / "topics"]).state.models["topics"].encoder.threads is None  # every core


def test_an_idle_model_waits_for_company_only_when_told():
    import asyncio

    from bertclf.io.table import Table
    from bertclf.serve.batching import Batcher

    def merged(wait):
        calls = []

        def call(table):
            calls.append(len(table))
            return np.zeros((len(table), 1))

        async def main():
            batcher = Batcher(call, wait=wait, calls=1)

            async def later(delay, text):
                await asyncio.sleep(delay)
                return await batcher.submit(Table({"text": [text]}))

            await asyncio.gather(later(0, "a"), later(0.01, "b"), later(0.02, "c"))

        asyncio.run(main())
        return calls

    assert merged(0.2) == [3]  # --batch-wait-ms 200: the three requests share one call
    assert merged(0.0)[0] == 1  # no wait: the first request runs at once, alone


def test_while_a_call_is_in_the_model_the_next_gathers_as_many_texts():
    import asyncio

    from bertclf.io.table import Table
    from bertclf.serve.batching import Batcher

    def sizes(singles):
        """Sizes of the calls as they start: a first call of three texts held in the model while
        ``singles`` one-text requests arrive, then released."""
        started, release = [], threading.Event()

        def call(table):
            started.append(len(table))
            if len(started) == 1:
                release.wait(5)
            return np.zeros((len(table), 1))

        async def main():
            batcher = Batcher(call, calls=2)
            asked = [asyncio.ensure_future(batcher.submit(Table({"text": list("abc")})))]
            for text in "defg"[:singles]:
                await asyncio.sleep(0.05)
                asked.append(asyncio.ensure_future(batcher.submit(Table({"text": [text]}))))
            await asyncio.sleep(0.05)
            release.set()
            await asyncio.gather(*asked)

        asyncio.run(main())
        return started

    assert sizes(3) == [3, 3]  # not [3, 1, ...]: three texts waited, as many as the call in the model
    assert sizes(1) == [3, 1]  # fewer wait: they go when the first call's model work returns
    assert sizes(4)[:2] == [3, 3]


def test_an_oversized_body_is_refused_unread_and_metrics_count_requests(folders):
    app = create_app({"topics": runtime.load(folders / "topics")}, max_request_bytes=2_000)
    small = TestClient(app)
    big = {"texts": ["the team won the game " * 20] * 10}
    refused = small.post("/v1/predict", json=big)
    assert (refused.status_code, refused.json()["type"]) == (413, "request_too_large")

    def chunks():  # no Content-Length: the limit holds while the body streams
        for _ in range(100):
            yield b'{"texts": ["' + b"x" * 100

    streamed = small.post("/v1/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert small.post("/v1/predict", json={"texts": ["the team won"]}).status_code == 200
    exposition = small.get("/metrics").text
    assert 'bertclf_requests_total{endpoint="/v1/predict",status="200"} 1.0' in exposition
    assert 'bertclf_requests_total{endpoint="other",status="413"} 2.0' in exposition
    assert 'bertclf_texts_total{model="topics"} 1.0' in exposition
    assert "bertclf_inference_seconds_bucket" in exposition


def test_cors_is_off_unless_an_origin_is_given(folders):
    model = {"topics": runtime.load(folders / "topics")}
    asked = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    closed = TestClient(create_app(model)).options("/v1/predict", headers=asked)
    assert "access-control-allow-origin" not in closed.headers
    opened = TestClient(create_app(model, cors_origins=["https://app.example"])).options("/v1/predict",
                                                                                        headers=asked)
    assert opened.headers["access-control-allow-origin"] == "https://app.example"


def test_requests_that_arrive_together_share_a_model_call():
    import asyncio

    from bertclf.io.table import Table
    from bertclf.serve.batching import Batcher

    calls = []

    class Stub:
        def predict_proba(self, table):
            calls.append(len(table))
            if "bad" in table["text"]:
                raise ValueError("a bad row")
            return np.asarray([[len(t), 0.0] for t in table["text"]])

    async def main():
        batcher = Batcher(Stub().predict_proba, max_texts=4, calls=1)  # one call at a time: an order to check
        first = await batcher.submit(Table({"text": ["alone"]}))  # nobody waits with it
        tables = [Table({"text": [f"t{i}" * (i + 1)]}) for i in range(5)]
        together = await asyncio.gather(*(batcher.submit(t) for t in tables))
        mixed = await asyncio.gather(batcher.submit(Table({"text": ["ok"]})),
                                     batcher.submit(Table({"text": ["bad"]})), return_exceptions=True)
        return first, together, mixed

    first, together, mixed = asyncio.run(main())
    assert first.tolist() == [[5.0, 0.0]]
    assert [row[0][0] for row in together] == [2, 4, 6, 8, 10]  # each answer back to its request
    assert calls[:3] == [1, 4, 1]  # five queued texts: one call of four (the limit), then the fifth
    assert mixed[0].tolist() == [[2.0, 0.0]] and isinstance(mixed[1], ValueError)  # the bad one alone fails


def test_two_model_calls_run_at_once():
    import asyncio

    from bertclf.io.table import Table
    from bertclf.serve.batching import Batcher

    inside = threading.Barrier(2, timeout=5)  # passes only when two calls are inside at once

    def call(table):
        inside.wait()
        return np.zeros((len(table), 1))

    async def main():
        batcher = Batcher(call, max_texts=1)  # one text a call: two requests, two calls
        return await asyncio.gather(*(batcher.submit(Table({"text": [t]})) for t in "ab"))

    assert [len(rows) for rows in asyncio.run(main())] == [1, 1]


def test_calls_are_bounded_by_tokens_and_each_request_is_finished_with_its_options():
    import asyncio

    from bertclf.io.table import Table
    from bertclf.serve.batching import Batcher

    calls = []

    def call(table):
        calls.append(list(table["text"]))
        return np.asarray([[float(len(t))] for t in table["text"]])

    async def main():
        batcher = Batcher(call, max_texts=10, max_tokens=8, calls=1,
                          finish=lambda table, rows, options: (rows[:, 0].tolist(), options))
        return await asyncio.gather(*(batcher.submit(Table({"text": [t]}), 5, f"opt-{t}")
                                      for t in ("a", "bb", "ccc")))

    answers = asyncio.run(main())
    assert calls == [["a"], ["bb"], ["ccc"]]  # 5 + 5 tokens would pass the bound of 8
    assert answers == [([1.0], "opt-a"), ([2.0], "opt-bb"), ([3.0], "opt-ccc")]


def test_concurrent_clients_get_offline_answers(folders):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    texts = [f"{w} the game {i}" for i, w in enumerate(["bank", "flood", "team", "loan"] * 12)]
    with running(create_app([folders / "topics"])) as base, httpx.Client(base_url=base, timeout=20) as http, \
            ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda t: http.post("/v1/predict", json={"texts": [t]}).json(), texts))
        calls = http.get("/metrics").text
    offline = runtime.load(folders / "topics").predict_proba(texts)
    classes = ["money", "sport", "water"]
    for answer, row in zip(answers, offline, strict=True):
        scores = {s["label"]: s["score"] for s in answer["predictions"][0]["scores"]}
        np.testing.assert_allclose([scores[c] for c in classes], row, atol=1e-6)
    assert 'bertclf_call_texts_count{model="topics"}' in calls


def test_embedding_endpoints_give_the_runtime_vectors(client, folders):
    texts = ["the team won the game", "water in the city"]
    expected, tokens = runtime.load(folders / "topics").embed(texts)
    own = client.post("/v1/embed", json={"model": "topics", "texts": texts}).json()
    np.testing.assert_allclose(own["embeddings"], expected, atol=1e-6)
    assert own["dim"] == expected.shape[1] and tokens > 4
    assert own["usage"] == {"texts": 2, "tokens": tokens, "truncated": 0}
    openai = client.post("/v1/embeddings", json={"model": "topics", "input": texts[0]}).json()
    assert openai["object"] == "list" and openai["data"][0]["object"] == "embedding"
    np.testing.assert_allclose(openai["data"][0]["embedding"], expected[0], atol=1e-6)
    assert openai["usage"]["prompt_tokens"] == runtime.load(folders / "topics").embed(texts[:1])[1]
    bad = client.post("/v1/embeddings", json={"input": [], "model": "topics"})  # OpenAI's shape and status
    error = bad.json()["error"]
    assert (bad.status_code, error["code"], error["param"]) == (400, "invalid_request", "input")


def test_tei_shaped_endpoints(folders):
    tei = TestClient(create_app([folders / "topics"]))
    one = tei.post("/predict", json={"inputs": "the team won"}).json()
    assert [s["label"] for s in one][0] in LABELS and len(one) == 3
    assert one == sorted(one, key=lambda s: -s["score"])
    two = tei.post("/predict", json={"inputs": ["the team won", "a flood"]}).json()  # two texts, not a pair
    assert len(two) == 2 and all(len(row) == 3 for row in two)
    vectors = tei.post("/embed", json={"inputs": ["the team won", "a flood"]}).json()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    raw = tei.post("/predict", json={"inputs": "the team won", "raw_scores": True}).json()  # log-probability
    assert [s["label"] for s in raw] == [s["label"] for s in one]
    np.testing.assert_allclose([np.exp(s["score"]) for s in raw], [s["score"] for s in one], rtol=1e-9)
    pairs = TestClient(create_app([folders / "pairs"]))
    paired = pairs.post("/predict", json={"inputs": ["the team won", "a game"]})  # TEI: one pair
    assert paired.status_code == 422 and paired.json()["error_type"] == "validation"  # it also reads metadata
    assert "metadata" in paired.json()["error"]


class Slow:
    """A stand-in model whose calls wait for an event (or sleep on 'slow'): queues fill up."""

    classes_ = np.asarray(["no", "yes"])
    task, thresholds_, text_col, pair_col = "single-label", None, "text", None
    features, config = "embedding", {}

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()

    def input_columns(self):
        return ["text"]

    def load_encoder(self):
        return None

    def usage(self, table):
        return 0, 0

    def predict_proba(self, table):
        self.release.wait(10)
        if "slow" in table["text"]:
            time.sleep(1.0)
        return np.tile([0.25, 0.75], (len(table), 1))


def test_a_full_queue_answers_429_and_a_slow_answer_503():
    import asyncio

    from bertclf.io.table import Table
    from bertclf.serve.batching import Batcher, QueueFull

    model = Slow()

    async def main():
        batcher = Batcher(model.predict_proba, max_texts=8, max_queue=2)
        model.release.clear()
        busy = asyncio.ensure_future(batcher.submit(Table({"text": ["a"]})))  # the model is busy with it
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(batcher.submit(Table({"text": [t]}))) for t in ("b", "c")]
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await batcher.submit(Table({"text": ["d"]}))
        model.release.set()
        return [len(r) for r in await asyncio.gather(busy, *queued)]

    assert asyncio.run(main()) == [1, 1, 1]
    client = TestClient(create_app({"stub": model}, timeout=0.3))
    late = client.post("/v1/predict", json={"texts": ["slow"]})
    assert (late.status_code, late.json()["type"], late.headers["retry-after"]) == (503, "timeout", "1")
    assert client.post("/v1/predict", json={"texts": ["quick"]}).status_code == 200


def test_one_log_line_per_request_plain_or_json(client, caplog):
    import json
    import logging

    from bertclf.serve.logs import JsonFormatter

    with caplog.at_level(logging.INFO, logger="bertclf.serve"):
        client.post("/v1/predict", json={"model": "topics", "texts": ["the team won"]})
        client.post("/v1/predict", json={"model": "nope", "texts": ["a"]})
    records = [r for r in caplog.records if r.name == "bertclf.serve"]
    assert [r.getMessage().split()[:3] for r in records] == [["POST", "/v1/predict", "200"],
                                                             ["POST", "/v1/predict", "422"]]
    line = json.loads(JsonFormatter().format(records[1]))
    assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/predict", 422) and line["ms"] >= 0


def test_raw_scores_are_log_odds_or_log_probabilities(client):
    texts = ["the team won the game"]
    for name in ("topics", "tags"):
        plain = client.post("/v1/predict", json={"model": name, "texts": texts}).json()["predictions"][0]
        raw = client.post("/v1/predict", json={"model": name, "texts": texts, "raw_scores": True}).json()
        raw = raw["predictions"][0]
        assert (raw["label"], raw["labels"]) == (plain["label"], plain["labels"])
        p = np.asarray([s["score"] for s in plain["scores"]])
        expected = np.log(p / (1 - p)) if name == "tags" else np.log(p)
        np.testing.assert_allclose([s["score"] for s in raw["scores"]], expected, rtol=1e-7)


def test_usage_counts_tokens_and_texts_over_the_budget(client, folders):
    model = runtime.load(folders / "topics")
    budget = model.encoder.settings().max_length
    texts = ["short", "word " * (budget + 20)]
    usage = client.post("/v1/predict", json={"model": "topics", "texts": texts}).json()["usage"]
    assert usage == {"texts": 2, "tokens": 3 + budget, "truncated": 1}  # [CLS] short [SEP], a full window
    embedded = client.post("/v1/embed", json={"model": "topics", "texts": texts}).json()["usage"]
    assert embedded == usage
    assert 'bertclf_tokens_total{model="topics"}' in client.get("/metrics").text


def test_a_token_bound_counts_each_request_before_it_queues(folders):
    bounded = TestClient(create_app([folders / "topics"], max_batch_tokens=16))
    texts = ["the team won the game", "water in the city"]
    answer = bounded.post("/v1/predict", json={"texts": texts}).json()
    offline = runtime.load(folders / "topics")
    assert answer["usage"]["tokens"] == offline.count_tokens(texts)[0]
    assert [p["label"] for p in answer["predictions"]] == list(offline.predict(texts))


def test_a_slim_folder_is_served_through_the_training_stack_with_its_usage(tiny_model, tmp_path):
    model = TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False).fit(TEXTS, LABELS)
    model.save(tmp_path / "slim", self_contained=False)
    slim = TestClient(create_app([tmp_path / "slim"]))
    texts = ["the team won the game", "water " * 80]
    answer = slim.post("/v1/predict", json={"texts": texts}).json()
    loaded = TextClassifier.load(tmp_path / "slim")
    tokens, cut = loaded.count_tokens(texts)
    assert answer["usage"] == {"texts": 2, "tokens": tokens, "truncated": cut} and cut == 1
    embedded = slim.post("/v1/embed", json={"texts": texts[:1]}).json()
    expected, counted = loaded.embed(texts[:1])
    np.testing.assert_allclose(embedded["embeddings"], expected, atol=1e-6)
    assert embedded["usage"]["tokens"] == counted > 2


def test_predict_explains_on_request_within_its_own_limit(client, folders):
    texts = ["the team won the game", "a loan from the bank"]
    body = client.post("/v1/predict", json={"model": "topics", "texts": texts, "explain": True,
                                            "explain_k": 2}).json()
    expected = runtime.Model(folders / "topics").explain(texts, k=2)
    for prediction, found in zip(body["predictions"], expected, strict=True):
        assert prediction["explanation"] == [e.to_json() for e in found]
        assert prediction["explanation"][0]["label"] == prediction["label"]
    plain = client.post("/v1/predict", json={"model": "topics", "texts": texts}).json()
    assert "explanation" not in plain["predictions"][0]
    assert [p["scores"] for p in plain["predictions"]] == [p["scores"] for p in body["predictions"]]
    tags = client.post("/v1/predict", json={"model": "tags", "texts": texts, "explain": True}).json()
    assert all({e["label"] for e in p["explanation"]} <= set(p["labels"] or [p["scores"][0]["label"]])
               for p in tags["predictions"])
    fast = client.post("/v1/predict", json={"model": "topics", "texts": texts, "explain": True,
                                            "explain_method": "tokens"}).json()
    assert {e["method"] for p in fast["predictions"] for e in p["explanation"]} == {"tokens"}
    odd = client.post("/v1/predict", json={"model": "topics", "texts": texts, "explain": True,
                                           "explain_method": "shap"})
    assert odd.status_code == 422 and "explain_method" in odd.json()["error"]
    many = client.post("/v1/predict", json={"model": "topics", "texts": ["the bank"] * 65, "explain": True})
    assert many.status_code == 413 and many.json()["type"] == "too_many_texts"
    body = {"model": "pairs", "texts": ["the team won"], "pairs": ["the bank"],
            "metadata": [{"channel": "web"}], "explain": True, "explain_k": 20}
    meta = client.post("/v1/predict", json=body).json()
    sides = {w["side"] for e in meta["predictions"][0]["explanation"] for w in e["for"] + e["against"]}
    assert {"text", "pair"} <= sides <= {"text", "pair", "metadata"}  # each side, and the metadata whole
