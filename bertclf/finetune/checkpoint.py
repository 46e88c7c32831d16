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


# Settings newer than some checkpoints, with the value every run before them had.
ADDED_LATER = {"freeze_layers": 0, "schedule": "auto"}


def resume_into(trainer: Any, folder: str, saved: dict[str, Any], identity: dict[str, Any]) -> None:
    """Refuse a checkpoint of another model, other settings or other data; then load it into
    ``trainer`` (a ``loop.Trainer``)."""
    where = checkpoint_folder(folder)
    if saved.get("base_model") != identity["base_model"]:
        raise ResumeError(f"cannot resume: {where} is a checkpoint of another model "
                          f"({saved.get('base_model')!r}, not {identity['base_model']!r})")
    then, now = {**ADDED_LATER, **(saved.get("params") or {})}, identity["params"]
    changed = sorted(k for k in set(then) | set(now) if then.get(k) != now.get(k))
    if changed:
        shown = ", ".join(f"{k} {then.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise ResumeError(f"cannot resume: settings differ from the checkpoint's ({shown})")
    if saved.get("labels") != identity["labels"] or saved.get("data") != identity["data"]:
        count = (saved.get("data") or {}).get("texts")
        raise ResumeError(f"cannot resume: the training data differ from the checkpoint's ({count} texts "
                          f"then, {identity['data']['texts']} now, or other texts or labels)")
    try:
        trainer.restore(saved, read_tensors(folder, saved))
    except ValueError as exc:
        raise ResumeError(f"cannot resume: the weights in {where} do not fit {identity['base_model']} "
                          f"({exc})") from None
