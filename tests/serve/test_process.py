"""`bertclf serve` as a user runs it: a separate process on a free loopback port, under load
(10,000 requests from 32 clients), stopped by SIGTERM while requests are in flight, with several
worker processes and with a file of API keys. Bounded in count and time; every server is
stopped by the test that started it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager

import httpx
import numpy as np
import pytest

from benchmarks.http_load import post_many
from bertclf import Embedder, TextClassifier, runtime
from tests.conftest import LABELS, TEXTS

CLIENTS = 32
WORDS = "the team won game water city bank loan flood match river money goal rain".split()


@pytest.fixture(scope="module")
def folder(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("process") / "topics"
    TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False).fit(TEXTS, LABELS).save(path)
    return path


@contextmanager
def serving(*args, ready_within=60.0):
    """``bertclf serve ARGS`` on a free loopback port; yields (process, url, log) where ``log()``
    reads its stderr so far (kept in a file: a pipe nobody reads would stall the server). A
    server still running at the end is killed, so no test leaves one behind."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "bertclf", "serve", *map(str, args), "--port", str(port), "--log-json"]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})

        def log() -> str:
            stderr.seek(0)
            return stderr.read()

        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_within
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    assert process.poll() is None, log()
                    time.sleep(0.1)
            else:
                pytest.fail(f"the server did not become ready: {log()}")
            yield process, url, log
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _pool(size: int = 512) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, rng.integers(3, 41))) for _ in range(size)]


POOL = _pool()  # distinct texts of 3 to 40 words, some over the tiny model's 64 tokens


def rows_of(i: int) -> list[int]:
    """Request i's texts, as rows of POOL: 1 to 8 of them (mixed sizes)."""
    return [(i * 7 + k * 13) % len(POOL) for k in range(1 + i % 8)]


def texts_of(i: int) -> list[str]:
    return [POOL[row] for row in rows_of(i)]


def load(url: str, count: int, clients: int = CLIENTS, stop_on_error: bool = False):
    """``count`` predict requests (request i holds ``texts_of(i)``) from ``clients`` keep-alive
    connections."""
    bodies = ((i, json.dumps({"texts": texts_of(i)}).encode()) for i in range(count))
    return post_many(url, "/v1/predict", bodies, clients, stop_on_error=stop_on_error)


def assert_offline_answers(folder, answers) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # texts over 64 tokens: cut, as the server cuts them
        expected = runtime.load(folder, progress=False).predict_proba(POOL)
    classes = ["money", "sport", "water"]
    for i, response in answers.items():
        assert response.status == 200, response.body
        got = [[{s["label"]: s["score"] for s in p["scores"]}[c] for c in classes]
               for p in response.json()["predictions"]]
        np.testing.assert_allclose(got, expected[rows_of(i)], atol=1e-6)


def test_ten_thousand_requests_from_32_clients_all_get_the_offline_answer(folder):
    with serving(folder, "--max-batch-texts", 64) as (process, url, log):
        result = asyncio.run(load(url, 10_000))
        calls = httpx.get(url + "/metrics").text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert result.errors == [] and len(result.answers) == 10_000
    assert_offline_answers(folder, result.answers)
    count = 'bertclf_call_texts_count{model="topics"}'
    calls = next(line for line in calls.splitlines() if line.startswith(count))
    assert float(calls.split()[-1]) < 10_000, f"no two requests shared a model call ({result.seconds:.0f} s)"


def test_sigterm_finishes_the_requests_in_flight_and_exits_0(folder):
    """SIGTERM while 32 clients send: every request the server took is answered (its log line
    count equals the answers received), the rest are refused at the connection, and it exits 0."""
    with serving(folder, "--timeout", 10) as (process, url, log):

        async def main():
            running = asyncio.ensure_future(load(url, 100_000, stop_on_error=True))
            await asyncio.sleep(1.5)
            process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            return await asyncio.wait_for(running, 60), stopped

        result, stopped = asyncio.run(main())
        assert process.wait(timeout=30) == 0
        log = log()
    served = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    predicted = [line for line in served if line["path"] == "/v1/predict"]
    assert {line["status"] for line in predicted} == {200}
    assert len(predicted) == len(result.answers)  # nothing the server answered was lost on the way
    assert all(answer.status == 200 for answer in result.answers.values())
    assert set(result.errors) <= {"connect", "closed"}  # refused, never "cut" inside an answer
    assert any(a.finished >= stopped for a in result.answers.values()), "no request was in flight at SIGTERM"
    assert "timeout graceful shutdown exceeded" not in log
    assert_offline_answers(folder, dict(list(result.answers.items())[:200]))


def test_workers_and_a_file_of_api_keys(folder, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("# one key a line\nfirst-key\nsecond-key  # the new one\n", encoding="utf-8")
    with serving(folder, "--workers", 2, "--api-key-file", keys) as (process, url, log):
        assert httpx.get(url + "/v1/models").status_code == 401
        for key in ("first-key", "second-key"):
            answer = httpx.post(url + "/v1/predict", json={"texts": ["the team won"]},
                                headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200 and answer.json()["predictions"][0]["label"] in LABELS
        assert httpx.get(url + "/health").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        log = log()
    assert "API key required, 2 workers" in log
    pids = {json.loads(line)["pid"] for line in log.splitlines() if line.startswith("{")}
    assert pids and process.pid not in pids  # the workers answered, not the process that started them


def test_root_path_tells_the_docs_where_the_schema_is(folder):
    with serving(folder, "--root-path", "/classify") as (process, url, log):
        docs = httpx.get(url + "/docs").text
        assert "/classify/openapi.json" in docs and "/classify/static-offline-docs/" in docs
        assert httpx.get(url + "/v1/models").json()["data"][0]["id"] == "topics"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
