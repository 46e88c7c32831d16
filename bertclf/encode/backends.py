"""Encoder backends: padded token ids in, the requested hidden states out, as numpy.

A backend only runs the network. Tokenization, batching and pooling live elsewhere and are shared,
so every backend pools identically and a new one is one class registered in ``BACKENDS``:
``torch`` (fp32, or bf16 autocast), ``onnx`` (ONNX Runtime, fp32) and ``onnx-int8`` (ONNX Runtime,
dynamic int8, one text per call). Loaded backends are cached per process: many Embedders, clones
and grid-search candidates share one copy of the weights.
"""

from __future__ import annotations

import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from bertclf.encode import rowwise
from bertclf.encode.sources import ModelSource, load_config, load_torch_encoder
from bertclf.errors import BertclfError, BertclfWarning, ExportError, SpecError, first_line

cpu_flags = rowwise.cpu_flags  # read once, in the module every session is made by


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX), where bf16 autocast
    speeds work up rather than emulating it (6x slower than fp32 on an AVX2 EPYC)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


class EncoderBackend(ABC):
    """Runs one encoder. ``layers`` are absolute hidden-state indices (0 = embedding output)."""

    name: str = ""

    def __init__(self, source: ModelSource, device: str, dtype: str = "fp32",
                 threads: int | None = None) -> None:
        config = load_config(source)
        self.source = source
        self.device = device
        self.dtype = dtype
        self.num_layers: int = int(config.num_hidden_layers)
        self.hidden_size: int = int(config.hidden_size)

    @abstractmethod
    def hidden_states(self, batch: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        """Float32 arrays of shape (batch, tokens, hidden_size), one per requested layer."""


class TorchBackend(EncoderBackend):
    """transformers' AutoModel in eval mode under torch.inference_mode; ``bf16`` runs it under
    autocast (fp32 weights, bf16 matmuls: 2.4x on a CPU with AVX-512 BF16, cosine 0.9999)."""

    name = "torch"

    def __init__(self, source: ModelSource, device: str, dtype: str = "fp32",
                 threads: int | None = None) -> None:
        super().__init__(source, device, dtype)
        if dtype == "bf16" and device == "cpu" and not cpu_has_bf16():
            warnings.warn("this CPU has no bf16 instructions: torch emulates bf16 here, several times slower "
                          "than fp32 (measured 6x on an AVX2 CPU); drop --dtype bf16", BertclfWarning,
                          stacklevel=2)
        self.model = load_torch_encoder(source).to(device).eval()

    def hidden_states(self, batch: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        import torch

        inputs = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        only_last = all(index == self.num_layers for index in layers)
        kind = "cuda" if self.device.startswith("cuda") else "cpu"
        with torch.inference_mode(), torch.autocast(kind, torch.bfloat16, enabled=self.dtype == "bf16"):
            out = self.model(**inputs, output_hidden_states=not only_last, return_dict=True)
        if only_last:
            states = [out.last_hidden_state] * len(layers)
        else:
            states = [out.hidden_states[index] for index in layers]
        return [s.float().cpu().numpy() for s in states]


class OnnxBackend(EncoderBackend):
    """ONNX Runtime on the CPU over the graph from ``onnx_export`` (exported once, cached)."""

    name = "onnx"
    quantization = "fp32"

    def __init__(self, source: ModelSource, device: str, dtype: str = "fp32",
                 threads: int | None = None) -> None:
        super().__init__(source, device, dtype)
        from bertclf.encode.onnx_export import onnx_model

        path = onnx_model(source, self.quantization)
        try:
            self.session = rowwise.make_session(path, threads)
        except Exception:  # noqa: BLE001 - a file that passed its checksum but will not load
            _forget(path)
            try:
                self.session = rowwise.make_session(onnx_model(source, self.quantization), threads)
            except Exception as exc:  # noqa: BLE001 - ONNX Runtime cannot run this graph at all
                first = first_line(exc)
                raise ExportError(f"ONNX Runtime cannot run the export of {source.spec}: {first}") from None
        self.inputs = [i.name for i in self.session.get_inputs()]

    def hidden_states(self, batch: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        return rowwise.batched_states(self.session, self.inputs, batch, layers)


class OnnxInt8Backend(OnnxBackend):
    """ONNX Runtime with int8 weights (per-channel, MatMul only) and dynamic int8 activations,
    one text per call, texts side by side on one thread each (``rowwise``): the fastest on a CPU,
    and a text's vector does not depend on its batch-mates."""

    name = "onnx-int8"
    quantization = "int8"

    def __init__(self, source: ModelSource, device: str, dtype: str = "fp32",
                 threads: int | None = None) -> None:
        super().__init__(source, device, dtype, threads=1)
        self.workers = threads or rowwise.default_workers()

    def hidden_states(self, batch: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        return rowwise.hidden_states(self.session, self.inputs, batch, layers, self.workers)


def _forget(path) -> None:  # noqa: ANN001
    import shutil

    shutil.rmtree(path.parent, ignore_errors=True)


BACKENDS: dict[str, type[EncoderBackend]] = {"torch": TorchBackend, "onnx": OnnxBackend,
                                             "onnx-int8": OnnxInt8Backend}
DTYPES = ("fp32", "bf16")
AUTO_CPU = "onnx-int8"  # the fastest CPU backend within 0.5 accuracy point: see docs/performance.md

_cache: dict[tuple[str, ModelSource, str, str, int | None], EncoderBackend] = {}
_lock = threading.Lock()


def resolve_device(device: str) -> str:
    """'auto' picks CUDA when torch sees a GPU; asking for CUDA without one is an error."""
    try:
        import torch
    except ImportError:  # an ONNX-only install: the CPU is all there is
        if device in ("auto", "cpu"):
            return "cpu"
        raise BertclfError(f"device {device!r} needs torch, which is not installed") from None
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BertclfError(f"device {device!r} was requested but torch sees no CUDA GPU")
    if device != "cpu" and not device.startswith("cuda"):
        raise SpecError(f"unknown device {device!r}: use auto, cpu or cuda")
    return device


def resolve_backend(name: str, device: str, dtype: str = "fp32") -> str:
    """The backend to run: 'auto' is onnx-int8 on a CPU with ONNX Runtime installed (the fastest
    that keeps accuracy, see docs/performance.md), torch otherwise. Bad combinations fail here."""
    if name != "auto" and name not in BACKENDS:
        raise SpecError(f"unknown backend {name!r}: use auto, {', '.join(BACKENDS)}")
    if dtype not in DTYPES:
        raise SpecError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    device = resolve_device(device)
    if name == "auto":
        name = "torch" if device != "cpu" or dtype != "fp32" or not _has_onnxruntime() else AUTO_CPU
    if name.startswith("onnx"):
        if device != "cpu":
            raise SpecError(f"backend {name} runs on the CPU: use --backend torch on {device}")
        if dtype != "fp32":
            raise SpecError(f"--dtype {dtype} is for the torch backend; {name} sets its own precision")
        if not _has_onnxruntime():
            raise BertclfError(f"backend {name} needs ONNX Runtime: pip install onnxruntime")
    return name


def _has_onnxruntime() -> bool:
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None


def get_backend(name: str, source: ModelSource, device: str, dtype: str = "fp32",
                threads: int | None = None) -> EncoderBackend:
    """The loaded backend for (name, model, device, dtype), loading it on first use only. A model
    that cannot be exported to ONNX falls back to torch, with one warning."""
    name = resolve_backend(name, device, dtype)
    device = resolve_device(device)
    key = (name, source, device, dtype, threads if name.startswith("onnx") else None)
    with _lock:
        if key not in _cache:
            try:
                _cache[key] = BACKENDS[name](source, device, dtype, threads)
            except ExportError as exc:
                warnings.warn(f"{exc}; using the torch backend instead", BertclfWarning, stacklevel=3)
                _cache[key] = TorchBackend(source, device, dtype)
        return _cache[key]


def clear_cache() -> None:
    """Forget loaded encoders (tests, or to free memory in a long session)."""
    with _lock:
        _cache.clear()
