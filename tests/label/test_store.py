"""The labelling database: answers kept before the reply, leases, undo, disagreements, and the
checks on what a database was made for."""

import sqlite3

import pytest

from bertclf.errors import InputError, SpecError
from bertclf.io.label_db import read_labelled_db
from bertclf.label.store import LEASE_SECONDS, LabelStore, LeaseError, check_labels

TEXTS = ["the team won", "a loan from the bank", "the river flood", "the bank rate", "a good game"]
LABELS = ["sport", "money", "water"]


@pytest.fixture
def store(tmp_path):
    made, gone = LabelStore.create_or_open(tmp_path / "t.db", TEXTS, LABELS)
    assert gone == 0 and len(made.ids) == 5
    yield made
    made.close()


@pytest.mark.parametrize(("labels", "fragment"), [
    (["sport", "sport", "money"], "lists sport more than once"), (["sport"], "at least two labels"),
    (["sport", " "], "empty label name")])
def test_a_bad_label_list_is_refused(labels, fragment):
    with pytest.raises(SpecError, match=fragment):
        check_labels(labels)


def test_answers_survive_a_reopen_and_undo_keeps_the_history(store, tmp_path):
    a, b = store.lease("ann", store.ids, 2)
    store.answer(a, ["sport"], "ann")
    store.answer(b, ["money"], "ann")
    assert store.undo("ann") == b
    again = LabelStore.open(tmp_path / "t.db")  # another process's view: every answer committed
    assert again.answered() == {a: ["sport"]}
    assert [row["undone"] for row in again.history()] == [False, True]
    assert again.counts() == {"sport": 1, "money": 0, "water": 0}
    texts, labels = read_labelled_db(tmp_path / "t.db")
    assert texts == [TEXTS[0]] and labels == ["sport"]


def test_two_annotators_never_hold_the_same_text(store):
    first = store.lease("ann", store.ids, 3, now=0)
    second = store.lease("bob", store.ids, 3, now=1)
    assert not set(first) & set(second) and len(first) + len(second) == 5
    assert store.lease("ann", store.ids, 3, now=2) == first  # her own leases first, not new ones
    with pytest.raises(LeaseError, match="being labelled by ann"):
        store.answer(first[0], ["sport"], "bob", now=3)
    later = store.lease("bob", store.ids, 5, now=LEASE_SECONDS + 5)  # ann's leases expired
    assert set(first) <= set(later)


def test_a_late_answer_after_an_expired_lease_is_kept_as_a_disagreement(store):
    text = store.lease("ann", store.ids, 1, now=0)[0]
    assert store.lease("bob", store.ids, 5, now=LEASE_SECONDS + 1)[0] == text
    store.answer(text, ["money"], "bob", now=LEASE_SECONDS + 2)
    store.answer(text, ["sport"], "ann", now=LEASE_SECONDS + 3)  # ann finished after all
    found = store.disagreements()
    assert len(found) == 1 and {a["annotator"] for a in found[0]["answers"]} == {"ann", "bob"}
    assert store.answered()[text] == ["sport"]  # the latest answer is the text's label


def test_an_answer_names_known_labels_one_at_a_time(store):
    text = store.ids[0]
    with pytest.raises(InputError, match="unknown label 'cats'"):
        store.answer(text, ["cats"], "ann")
    with pytest.raises(InputError, match="one label a text"):
        store.answer(text, ["sport", "money"], "ann")
    with pytest.raises(InputError, match="needs a label"):
        store.answer(text, [], "ann")
    store.answer(text, [], "ann", skipped=True)
    assert store.skipped() == {text} and store.answered() == {}


def test_a_database_for_other_labels_or_changed_texts_is_named(store, tmp_path):
    store.answer(store.ids[2], ["water"], "ann")
    with pytest.raises(InputError, match="made for the labels sport,money,water.*--db NEW.db"):
        LabelStore.create_or_open(tmp_path / "t.db", TEXTS, ["sport", "money"])
    with pytest.raises(InputError, match="one label a text"):
        LabelStore.create_or_open(tmp_path / "t.db", TEXTS, LABELS, multi_label=True)
    changed = [t for t in TEXTS if t != "the river flood"] + ["a new text"]
    reopened, gone = LabelStore.create_or_open(tmp_path / "t.db", changed, LABELS)
    assert gone == 1 and len(reopened.ids) == 5  # the answered text is no longer in the pool
    with pytest.raises(InputError, match="made for other texts"):
        LabelStore.create_or_open(tmp_path / "t.db", ["something else entirely"], LABELS)


def test_not_a_database_or_a_read_only_one_is_one_clear_error(tmp_path, store):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(InputError, match="not a labelling database"):
        LabelStore.open(junk)
    with pytest.raises(InputError, match="no such labelling database"):
        LabelStore.open(tmp_path / "missing.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.commit()
    with pytest.raises(InputError, match="not a labelling database made by bertclf label"):
        LabelStore.open(other)
    locker = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    store._conn.execute("PRAGMA busy_timeout = 100")
    with pytest.raises(InputError, match="locked or read-only"):
        store.answer(store.ids[0], ["sport"], "ann")
    locker.execute("ROLLBACK")
