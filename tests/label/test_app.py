"""The labelling API through FastAPI's test client: the loop from no labels to a model, undo,
leases between two people, typed errors, and the key."""

import time

import pytest
from fastapi.testclient import TestClient

from bertclf import Embedder
from bertclf.label.app import create_label_app
from bertclf.label.session import start_session
from tests.conftest import LABELS, TEXTS

TRUTH = dict(zip(TEXTS, LABELS, strict=True))
POOL = TEXTS + [f"{t} again" for t in TEXTS]


def truth(text):
    return TRUTH[text.removesuffix(" again")]


@pytest.fixture
def session(tiny_model, tmp_path):
    store, learner, _ = start_session(POOL, ["sport", "money", "water"], tmp_path / "t.db",
                                      Embedder(tiny_model, progress=False))
    yield store, learner, TestClient(create_label_app(store, learner))
    learner.stop()
    store.close()


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background refit did not come"
        time.sleep(0.05)


def test_from_no_labels_to_a_model_that_suggests_and_estimates(session):
    store, learner, client = session
    shown = client.post("/api/next", json={"annotator": "ann"}).json()
    assert shown["suggestion"] is None  # no model yet: the cold start covers the pool
    seen = set()
    for _ in range(20):
        seen.add(truth(shown["text"]))
        reply = client.post("/api/answer", json={"annotator": "ann", "text_id": shown["text_id"],
                                                  "labels": [truth(shown["text"])]})
        assert reply.status_code == 200, reply.text
        shown = reply.json()["next"]
    assert seen == {"sport", "money", "water"}  # every class seen early
    wait_for(lambda: learner.snapshot.labelled == 20)
    status = client.get("/api/status").json()
    assert status["labelled"] == 20 and sum(status["counts"].values()) == 20
    assert status["estimate"]["labels"] == 20 and status["estimate"]["low"] <= status["estimate"]["score"]
    assert status["curve"] and status["curve"][-1]["labels"] == 20
    assert status["tuning"] == {"running": False, "in_use": False}  # not before tuning.TUNE_FROM answers
    shown = client.post("/api/next", json={"annotator": "ann"}).json()
    assert set(shown["suggestion"]) == {"sport", "money", "water"} and len(shown["suggested"]) == 1
    assert shown["text_id"] in learner.snapshot.queue  # asked because the model is unsure of it


def test_undo_gives_the_text_back_and_skip_moves_on(session):
    store, _, client = session
    first = client.post("/api/next", json={"annotator": "ann"}).json()
    after = client.post("/api/answer", json={"annotator": "ann", "text_id": first["text_id"],
                                              "labels": ["sport"]}).json()["next"]
    undone = client.post("/api/undo", json={"annotator": "ann"}).json()
    assert undone["undone"] == first["text_id"] and undone["next"]["text_id"] == first["text_id"]
    assert store.answered() == {}
    client.post("/api/answer", json={"annotator": "ann", "text_id": after["text_id"], "skipped": True})
    assert store.skipped() == {after["text_id"]}


def test_two_people_get_different_texts_and_typed_errors(session):
    _, _, client = session
    ann = client.post("/api/next", json={"annotator": "ann"}).json()
    bob = client.post("/api/next", json={"annotator": "bob"}).json()
    assert ann["text_id"] != bob["text_id"]
    held = client.post("/api/answer", json={"annotator": "bob", "text_id": ann["text_id"],
                                            "labels": ["sport"]})
    assert held.status_code == 409 and held.json()["error"]["type"] == "lease_held"
    unknown = client.post("/api/answer", json={"annotator": "ann", "text_id": ann["text_id"],
                                               "labels": ["cats"]})
    assert unknown.status_code == 400 and unknown.json()["error"]["type"] == "unknown_label"
    assert client.post("/api/next", json={}).status_code == 422


def test_an_api_key_guards_the_api_but_not_the_page(tiny_model, tmp_path):
    store, learner, _ = start_session(POOL, ["sport", "money", "water"], tmp_path / "k.db",
                                      Embedder(tiny_model, progress=False))
    client = TestClient(create_label_app(store, learner, api_key="s3cret"))
    try:
        assert client.get("/").status_code == 200 and "bertclf label" in client.get("/").text
        refused = client.get("/api/session")
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "unauthorized"
        assert client.get("/api/session", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    finally:
        learner.stop()


def test_two_clients_labelling_at_once_never_answer_the_same_text(session):
    import threading

    store, _, client = session
    answered = {"ann": [], "bob": []}
    errors = []

    def label(who):
        shown = client.post("/api/next", json={"annotator": who}).json()
        while not shown["done"] and len(answered[who]) < 20:
            reply = client.post("/api/answer", json={"annotator": who, "text_id": shown["text_id"],
                                                      "labels": [truth(shown["text"])]})
            if reply.status_code != 200:
                errors.append(reply.text)
                return
            answered[who].append(shown["text_id"])
            shown = reply.json()["next"]

    threads = [threading.Thread(target=label, args=(who,)) for who in answered]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert not set(answered["ann"]) & set(answered["bob"])  # no text leased to both
    assert len(store.answered()) == len(answered["ann"]) + len(answered["bob"]) == 40  # none lost
    assert store.disagreements() == []
