"""The clients people already run, as they are (issue 39): OpenAI's SDK and huggingface_hub's
InferenceClient with their defaults, curl and urllib, against a real uvicorn server on loopback.
Answers equal the offline runtime's and `bertclf embed`'s; errors raise each SDK's own
exception; docs/serve.md's client snippets run as written."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from bertclf import runtime
from bertclf.serve import create_app
from tests.conftest import running
from tests.runtime.test_model import fitted

openai = pytest.importorskip("openai")
hub = pytest.importorskip("huggingface_hub")

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["I was charged twice", "where is my parcel", "the river flooded the town"]
NAME = "tickets-model"  # as docs/serve.md names it, so its snippets run unchanged


@pytest.fixture(scope="module")
def folder(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("clients") / NAME
    fitted(tiny_model).save(path)
    return path


@pytest.fixture(scope="module")
def url(folder):
    with running(create_app([folder])) as address:
        yield address


def offline_vectors(folder: Path, texts: list[str]) -> np.ndarray:
    return runtime.load(folder).embed(texts)[0]


def test_openai_sdk_with_its_defaults_embeds_and_lists_models(url, folder):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    expected = offline_vectors(folder, TEXTS)
    as_base64 = client.embeddings.create(model=NAME, input=TEXTS)  # the SDK's default: base64
    np.testing.assert_allclose([d.embedding for d in as_base64.data], expected, atol=1e-6)
    assert [d.index for d in as_base64.data] == [0, 1, 2] and as_base64.usage.prompt_tokens > 3
    as_floats = client.embeddings.create(model=NAME, input=TEXTS[0], encoding_format="float", user="u1",
                                         dimensions=expected.shape[1])
    np.testing.assert_allclose(as_floats.data[0].embedding, expected[0], atol=1e-6)
    assert [m.id for m in client.models.list()] == [NAME]
    one = client.models.retrieve(NAME)
    assert (one.id, one.object, one.owned_by) == (NAME, "model", "bertclf") and one.created > 1.7e9


def test_openai_sdk_raises_its_own_exceptions(url, folder):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    create = client.embeddings.create
    refused = [
        (openai.NotFoundError, lambda: client.embeddings.create(model="nope", input="a"), "model_not_found"),
        (openai.NotFoundError, lambda: client.models.retrieve("nope"), "model_not_found"),
        (openai.BadRequestError, lambda: client.embeddings.create(model=NAME, input="a", dimensions=3),
         "invalid_dimensions"),
        (openai.BadRequestError, lambda: client.embeddings.create(model=NAME, input=[101, 2023]),
         "unsupported_input"),
        (openai.BadRequestError, lambda: client.embeddings.create(model=NAME, input=[]), "invalid_request"),
        (openai.BadRequestError, lambda: create(model=NAME, input="a", encoding_format="int8"),
         "invalid_encoding_format"),
    ]
    for kind, call, code in refused:
        with pytest.raises(kind) as raised:
            call()
        assert raised.value.code == code and raised.value.message
    with pytest.raises(openai.APIStatusError) as too_big:
        client.embeddings.create(model=NAME, input=["x" * 100_000] * 12)
    assert too_big.value.status_code == 413 and too_big.value.code == "request_too_large"
    guarded_app = create_app({NAME: runtime.load(folder)}, api_key="s3cret", max_queue_texts=1)
    with running(guarded_app) as guarded:
        wrong = openai.OpenAI(base_url=guarded + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.embeddings.create(model=NAME, input="a")
        right = openai.OpenAI(base_url=guarded + "/v1", api_key="s3cret", max_retries=0)
        with pytest.raises(openai.RateLimitError):  # two texts where one may wait
            right.embeddings.create(model=NAME, input=TEXTS[:2])
        assert len(right.embeddings.create(model=NAME, input=TEXTS[0]).data) == 1


def test_huggingface_inference_client_with_the_server_as_its_model(url, folder):
    client = hub.InferenceClient(model=url)
    vector = client.feature_extraction(TEXTS[0])
    expected = offline_vectors(folder, TEXTS[:1])
    np.testing.assert_allclose(vector, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)
    scores = client.text_classification(TEXTS[0])
    proba = runtime.load(folder).predict_proba(TEXTS[:1])[0]
    classes = [str(c) for c in runtime.load(folder).classes_]
    expected_scores = dict(zip(classes, proba, strict=True))
    assert {s.label: s.score for s in scores} == pytest.approx(expected_scores, abs=1e-6)
    assert len(client.text_classification(TEXTS[0], top_k=1)) == 1

    async def asynchronous():
        remote = hub.AsyncInferenceClient(model=url)
        return await remote.feature_extraction(TEXTS[1]), await remote.text_classification(TEXTS[1])

    vector, scores = asyncio.run(asynchronous())
    assert vector.shape == (1, expected.shape[1]) and scores[0].label in classes


def test_huggingface_errors_in_tei_shape(url, folder, tiny_model, tmp_path):
    client = hub.InferenceClient(model=url)
    with pytest.raises(hub.errors.HfHubHTTPError) as left:
        client.feature_extraction(TEXTS[0], truncation_direction="Left")
    assert left.value.response.status_code == 422
    assert left.value.response.json()["error_type"] == "validation"
    with pytest.raises(hub.errors.HfHubHTTPError) as too_big:
        client.feature_extraction("x" * 1_200_000)
    assert too_big.value.response.status_code == 413
    import httpx

    empty = httpx.post(url + "/", json={"inputs": []}, timeout=30)
    assert (empty.status_code, empty.json()["error_type"]) == (422, "empty")
    fitted(tiny_model).save(tmp_path / "other")
    with running(create_app([folder, tmp_path / "other"])) as several:
        with pytest.raises(hub.errors.HfHubHTTPError) as unnamed:
            hub.InferenceClient(model=several).text_classification(TEXTS[0])
        assert unnamed.value.response.status_code == 422
        assert "several models" in unnamed.value.response.json()["error"]
        info = json.loads(urllib.request.urlopen(f"{several}/info?model=other", timeout=30).read())
        assert info["model_id"] == "other" and "classifier" in info["model_type"]


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/embeddings", "/"])
def test_urllib_writing_a_huge_body_first_still_reads_the_413(url, path):
    body = json.dumps({"texts": ["x" * 1000] * 20_000, "input": "a", "inputs": "a"}).encode()  # 20 MB
    request = urllib.request.Request(url + path, data=body, headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    said = json.loads(refused.value.read())
    assert "over 1,048,576 bytes" in json.dumps(said)
    assert urllib.request.urlopen(url + "/health", timeout=30).status == 200  # and it keeps serving


def test_served_vectors_equal_offline_bertclf_embed(url, folder, tiny_model, run, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    made = run("embed", tmp_path / "in.txt", "--model", tiny_model, "--out", tmp_path / "v.npy", "--no-cache")
    assert made.exit_code == 0, made.output
    offline = np.load(tmp_path / "v.npy")
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    served = [d.embedding for d in client.embeddings.create(model=NAME, input=TEXTS).data]
    np.testing.assert_allclose(served, offline, atol=1e-6)
    tei = json.loads(urllib.request.urlopen(urllib.request.Request(
        url + "/embed", data=json.dumps({"inputs": TEXTS, "normalize": False}).encode(),
        headers={"Content-Type": "application/json"}), timeout=30).read())
    np.testing.assert_allclose(tei, offline, atol=1e-6)


def _section(text: str, heading: str) -> str:
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def test_the_client_snippets_of_docs_serve_md_run_as_written(url, capsys):
    clients = _section((ROOT / "docs" / "serve.md").read_text(), "## Clients, as they are")
    snippets = re.findall(r"```python\n(.*?)```", clients, re.S)
    assert len(snippets) == 2
    for code in snippets:
        exec(compile(code.replace("http://127.0.0.1:8000", url), "docs/serve.md", "exec"), {})
    printed = capsys.readouterr().out
    assert NAME in printed and "(1, " in printed
    commands = re.findall(r"^\$ (curl .*)$", clients, re.M)
    assert len(commands) == 3
    for command in commands:
        done = subprocess.run(shlex.split(command.replace("127.0.0.1:8000", url.split("//")[1])),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "error" not in json.loads(done.stdout), done.stdout
