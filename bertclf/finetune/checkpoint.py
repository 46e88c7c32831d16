"""Fine-tuning checkpoints: the state of an unfinished run, written atomically, read back checked.

A checkpoint is the folder ``<model folder>/checkpoint/``: ``state.json`` (the run's settings,
where it stopped, the validation history and a SHA-256 per tensor file) plus safetensors files
(current weights, best weights, optimizer moments and random-number state). It is written like a
model folder (temporary folder, then a rename), so an interrupted write leaves the previous
checkpoint whole. The finished model replaces the whole folder, checkpoint included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bertclf.errors import BertclfError, ModelLoadError
from bertclf.io.modelio import file_sums, format_problem, is_model_folder, sha256, write_folder

FOLDER = "checkpoint"
STATE = "state.json"
FORMAT = "bertclf-checkpoint"
FORMAT_VERSION = 1


class ResumeError(BertclfError):
    """A checkpoint that cannot be resumed: missing, damaged, or made by another run."""


def checkpoint_folder(model_folder: str | Path) -> Path:
    return Path(model_folder) / FOLDER


def write_checkpoint(model_folder: str | Path, state: dict[str, Any],
                     tensors: dict[str, dict[str, Any]]) -> Path:
    """Write ``state`` and named groups of torch tensors (one safetensors file per group)."""
    from safetensors.torch import save

    folder = checkpoint_folder(model_folder)
    folder.parent.mkdir(exist_ok=True)
    files = {f"{name}.safetensors": save(group) for name, group in tensors.items()}
    state = {"format": FORMAT, "format_version": FORMAT_VERSION, **state, "files": file_sums(files)}
    text = json.dumps(state, indent=2, ensure_ascii=False) + "\n"
    return write_folder(folder, {**files, STATE: text.encode()})


def read_state(model_folder: str | Path) -> dict[str, Any]:
    """A checkpoint's state.json, or one clear error saying why there is nothing to resume."""
    root = Path(model_folder)
    path = checkpoint_folder(root) / STATE
    if not path.is_file():
        if is_model_folder(root):
            raise ResumeError(f"{root} is a finished model, not an interrupted run: nothing to resume")
        what = "does not exist" if not root.exists() else "holds no fine-tuning checkpoint"
        raise ResumeError(f"cannot resume: {root} {what} ({FOLDER}/{STATE})")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResumeError(f"cannot resume: {path} is unreadable ({exc})") from None
    problem = format_problem(state, FORMAT, FORMAT_VERSION, "bertclf checkpoint")
    if problem:
        raise ResumeError(f"cannot resume: {path} {problem}")
    return state


def read_tensors(model_folder: str | Path, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tensor groups listed in ``state``, each verified against its checksum."""
    from safetensors.torch import load

    folder = checkpoint_folder(model_folder)
    groups = {}
    for name, meta in (state.get("files") or {}).items():
        if not name.endswith(".safetensors") or "/" in name or not isinstance(meta, dict):
            raise ResumeError(f"cannot resume: {folder}/{STATE} lists an unexpected file {name!r}")
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            raise ResumeError(f"cannot resume: {folder}/{name}: {exc.strerror or exc}") from None
        if sha256(data) != meta.get("sha256"):
            raise ModelLoadError(f"{folder}/{name} fails its checksum: the checkpoint was damaged")
        groups[name.removesuffix(".safetensors")] = load(data)
    return groups
