"""The labelling database of `bertclf label`: one SQLite file (WAL mode) that keeps the texts, the
label set and every answer, so that `train DB`, `label export` and `label status` read what the
page wrote, and a second `label` run resumes it.

Tables: ``meta`` (key/value: ``labels`` as JSON, ``multi_label``, ``source``, ``format``, the
encoder as ``model``),
``texts`` (``id``, ``hash`` = sha256 of the text, ``text``), ``answers`` (``text_id``, ``labels``
as a JSON list, ``skipped``, ``annotator``, ``at``, ``undone``) and ``leases`` (``text_id``,
``annotator``, ``until``). An answer is never rewritten: undo marks it undone, and two people's
answers for one text are both kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from bertclf.errors import InputError

FORMAT = 1
SUFFIXES = (".db", ".sqlite", ".sqlite3")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS texts (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY, text_id INTEGER NOT NULL REFERENCES texts(id), labels TEXT NOT NULL,
    skipped INTEGER NOT NULL DEFAULT 0, annotator TEXT NOT NULL, at REAL NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS answers_text ON answers(text_id);
CREATE TABLE IF NOT EXISTS leases (text_id INTEGER PRIMARY KEY, annotator TEXT NOT NULL, until REAL NOT NULL);
"""


def is_label_db(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def connect(path: str | os.PathLike[str], create: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL and a busy timeout; one clear error for a file
    that is not such a database, is read-only, or is locked."""
    path = Path(path)
    if not create and not path.exists():
        raise InputError(f"{path}: no such labelling database (bertclf label TEXTS --db {path} makes one)")
    try:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        if create:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
        found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.OperationalError as exc:
        raise InputError(f"{path}: cannot open the labelling database ({exc}): does its folder exist, "
                         f"and is it writable and not locked by another program?") from None
    except sqlite3.DatabaseError:
        raise InputError(f"{path}: not a labelling database (not SQLite)") from None
    if not {"meta", "texts", "answers"} <= found:
        raise InputError(f"{path}: not a labelling database made by bertclf label")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    return {"labels": json.loads(meta.get("labels", "[]")), "multi_label": meta.get("multi_label") == "1",
            "source": meta.get("source"), "format": int(meta.get("format", FORMAT)),
            "model": meta.get("model") or None}


def current_labels(conn: sqlite3.Connection) -> dict[int, list[str]]:
    """Each answered text's labels: its latest answer that is neither undone nor a skip."""
    rows = conn.execute("SELECT text_id, labels FROM answers WHERE undone = 0 AND skipped = 0 ORDER BY id")
    return {text_id: json.loads(labels) for text_id, labels in rows}


def read_labelled_db(path: str | os.PathLike[str]) -> tuple[list[str], list[Any]]:
    """(texts, labels) of every labelled text, for `train DB`: one label per text, or label lists
    in a multi-label database."""
    conn = connect(path)
    try:
        meta = read_meta(conn)
        labels = current_labels(conn)
        texts = dict(conn.execute("SELECT id, text FROM texts"))
    finally:
        conn.close()
    if not labels:
        raise InputError(f"{path}: no labelled texts yet")
    ids = sorted(labels)
    targets = [labels[i] if meta["multi_label"] else labels[i][0] for i in ids]
    return [texts[i] for i in ids], targets
