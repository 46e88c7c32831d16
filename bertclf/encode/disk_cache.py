"""A persistent embedding cache: one SQLite database (WAL mode) under the cache folder.

Rows are content-addressed: the key is sha256 of the embedder setting (encoder weights digest,
backend, dtype, pooling, layers, max length, long-text strategy, normalisation) and the text (and
its pair), so a changed encoder or setting can never serve an old vector. Each row carries a CRC32
of its bytes; a row that fails it is dropped and recomputed. A database SQLite cannot read is
renamed aside (``*.corrupt-<time>``) and a fresh one started, with one warning. Several processes
may read and write at once (WAL, a busy timeout, INSERT OR IGNORE of identical rows).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import warnings
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bertclf.encode import cache_folder
from bertclf.errors import BertclfWarning

FILENAME = "embeddings.sqlite3"
SCHEMA = 1
_CHUNK = 500  # keys per SELECT, well under SQLite's bound-parameter limit

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS settings (id TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (
    key BLOB PRIMARY KEY, setting TEXT NOT NULL, vec BLOB NOT NULL, crc INTEGER NOT NULL
) WITHOUT ROWID;
"""


def setting_id(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def text_keys(setting: str, texts: Sequence[str], pairs: Sequence[str] | None = None) -> list[bytes]:
    """One key per text (or pair) under an embedder setting."""
    prefix = setting.encode() + b"\0"
    if pairs is None:
        return [hashlib.sha256(prefix + _utf8(t)).digest() for t in texts]
    return [hashlib.sha256(prefix + _utf8(a) + b"\0\1\0" + _utf8(b)).digest()
            for a, b in zip(texts, pairs, strict=True)]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class EmbeddingCache:
    """Vectors on disk, looked up by key. Use ``open_cache`` (which never raises) to get one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILENAME
        self.conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            return self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA_SQL)
            conn.execute(f"PRAGMA user_version={SCHEMA}")
            conn.execute("SELECT count(*) FROM settings").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _set_aside(self, exc: BaseException) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                os.replace(src, f"{self.path}.corrupt-{stamp}{suffix}")
        warnings.warn(f"the embedding cache {self.path} could not be read ({exc}); it was moved to "
                      f"{self.path.name}.corrupt-{stamp} and a new one started", BertclfWarning, stacklevel=4)

    def _guarded(self, action, *args):  # noqa: ANN001, ANN202
        """Run a database action; a database found corrupt mid-run is set aside and restarted."""
        try:
            return action(*args)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            self.conn.close()
            self._set_aside(exc)
            self.conn = self._open()
            return action(*args)

    def get_many(self, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``keys``; rows of the wrong size or checksum are dropped."""
        return self._guarded(self._get_many, list(dict.fromkeys(keys)), dim)

    def _get_many(self, keys: list[bytes], dim: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        bad: list[bytes] = []
        for start in range(0, len(keys), _CHUNK):
            part = keys[start:start + _CHUNK]
            marks = ",".join("?" * len(part))
            for key, vec, crc in self.conn.execute(
                    f"SELECT key, vec, crc FROM vectors WHERE key IN ({marks})", part):
                if len(vec) != 4 * dim or zlib.crc32(vec) != crc:
                    bad.append(key)
                else:
                    found[key] = np.frombuffer(vec, dtype=np.float32)
        if bad:
            self.conn.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in bad])
        return found

    def put_many(self, setting: str, description: dict[str, Any], keys: Iterable[bytes],
                 vectors: np.ndarray) -> None:
        self._guarded(self._put_many, setting, description, list(keys), vectors)

    def _put_many(self, setting: str, description: dict[str, Any], keys: list[bytes],
                  vectors: np.ndarray) -> None:
        rows = []
        for key, vector in zip(keys, np.ascontiguousarray(vectors, dtype=np.float32), strict=True):
            blob = vector.tobytes()
            rows.append((key, setting, blob, zlib.crc32(blob)))
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)",
                              (setting, json.dumps(description, sort_keys=True)))
            self.conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?, ?)", rows)

    def info(self) -> dict[str, Any]:
        """Size on disk, vector count and one line per embedder setting."""
        per = dict(self.conn.execute("SELECT setting, count(*) FROM vectors GROUP BY setting").fetchall())
        settings = [{**json.loads(text), "vectors": per.get(sid, 0)}
                    for sid, text in self.conn.execute("SELECT id, description FROM settings")]
        size = sum(Path(f"{self.path}{s}").stat().st_size for s in ("", "-wal")
                   if Path(f"{self.path}{s}").exists())
        return {"path": str(self.path), "bytes": size, "vectors": sum(per.values()), "settings": settings}

    def clear(self) -> int:
        """Delete every vector; returns how many there were."""
        count = self.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM vectors")
            self.conn.execute("DELETE FROM settings")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.execute("VACUUM")
        return int(count)

    def close(self) -> None:
        self.conn.close()


_open_caches: dict[str, EmbeddingCache | None] = {}


def open_cache(folder: str | os.PathLike[str] | None = None) -> EmbeddingCache | None:
    """The cache in ``folder`` (or the default folder), shared per process; None (warned once)
    when it cannot be written or opened."""
    root = cache_folder.writable_root(folder)
    if root is None:
        return None
    key = str(root.resolve())
    if key not in _open_caches:
        try:
            _open_caches[key] = EmbeddingCache(root)
        except (sqlite3.Error, OSError) as exc:
            warnings.warn(f"the embedding cache in {root} cannot be opened ({exc}): running without it",
                          BertclfWarning, stacklevel=2)
            _open_caches[key] = None
    return _open_caches[key]


def forget_open_caches() -> None:
    """Close every cache this process opened (tests, and `bertclf cache clear`)."""
    for cache in _open_caches.values():
        if cache is not None:
            cache.close()
    _open_caches.clear()
