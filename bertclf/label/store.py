"""The labelling loop's memory: texts, answers and leases in the SQLite file of ``io.label_db``.

Every answer is committed before the call returns, so a killed server loses nothing it
acknowledged. A text handed to one annotator is leased to them for ``LEASE_SECONDS``: nobody else
gets it meanwhile, and an answer for a text another person holds is refused. Two people may still
answer the same text (one after the other's lease expired): both answers are kept, and their
disagreement is listed for review.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bertclf.errors import InputError, SpecError
from bertclf.io.label_db import FORMAT, connect, current_labels, read_meta, text_hash

LEASE_SECONDS = 300.0


class LeaseError(InputError):
    """An answer for a text whose lease another annotator holds."""


def check_labels(labels: Sequence[str]) -> list[str]:
    """The label set: at least two, no duplicates, none empty."""
    names = [str(name).strip() for name in labels]
    if any(not name for name in names):
        raise SpecError("--labels has an empty label name")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SpecError(f"--labels lists {', '.join(twice)} more than once")
    if len(names) < 2:
        raise SpecError(f"--labels needs at least two labels to choose between, got {len(names)}")
    return names


class LabelStore:
    """One labelling database; safe to share between the server's threads."""

    def __init__(self, path: str | os.PathLike[str], conn: sqlite3.Connection) -> None:
        self.path, self._conn, self._lock = Path(path), conn, threading.RLock()
        meta = read_meta(conn)
        self.labels: list[str] = meta["labels"]
        self.multi_label: bool = meta["multi_label"]
        self.model: str | None = meta["model"]
        self.ids: list[int] = [row[0] for row in conn.execute("SELECT id FROM texts ORDER BY id")]

    @classmethod
    def create_or_open(cls, path: str | os.PathLike[str], texts: Sequence[str], labels: Sequence[str],
                       multi_label: bool = False, source: str | None = None,
                       model: str | None = None) -> tuple[LabelStore, int]:
        """The database at ``path`` for these texts and labels, made if new; a database made for
        other labels, or another kind of task, is refused. Returns the store and how many of its
        labelled texts are not among ``texts`` any more (a TEXTS file that changed)."""
        labels = check_labels(labels)
        path = Path(path)
        new = not path.exists()
        conn = connect(path, create=True)
        meta = read_meta(conn)
        if meta["labels"] and (meta["labels"] != labels or meta["multi_label"] != multi_label):
            conn.close()
            kind = "several labels a text" if meta["multi_label"] else "one label a text"
            raise InputError(f"{path} was made for the labels {','.join(meta['labels'])} ({kind}): "
                             f"give those, or --db NEW.db for a new database")
        wanted = {text_hash(t) for t in texts}
        known = {row[0] for row in conn.execute("SELECT hash FROM texts")}
        if known and not known & wanted:
            conn.close()
            raise InputError(f"{path} was made for other texts ({meta['source'] or 'another file'}): give "
                             f"those, or --db NEW.db for a new database")
        with _transaction(conn):
            if new or not meta["labels"]:
                conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                    ("labels", json.dumps(labels)), ("multi_label", "1" if multi_label else "0"),
                    ("source", source or ""), ("format", str(FORMAT))])
            if model:  # the encoder the session embeds with: `label status` estimates with it too
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?)", (str(model),))
            conn.executemany("INSERT OR IGNORE INTO texts (hash, text) VALUES (?, ?)",
                             ((text_hash(t), t) for t in texts))
        store = cls(path, conn)
        hashes = dict(conn.execute("SELECT id, hash FROM texts"))
        gone = [i for i in current_labels(conn) if hashes[i] not in wanted]
        store.ids = [i for i in store.ids if hashes[i] in wanted]
        return store, len(gone)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> LabelStore:
        return cls(path, connect(path))

    def close(self) -> None:
        self._conn.close()

    # -- reading --------------------------------------------------------------------------------

    def texts(self, ids: Sequence[int]) -> dict[int, str]:
        with self._lock:
            found = self._conn.execute(f"SELECT id, text FROM texts WHERE id IN ({','.join('?' * len(ids))})",
                                       list(ids)).fetchall() if ids else []
        return dict(found)

    def answered(self) -> dict[int, list[str]]:
        """Each labelled text's current labels (its latest answer not undone, not a skip)."""
        with self._lock:
            return current_labels(self._conn)

    def skipped(self) -> set[int]:
        with self._lock:
            rows = self._conn.execute("SELECT text_id FROM answers WHERE undone = 0 AND skipped = 1")
            return {row[0] for row in rows}

    def disagreements(self) -> list[dict[str, Any]]:
        """Texts two annotators labelled differently, with every answer (who, what, when)."""
        with self._lock:
            rows = self._conn.execute("SELECT text_id, annotator, labels, at FROM answers "
                                      "WHERE undone = 0 AND skipped = 0 ORDER BY id").fetchall()
        by_text: dict[int, dict[str, tuple[list[str], float]]] = {}
        for text_id, who, labels, at in rows:
            by_text.setdefault(text_id, {})[who] = (sorted(json.loads(labels)), at)
        found = []
        for text_id, answers in by_text.items():
            if len({tuple(labels) for labels, _ in answers.values()}) > 1:
                found.append({"text_id": text_id, "answers": [{"annotator": who, "labels": labels, "at": at}
                                                               for who, (labels, at) in answers.items()]})
        return found

    def counts(self) -> dict[str, int]:
        tally: Counter[str] = Counter()
        for labels in self.answered().values():
            tally.update(labels)
        return {label: tally[label] for label in self.labels}

    # -- leases ---------------------------------------------------------------------------------

    def lease(self, annotator: str, candidates: Sequence[int], n: int = 1,
              now: float | None = None) -> list[int]:
        """Up to ``n`` of ``candidates`` (best first) that nobody has answered or skipped and no
        one else holds, leased to ``annotator``; the ones they already hold come first."""
        now = time.time() if now is None else now
        with self._lock, _transaction(self._conn):
            self._conn.execute("DELETE FROM leases WHERE until < ?", (now,))
            held = dict(self._conn.execute("SELECT text_id, annotator FROM leases"))
            done = {row[0] for row in
                    self._conn.execute("SELECT DISTINCT text_id FROM answers WHERE undone = 0")}
            mine = [i for i in candidates if held.get(i) == annotator and i not in done]
            free = [i for i in candidates if i not in held and i not in done]
            chosen = (mine + free)[:n]
            self._conn.executemany("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)",
                                   [(i, annotator, now + LEASE_SECONDS) for i in chosen])
        return chosen

    def release(self, annotator: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM leases WHERE annotator = ?", (annotator,))

    # -- writing --------------------------------------------------------------------------------

    def add_text(self, text: str) -> int:
        """The id of ``text``, added to the database (and the pool) if it is not there yet."""
        with self._lock, _transaction(self._conn):
            key = text_hash(text)
            self._conn.execute("INSERT OR IGNORE INTO texts (hash, text) VALUES (?, ?)", (key, text))
            text_id = int(self._conn.execute("SELECT id FROM texts WHERE hash = ?", (key,)).fetchone()[0])
        if text_id not in self.ids:
            self.ids.append(text_id)
        return text_id

    def answer(self, text_id: int, labels: Sequence[str], annotator: str, skipped: bool = False,
               now: float | None = None) -> None:
        """Keep one answer (committed before this returns); the text's lease ends."""
        now = time.time() if now is None else now
        labels = list(dict.fromkeys(str(label) for label in labels))
        unknown = [label for label in labels if label not in self.labels]
        if unknown:
            raise InputError(f"unknown label {unknown[0]!r}: the labels are {', '.join(self.labels)}")
        if not skipped and not labels:
            raise InputError("an answer needs a label (or skip the text)")
        if not skipped and not self.multi_label and len(labels) > 1:
            raise InputError("one label a text here: this database is not --multi-label")
        with self._lock, _transaction(self._conn):
            if self._conn.execute("SELECT 1 FROM texts WHERE id = ?", (text_id,)).fetchone() is None:
                raise InputError(f"no text {text_id} in {self.path.name}")
            holder = self._conn.execute("SELECT annotator, until FROM leases WHERE text_id = ?",
                                        (text_id,)).fetchone()
            if holder is not None and holder[0] != annotator and holder[1] >= now:
                raise LeaseError(f"text {text_id} is being labelled by {holder[0]} (their lease ends in "
                                 f"{holder[1] - now:.0f} s)")
            self._conn.execute("INSERT INTO answers (text_id, labels, skipped, annotator, at) VALUES "
                               "(?, ?, ?, ?, ?)", (text_id, json.dumps(labels), int(skipped), annotator, now))
            self._conn.execute("DELETE FROM leases WHERE text_id = ?", (text_id,))

    def undo(self, annotator: str, now: float | None = None) -> int | None:
        """Take back ``annotator``'s latest answer (or skip): marked undone, never deleted; the
        text is leased back to them. Returns its id, or None when there is nothing to undo."""
        now = time.time() if now is None else now
        with self._lock, _transaction(self._conn):
            row = self._conn.execute("SELECT id, text_id FROM answers WHERE annotator = ? AND undone = 0 "
                                     "ORDER BY id DESC LIMIT 1", (annotator,)).fetchone()
            if row is None:
                return None
            self._conn.execute("UPDATE answers SET undone = 1 WHERE id = ?", (row[0],))
            self._conn.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)",
                               (row[1], annotator, now + LEASE_SECONDS))
        return int(row[1])

    def history(self) -> list[dict[str, Any]]:
        """Every answer ever given, undone ones included, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT text_id, labels, skipped, annotator, at, undone FROM answers "
                                      "ORDER BY id").fetchall()
        return [{"text_id": t, "labels": json.loads(labels), "skipped": bool(s), "annotator": who, "at": at,
                 "undone": bool(u)} for t, labels, s, who, at, u in rows]


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise InputError(f"the labelling database is locked or read-only ({exc})") from None
        return self.conn

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
