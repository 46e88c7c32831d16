"""One persistence contract for everything a model folder holds beside its config.

A part (a head, the TF-IDF vocabulary, the standardiser, metadata encodings, joined vectors, the
long-text guide, the calibration maps) saves itself as ``(settings, files)``: settings are plain
JSON that goes into config.json under ``parts``, files are bytes (JSON or safetensors, never a
pickle) written beside it and checksummed. Loading is the same loop backwards: the slot names the
class, the class rebuilds itself from its settings and its own files. A model's save and load are
therefore loops over its parts, and a new part needs no change here.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class Part(Protocol):
    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """(settings for config.json, file name -> bytes)."""

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> Part:
        """Rebuild from what ``to_files`` gave; raise ValueError when it does not fit."""


def save_parts(parts: dict[str, Part | None]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """config.json's ``parts`` entry and every part's files, for the parts that are not None."""
    entries: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    for slot, part in parts.items():
        if part is None:
            continue
        settings, own = part.to_files()
        if set(own) & set(files):
            raise ValueError(f"part {slot!r} would overwrite {sorted(set(own) & set(files))}")
        entries[slot] = {"settings": settings, "files": sorted(own)}
        files.update(own)
    return entries, files


def load_parts(entries: dict[str, Any], files: dict[str, bytes], types: dict[str, Any]) -> dict[str, Any]:
    """Every part listed in ``entries``, rebuilt by the class ``types`` gives for its slot."""
    parts = {}
    for slot, entry in entries.items():
        if slot not in types:
            raise ValueError(f"unknown part {slot!r}")
        missing = [name for name in entry["files"] if name not in files]
        if missing:
            raise ValueError(f"part {slot!r} misses its files {missing}")
        own = {name: files[name] for name in entry["files"]}
        parts[slot] = types[slot].from_files(entry["settings"], own)
    return parts


def json_file(document: Any) -> bytes:
    """A part's JSON file (vocabularies, keys, word weights): UTF-8, floats written exactly."""
    return json.dumps(document, ensure_ascii=False).encode()


def read_json(files: dict[str, bytes], name: str) -> Any:
    """A part's JSON file back (a damaged file raises ValueError, as every part's loader does)."""
    return json.loads(files[name])
