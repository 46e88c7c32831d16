"""Encoder backends: padded token ids in, the requested hidden states out, as numpy.

A backend only runs the network. Tokenization, batching and pooling live elsewhere and are shared,
so a new backend (ONNX Runtime, bf16, a remote engine) is one class registered in ``BACKENDS``.
Loaded backends are cached per process: many Embedders, clones and grid-search candidates share
one copy of the weights.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from .errors import BertclfError, ModelLoadError, SpecError
from .models import ModelSource, load_config


class EncoderBackend(ABC):
    """Runs one encoder. ``layers`` are absolute hidden-state indices (0 = embedding output)."""

    name: str = ""

    def __init__(self, source: ModelSource, device: str) -> None:
        config = load_config(source)
        self.source = source
        self.device = device
        self.num_layers: int = int(config.num_hidden_layers)
        self.hidden_size: int = int(config.hidden_size)

    @abstractmethod
    def hidden_states(self, batch: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        """Float32 arrays of shape (batch, tokens, hidden_size), one per requested layer."""


class TorchBackend(EncoderBackend):
    """transformers' AutoModel in eval mode under torch.inference_mode."""

    name = "torch"

    def __init__(self, source: ModelSource, device: str) -> None:
        super().__init__(source, device)
        self.model = load_torch_encoder(source).to(device).eval()

    def hidden_states(self, batch: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        import torch

        inputs = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        only_last = all(index == self.num_layers for index in layers)
        with torch.inference_mode():
            out = self.model(**inputs, output_hidden_states=not only_last, return_dict=True)
        if only_last:
            states = [out.last_hidden_state] * len(layers)
        else:
            states = [out.hidden_states[index] for index in layers]
        return [s.float().cpu().numpy() for s in states]


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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load the weights of {source.spec}: {first}") from None


BACKENDS: dict[str, type[EncoderBackend]] = {"torch": TorchBackend}

_cache: dict[tuple[str, ModelSource, str], EncoderBackend] = {}
_lock = threading.Lock()


def resolve_device(device: str) -> str:
    """'auto' picks CUDA when torch sees a GPU; asking for CUDA without one is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BertclfError(f"device {device!r} was requested but torch sees no CUDA GPU")
    if device != "cpu" and not device.startswith("cuda"):
        raise SpecError(f"unknown device {device!r}: use auto, cpu or cuda")
    return device


def get_backend(name: str, source: ModelSource, device: str) -> EncoderBackend:
    """The loaded backend for (name, model, device), loading it on first use only."""
    if name not in BACKENDS:
        raise SpecError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    device = resolve_device(device)
    key = (name, source, device)
    with _lock:
        if key not in _cache:
            _cache[key] = BACKENDS[name](source, device)
        return _cache[key]


def clear_cache() -> None:
    """Forget loaded encoders (tests, or to free memory in a long session)."""
    with _lock:
        _cache.clear()
