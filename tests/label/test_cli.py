"""`bertclf label` as a user runs it: a real server process (killed with SIGKILL and restarted
with nothing acknowledged lost), `label status`, `label export`, `train DB`, and bad input."""

import json
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest

from bertclf.label.store import LabelStore
from tests.conftest import LABELS, TEXTS, assert_one_line_error

TRUTH = dict(zip(TEXTS, LABELS, strict=True))
ORDER = ["sport", "money", "water"]


@pytest.fixture
def texts_file(write):
    return write("posts.txt", "\n".join(TEXTS) + "\n")


@contextmanager
def labelling(*args):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "bertclf", "label", *map(str, args), "--port", str(port), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                httpx.get(f"{url}/api/session", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the labelling server did not start"
                time.sleep(0.2)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


def answer_some(url, n, annotator="ann"):
    shown = httpx.post(f"{url}/api/next", json={"annotator": annotator}).json()
    kept = []
    for _ in range(n):
        reply = httpx.post(f"{url}/api/answer", json={"annotator": annotator, "text_id": shown["text_id"],
                                                       "labels": [TRUTH[shown["text"]]]}, timeout=10)
        assert reply.status_code == 200, reply.text
        kept.append(reply.json()["kept"])
        shown = reply.json()["next"]
    return kept


def test_sigkill_between_answers_loses_nothing_acknowledged(texts_file, tiny_model, tmp_path):
    db = tmp_path / "posts.labels.db"
    args = (texts_file, "--labels", "sport,money,water", "--model", tiny_model)
    with labelling(*args) as (process, url):
        kept = answer_some(url, 7)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert sorted(LabelStore.open(db).answered()) == sorted(kept)
    with labelling(*args) as (_, url):  # the same database, found beside TEXTS: it resumes
        status = httpx.get(f"{url}/api/status").json()
        assert status["labelled"] == 7
        more = answer_some(url, 5)
        assert not set(more) & set(kept)  # nothing asked twice


def test_status_export_and_train_read_the_database(run, texts_file, tiny_model, tmp_path):
    db = tmp_path / "posts.labels.db"
    store, _ = LabelStore.create_or_open(db, TEXTS, ["sport", "money", "water"], model=tiny_model)
    for text_id in store.lease("ann", store.ids, len(store.ids)):
        text = store.texts([text_id])[text_id]
        store.answer(text_id, [TRUTH[text]], "ann")
    status = run("label", "status", db, "--json")
    assert status.exit_code == 0, status.output
    figures = json.loads(status.stdout)
    assert figures["labelled"] == 24 and figures["counts"] == {"sport": 8, "money": 8, "water": 8}
    assert figures["curve"][-1]["labels"] == 24 and figures["estimate"]["metric"] == "accuracy"
    out = tmp_path / "labels.csv"
    exported = run("label", "export", db, "--out", out)
    assert exported.exit_code == 0, exported.output
    lines = out.read_text().splitlines()
    assert lines[0] == "text,label,annotator,at" and len(lines) == 25
    trained = run("train", db, "--model", tiny_model, "--out", tmp_path / "m", "--json")
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["labels"] == ["money", "sport", "water"]
    tuned = run("train", db, "--few-shot", "--model", tiny_model, "--out", tmp_path / "fs", "--json")
    assert tuned.exit_code == 0, tuned.output  # the model docs/label.md recommends after labelling
    assert json.loads((tmp_path / "fs" / "config.json").read_text())["approach"] == "few-shot"


def test_label_studio_tasks_out_and_answers_back_in(run, tiny_model, tmp_path):
    db = tmp_path / "a.db"
    store, _ = LabelStore.create_or_open(db, TEXTS, ["sport", "money", "water"], model=tiny_model)
    for text_id in store.lease("ann", store.ids, 12):
        store.answer(text_id, [TRUTH[store.texts([text_id])[text_id]]], "ann")
    exported = run("label", "export", db, "--out", tmp_path / "tasks.json")
    assert exported.exit_code == 0, exported.output
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert len(tasks) == 24 and sum("annotations" in t for t in tasks) == 12
    assert all(t["predictions"][0]["result"][0]["value"]["choices"][0] in ORDER for t in tasks)
    for task in tasks:  # as Label Studio exports them: who answered, and what
        for annotation in task.get("annotations", []):
            annotation["completed_by"] = 7
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    LabelStore.create_or_open(tmp_path / "b.db", TEXTS, ORDER)[0].close()
    imported = run("label", "import", tmp_path / "b.db", tmp_path / "export.json", "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"imported": 12, "unchanged": 0, "unlabelled": 12}
    again = LabelStore.open(tmp_path / "b.db")
    assert len(again.answered()) == 12 and {r["annotator"] for r in again.history()} == {"label-studio:7"}
    tasks[0]["annotations"] = [{"result": [{"type": "choices", "value": {"choices": ["cats"]}}]}]
    (tmp_path / "bad.json").write_text(json.dumps(tasks))
    assert_one_line_error(run("label", "import", tmp_path / "b.db", tmp_path / "bad.json"), "label 'cats'")


def test_bad_input_is_one_line(run, texts_file, write, tmp_path):
    assert_one_line_error(run("label", texts_file, "--labels", "sport,sport,money"), "more than once")
    assert_one_line_error(run("label", texts_file, "--labels", "sport"), "at least two labels")
    cats = write("cats.yaml", "sport: [team]\ncats: [meow]\n")
    assert_one_line_error(run("label", texts_file, "--labels", "sport,money", "--categories", cats),
                          "--categories names cats")
    assert_one_line_error(run("label", "status", tmp_path / "none.db"), "no such file")
    junk = write("junk.db", "text\nnot a database\n")
    assert_one_line_error(run("label", "status", junk), "not a labelling database")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_one_line_error(run("label", texts_file, "--labels", "a,b", "--port", port),
                              "address already in use")


@pytest.mark.parametrize("command", ["start", "status", "export", "import"])
def test_every_label_command_has_help_with_examples(run, command):
    result = run("label", command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.output and "bertclf label" in result.output
