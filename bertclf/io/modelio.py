"""Model folders: written atomically, read back only after every checksum matches.

A model folder holds ``config.json`` (readable settings, labels, metrics and a SHA-256 per weight
file) and the weight files themselves (safetensors or XGBoost JSON; a fine-tuned model adds its
encoder as an ordinary Hugging Face folder, ``encoder/``). Nothing in it is executable: reading
parses JSON and tensors and nothing else. Writing fills a temporary folder beside the target and
renames it into place, so an interrupted save leaves any earlier model untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bertclf._version import __version__
from bertclf.errors import InputError, ModelLoadError

CONFIG = "config.json"
FORMAT = "bertclf-model"
FORMAT_VERSION = 2  # 2: every part listed under "parts" with its settings and files (io.part_files)
READABLE_VERSIONS = (1, 2)  # 1: bertclf 0.1, parts in fixed places (parts_of reads them)
ALLOWED_FILES = ("head.safetensors", "head.xgboost.json", "guide.json", "extra_embeddings.safetensors",
                 "extra_embeddings_keys.json", "tfidf.json", "scaling.safetensors",
                 "encoder.onnx", "tokenizer.json")  # the last two: a self-contained folder's encoder
ENCODER_FOLDER = "encoder"
# A fine-tuned encoder's files: configs, vocabularies and safetensors weights; never pickles.
_ENCODER_FILE = re.compile(rf"^{ENCODER_FOLDER}/[A-Za-z0-9_.-]+\.(json|txt|safetensors|model)$")
CHECKPOINT_STATE = "checkpoint/state.json"  # an unfinished fine-tuning run (see checkpoint.py)


def is_encoder_file(name: str) -> bool:
    return bool(_ENCODER_FILE.match(name))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_model_folder(path: str | os.PathLike[str], config: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Write config.json plus ``files`` to ``path``, replacing an older model folder there whole."""
    target = check_model_target(path)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **config, "files": file_sums(files)}
    text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    return write_folder(target, {**files, CONFIG: text.encode()})


def file_sums(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in files.items()}


def write_folder(target: Path, files: dict[str, bytes]) -> Path:
    """Fill a temporary folder beside ``target`` with ``files`` (names may hold one sub-folder),
    then swap it into place: readers see the old folder or the new one, never a mix."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            with open(tmp / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        _swap_into_place(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def check_model_target(path: str | os.PathLike[str]) -> Path:
    """Never replace something that is not ours: an existing folder must be empty or a model.
    Called before training too, so a bad --out fails before minutes of work."""
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(f"{target}: folder {target.parent} does not exist")
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is a file; give a folder path for the model")
    if target.is_dir() and any(target.iterdir()) and not is_model_folder(target) \
            and not (target / CHECKPOINT_STATE).is_file():
        raise InputError(f"{target} exists and is not a bertclf model folder; choose another path "
                         f"(an existing model folder would be replaced)")
    return target


def is_model_folder(path: Path) -> bool:
    try:
        return json.loads((path / CONFIG).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename the new folder in; the old one moves aside first and is deleted only afterwards."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            with suppress(OSError):
                os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    with suppress(OSError):  # make the renames durable where the platform allows it
        fd = os.open(target.parent, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)


def read_model_folder(path: str | os.PathLike[str], skip: Callable[[str], bool] | None = None,
                      by_path: Callable[[str], bool] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """config.json and the verified bytes of every weight file it lists (but those ``skip`` says
    the caller will not use, which are neither read nor checked). Files ``by_path`` names are
    checked while streamed and come back as their verified Path (a graph ONNX Runtime maps)."""
    folder = Path(path)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: no such model folder")
    if not (folder / CONFIG).exists() and (folder / CHECKPOINT_STATE).is_file():
        raise ModelLoadError(f"{folder} holds an unfinished fine-tuning run, not a model yet; "
                             f"finish it with: bertclf finetune --resume {folder}")
    raw = _read(folder, CONFIG, f"{folder}: not a bertclf model folder (no {CONFIG})")
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise ModelLoadError(f"{folder}/{CONFIG} is not valid JSON ({exc}); was it edited?") from None
    problem = format_problem(config, FORMAT, READABLE_VERSIONS, "bertclf model config")
    if problem:
        raise ModelLoadError(f"{folder}/{CONFIG} {problem}")
    listed = config.get("files")
    if not isinstance(listed, dict) or not listed:
        raise ModelLoadError(f"{folder}/{CONFIG} lists no weight files; was it edited?")
    files = {}
    for name, meta in listed.items():
        allowed = name in ALLOWED_FILES or is_encoder_file(name)
        if not allowed or not isinstance(meta, dict) or "sha256" not in meta:
            raise ModelLoadError(f"{folder}/{CONFIG}: unexpected file entry {name!r}; was it edited?")
        if skip is not None and skip(name):
            continue
        if by_path is not None and by_path(name):
            data, digest = folder / name, _file_sha256(folder, name)
        else:
            data = _read(folder, name, f"{folder}: model file {name} is missing")
            digest = sha256(data)
        if digest != meta["sha256"]:
            raise ModelLoadError(f"{folder}/{name} fails its checksum: it was changed or damaged after "
                                 f"saving; train the model again or restore the file")
        files[name] = data
    encoder = folder / ENCODER_FOLDER
    if encoder.is_dir():  # from_pretrained reads the folder: nothing unlisted (a pickle) may hide there
        extra = sorted(p.name for p in encoder.iterdir() if f"{ENCODER_FOLDER}/{p.name}" not in listed)
        if extra:
            raise ModelLoadError(f"{folder}/{ENCODER_FOLDER} holds files config.json does not list "
                                 f"({', '.join(extra[:3])}); refusing to load it")
    return config, files


def format_problem(document: Any, expected: str, version: int | tuple[int, ...], what: str) -> str | None:
    """Why a JSON document is not a ``expected`` file of ``version`` (or one of several; None when
    it is)."""
    versions = version if isinstance(version, tuple) else (version,)
    if not isinstance(document, dict) or document.get("format") != expected:
        return f"is not a {what}"
    if document.get("format_version") not in versions:
        return (f"has format version {document.get('format_version')!r}, which this bertclf does not "
                f"read (it reads version {' and '.join(map(str, versions))})")
    return None


def parts_of(config: dict[str, Any]) -> dict[str, Any]:
    """config.json's ``parts`` (see io.part_files). A format-1 folder kept them in fixed places; they
    are read from there, so models saved by bertclf 0.1 load and predict as before."""
    if config["format_version"] >= 2:
        return config["parts"]
    labels, head, inputs = config["labels"], config["head"], config.get("inputs") or {}
    shape = config.get("features") or {"kind": "embedding", "scaling": "none"}
    parts = {"head": {"settings": {"name": head["name"], "n_classes": len(labels),
                                   "multilabel": config.get("task") == "multi-label"},
                      "files": [head["file"]]}}
    if shape["kind"] != "embedding":
        parts["tfidf"] = {"settings": {}, "files": ["tfidf.json"]}
    if shape["scaling"] == "standard" or shape["kind"] == "hybrid":
        parts["scaler"] = {"settings": {}, "files": ["scaling.safetensors"]}
    if inputs.get("meta"):
        parts["meta"] = {"settings": inputs["meta"], "files": []}
    if inputs.get("extra_dim"):
        parts["extra"] = {"settings": {"join_on": inputs["join_on"]},
                          "files": ["extra_embeddings.safetensors", "extra_embeddings_keys.json"]}
    if inputs.get("guide"):
        parts["guide"] = {"settings": {}, "files": ["guide.json"]}
    if config.get("calibration"):
        parts["calibration"] = {"settings": {**config["calibration"], "n_classes": len(labels)}, "files": []}
    return parts


def _file_sha256(folder: Path, name: str) -> str:
    """A file's SHA-256 without holding it in memory (no copy of a 60 MB graph)."""
    h = hashlib.sha256()
    try:
        with open(folder / name, "rb") as handle:
            while chunk := handle.read(1 << 20):
                h.update(chunk)
    except FileNotFoundError:
        raise ModelLoadError(f"{folder}: model file {name} is missing") from None
    except OSError as exc:
        raise ModelLoadError(f"{folder}: cannot read {name}: {exc.strerror or exc}") from None
    return h.hexdigest()


def _read(folder: Path, name: str, missing: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(missing) from None
    except OSError as exc:
        raise ModelLoadError(f"{folder}: cannot read {name}: {exc.strerror or exc}") from None


def embedder_config(embedder: Any, model: str) -> dict[str, Any]:
    """The embedder settings a model folder records (what the head was trained on)."""
    s = embedder.settings()
    return {"model": model, "pooling": s.pooling, "layers": list(s.layers), "layer_agg": s.layer_agg,
            "max_length": s.max_length, "normalize": s.normalize, "long": s.long.mode,
            "head_tokens": s.long.head, "stride": s.long.stride, "chunk_agg": s.long.agg}


def model_config(embedder: dict[str, Any], encoder: dict[str, Any], head: dict[str, Any], labels: list[Any],
                 training: dict[str, Any], metrics: dict[str, Any] | None, approach: str,
                 multilabel: bool = False, thresholds: Any = None,
                 inputs: dict[str, Any] | None = None, parts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The readable part of a model folder's config.json, shared by frozen and fine-tuned models:
    what kind of model it is, for which task, read from which columns, and its parts."""
    return {
        "bertclf_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kind": "fine-tuned" if "folder" in encoder else "frozen",
        "task": "multi-label" if multilabel else "single-label",
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
        "inputs": inputs or {"text_col": "text", "pair_col": None, "join_on": None},
        "parts": parts or {},
        "approach": approach,
        "embedder": embedder,
        "encoder": encoder,
        "head": head,
        "labels": labels,
        "training": training,
        "metrics": metrics,
    }
