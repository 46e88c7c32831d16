"""The encoder as an ONNX graph (fp32, or int8 with dynamic quantization), made once and cached.

The graph takes padded token ids and returns every hidden state (``hidden_0`` .. ``hidden_N``);
a run asks ONNX Runtime for the layers it needs only, and pooling stays in ``pooling.py``, so all
backends pool identically. Files live under the cache folder (``cache_folder.py``), keyed by the
encoder's weights digest and the export settings, never inside a model folder (which may be
read-only, and a fine-tuned model's encoder folder is checksummed file by file). Each file has a
sidecar ``meta.json`` with its size and sha256: a stale or truncated graph is detected and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from bertclf.encode import cache_folder
from bertclf.encode.shipped import QUANTIZATION, ShippedEncoder
from bertclf.encode.sources import ModelSource, load_config, weights_digest
from bertclf.errors import BertclfError, BertclfWarning, ExportError, InputError, SpecError, first_line

if TYPE_CHECKING:
    from bertclf.encode.pipeline import Settings

OPSET = 17
FORMAT = 2  # bump when the graph's inputs, outputs or quantization settings change (2: smoothed int8)
QUANTIZATIONS = ("fp32", "int8")
TEMPORARY = ".bertclf-temporary"  # in an encoder folder that is deleted after use: exports stay inside
TUNED_FROM = "bertclf-tuned-from.json"  # in a tuned encoder's folder (and so in its model folder): its base


def onnx_model(source: ModelSource, quantization: str = "fp32") -> Path:
    """The path of a verified ONNX graph for ``source``: from the cache, or exported now."""
    key = export_key(source, quantization)
    folder = _folder(key, source)
    path = folder / "model.onnx"
    if _verified(path):
        return path
    if path.exists() or (folder / "meta.json").exists():
        warnings.warn(f"the cached ONNX export in {folder} is incomplete or changed; rebuilding it",
                      BertclfWarning, stacklevel=2)
    fp32 = path if quantization == "fp32" else onnx_model(source, "fp32")
    with _staging(folder) as tmp:
        target = tmp / "model.onnx"
        if quantization == "fp32":
            export(source, target)
        else:
            quantize(fp32, target, source)
        _write_meta(target, {"model": source.spec, "quantization": quantization, "opset": OPSET,
                             "format": FORMAT, "key": key})
    return path


def export_key(source: ModelSource, quantization: str) -> str:
    import onnxruntime

    settings = {"weights": weights_digest(source), "quantization": quantization, "opset": OPSET,
                "format": FORMAT, "onnxruntime": onnxruntime.__version__.split(".")[0]}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:24]


def export(source: ModelSource, target: Path) -> None:
    """Trace the encoder (eager attention, a padded example so the mask is part of the graph)."""
    import torch

    from bertclf.encode.sources import load_torch_encoder

    config = load_config(source)
    names = [f"hidden_{i}" for i in range(int(config.num_hidden_layers) + 1)]
    model = load_torch_encoder(source).eval()
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    uses_types = getattr(config, "type_vocab_size", 0) > 1 or config.model_type == "bert"
    inputs = ["input_ids", "attention_mask", *(["token_type_ids"] if uses_types else [])]

    class HiddenStates(torch.nn.Module):
        """The encoder with a flat tuple of every hidden state as its outputs."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args):  # noqa: ANN002, ANN202
            out = self.model(**dict(zip(inputs, args, strict=True)), output_hidden_states=True,
                             return_dict=True)
            return tuple(out.hidden_states)

    wrapper = HiddenStates().eval()  # eval: export restores the wrapper's mode onto the encoder
    ids = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0
    example = (ids, mask, torch.zeros_like(ids))[: len(inputs)]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*inputs, *names]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, example, str(target), input_names=inputs, output_names=names,
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    except Exception as exc:  # noqa: BLE001 - the exporter fails in many ways on unusual models
        first = first_line(exc)
        raise ExportError(f"cannot export {source.spec} to ONNX: {first}") from None


def quantize(fp32: Path, target: Path, source: ModelSource | None = None, reduce_range: bool = False) -> None:
    """Dynamic int8: per-channel weights, MatMul only, after SmoothQuant's migration of the
    LayerNorm outputs' outlier channels into the weights (``smoothing``, calibrated on the
    shipped texts with ``source``'s tokenizer). Measured on all-MiniLM-L6-v2, one text per call:
    mean cosine to fp32 0.995 and worst 0.98 on five sets, against 0.991 and 0.969 unsmoothed;
    ONNX Runtime's defaults (per-tensor, every op) lose far more (0.95). ``reduce_range``: 7-bit
    weights (measured, not used: they lose short texts; benchmarks/int8_variants.py)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from bertclf.encode.smoothing import smooth

    start = fp32
    if source is not None:
        start = target.with_name("smoothed.onnx")
        smooth(fp32, start, _calibration_batches(source), known=_calibrated_peaks(source, fp32))
    logging.disable(logging.WARNING)  # its advice to pre-process is for CNNs and static quantization
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(start), str(target), per_channel=True, op_types_to_quantize=["MatMul"],
                             weight_type=QuantType.QInt8, reduce_range=reduce_range)
    finally:
        logging.disable(logging.NOTSET)
        if start != fp32:
            start.unlink(missing_ok=True)


def _calibrated_peaks(source: ModelSource, fp32: Path) -> dict:
    """The activation peaks SmoothQuant scales by, measured on the calibration texts once per
    fp32 graph and kept beside it (``peaks.npz``). An encoder tuned from another (its folder's
    ``TUNED_FROM`` file names it) borrows the other's: a few dozen steps of few-shot tuning
    barely move them (docs/performance.md), and measuring them took 1.7 s of an 8 s few-shot
    fit. That file travels with a saved model's encoder, so a graph exported again from the
    model folder is the one the model was fitted with."""
    from bertclf.encode.sources import resolve

    try:
        base = json.loads((Path(source.location) / TUNED_FROM).read_text(encoding="utf-8"))["tuned_from"]
        base_source = resolve(base)
        return _kept_peaks(base_source, onnx_model(base_source, "fp32"))
    except (OSError, ValueError, KeyError, TypeError, BertclfError):  # none named, or gone: its own
        return _kept_peaks(source, fp32)


def _kept_peaks(source: ModelSource, fp32: Path) -> dict:
    """``fp32``'s peaks from its ``peaks.npz`` (plain arrays: no pickle), or measured and written."""
    import numpy as np

    from bertclf.encode.smoothing import peaks
    from bertclf.io.files import atomic_path

    kept = fp32.parent / "peaks.npz"
    try:
        with np.load(kept) as stored:
            return dict(stored)
    except (OSError, ValueError):
        pass
    found = peaks(fp32, _calibration_batches(source))
    try:
        with atomic_path(kept) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **found)
    except InputError:  # a read-only cache: measured again next time
        pass
    return found


def _calibration_batches(source: ModelSource):  # noqa: ANN202 - a generator of padded batches
    from bertclf.encode.smoothing import calibration_texts
    from bertclf.encode.sources import load_tokenizer, max_positions
    from bertclf.encode.tokenization import encode, length_batches, pad_batch, pad_id

    tokenizer = load_tokenizer(source)
    encoded = encode(tokenizer, calibration_texts(), min(256, max_positions(source)))
    for rows in length_batches(encoded.lengths(), 16):
        yield pad_batch(encoded, rows, pad_id(tokenizer))


def _folder(key: str, source: ModelSource) -> Path:
    """Where ``source``'s export lives: the cache, unless ``source`` is a temporary folder (a
    few-shot learner's tuned encoder, marked ``TEMPORARY``): its exports stay inside it and go
    with it, where they would otherwise pile up in the cache, 110 MB a fit."""
    if source.local and (Path(source.location) / TEMPORARY).exists():
        return Path(source.location) / "onnx" / key
    root = cache_folder.writable_root()
    return (root / "onnx" / key) if root else Path(tempfile.gettempdir()) / f"bertclf-onnx-{key}"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _write_meta(path: Path, meta: dict) -> None:
    meta = {**meta, "size": path.stat().st_size, "sha256": _digest(path)}
    (path.parent / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _verified(path: Path) -> bool:
    try:
        meta = json.loads((path.parent / "meta.json").read_text(encoding="utf-8"))
        return path.stat().st_size == meta["size"] and _digest(path) == meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


class _staging:
    """A temporary sibling folder renamed onto ``folder`` when the block succeeds: readers see
    the old export or the whole new one, and two processes exporting at once both end well."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> Path:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", dir=self.folder.parent))
        return self.tmp

    def __exit__(self, kind, value, tb) -> None:  # noqa: ANN001
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old = self.folder.with_name(f".{self.folder.name}.old.{os.getpid()}")
        if self.folder.exists():
            os.replace(self.folder, old)
        try:
            os.replace(self.tmp, self.folder)
        except OSError:  # another process put a complete export there first
            shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def ship(s: Settings, backend: str) -> ShippedEncoder:
    """Pack the encoder of settings ``s`` as ``backend`` runs it (onnx-int8 or onnx): the graph from
    the ONNX cache (exported now if missing) and the tokenizer's JSON. Needs the training stack."""
    from bertclf.encode.sources import load_tokenizer

    if backend not in QUANTIZATION:
        raise SpecError(f"a model folder ships an ONNX graph: use backend onnx-int8 or onnx, not {backend}")
    tokenizer = load_tokenizer(s.source)
    if not hasattr(tokenizer, "backend_tokenizer"):
        raise SpecError(f"{s.source.spec} has no fast tokenizer (tokenizer.json), so it cannot travel "
                        f"with the model; keep the folder slim")
    graph = onnx_model(s.source, QUANTIZATION[backend]).read_bytes()
    meta = {"quantization": QUANTIZATION[backend], "pooling": s.pooling, "layers": list(s.layers),
            "layer_agg": s.layer_agg, "max_length": s.max_length, "normalize": s.normalize,
            "long": asdict(s.long), "num_layers": s.num_layers, "hidden_size": s.hidden_size,
            "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
            "model_input_names": list(tokenizer.model_input_names), "from": s.source.spec}
    return ShippedEncoder(meta, graph, tokenizer.backend_tokenizer.to_str().encode("utf-8"))
