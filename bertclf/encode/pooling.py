"""From per-token hidden states to one vector per text.

Works on numpy arrays so that every encoder backend (torch now, ONNX Runtime later) shares the
exact same pooling. Layer indices follow ``output_hidden_states``: 0 is the embedding layer's
output, 1..N the transformer layers, negatives count back from the last layer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bertclf.errors import SpecError

POOLINGS = ("cls", "mean", "max")
LAYER_AGGS = ("mean", "concat")
LAYER_FORMS = (
    "'-1' (last layer), '-2', '-4..-1' (a range, both ends included), 'all' (layers 1..N), "
    "or a comma list such as '-1,-4' or '0,6' (0 is the embedding output)"
)

LayerSpec = str | int | Sequence[int]
_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")


def check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise SpecError(f"unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    return pooling


def check_layer_agg(layer_agg: str) -> str:
    if layer_agg not in LAYER_AGGS:
        raise SpecError(f"unknown layer aggregation {layer_agg!r}: use one of {', '.join(LAYER_AGGS)}")
    return layer_agg


def parse_layers(spec: LayerSpec) -> tuple[int, ...] | str:
    """Parse a layer spec without knowing the model: 'all' stays symbolic, ranges stay signed."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return (int(spec),)
    if not isinstance(spec, str):
        try:
            items = [int(i) for i in spec]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise SpecError(f"malformed layer spec {spec!r}: use {LAYER_FORMS}") from None
        if not items:
            raise SpecError(f"empty layer spec: use {LAYER_FORMS}")
        return tuple(items)
    text = spec.strip().lower()
    if text == "all":
        return "all"
    match = _RANGE.match(text)
    if match:
        start, end = int(match.group(1)), int(match.group(2))
        if (start < 0) != (end < 0) or start > end:
            raise SpecError(
                f"malformed layer range {spec!r}: both ends must count the same way and go "
                f"upwards, as in '-4..-1' or '1..4'"
            )
        return tuple(range(start, end + 1))
    try:
        items = [int(part) for part in text.split(",")]
    except ValueError:
        raise SpecError(f"malformed layer spec {spec!r}: use {LAYER_FORMS}") from None
    return tuple(items)


def resolve_layers(spec: LayerSpec, num_layers: int) -> list[int]:
    """Absolute ``hidden_states`` indices (0..num_layers) for a model with num_layers layers."""
    parsed = parse_layers(spec)
    if parsed == "all":
        return list(range(1, num_layers + 1))
    resolved = []
    for index in parsed:
        absolute = index if index >= 0 else num_layers + 1 + index
        if not 0 <= absolute <= num_layers:
            raise SpecError(
                f"layer {index} is out of range: this model has {num_layers} layers "
                f"(valid: 0..{num_layers} or -{num_layers + 1}..-1; 0 is the embedding output)"
            )
        resolved.append(absolute)
    return resolved


def pool_tokens(hidden: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """Pool (batch, tokens, dim) into (batch, dim); positions where mask is 0 never count."""
    if pooling == "cls":
        return hidden[:, 0, :]
    weights = mask[:, :, None].astype(hidden.dtype)
    if pooling == "mean":
        counts = np.maximum(weights.sum(axis=1), 1.0)
        return (hidden * weights).sum(axis=1) / counts
    if pooling == "max":
        masked = np.where(weights > 0, hidden, -np.inf)
        return masked.max(axis=1)
    check_pooling(pooling)
    raise AssertionError(pooling)  # unreachable: every pooling that passes the check is handled


def pool_tensor(hidden, mask, pooling: str):  # noqa: ANN001, ANN201 - torch stays an optional import
    """The torch twin of ``pool_tokens`` for fine-tuning: same rules, differentiable."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    if pooling == "max":
        return hidden.masked_fill(weights == 0, float("-inf")).amax(dim=1)
    check_pooling(pooling)
    raise AssertionError(pooling)  # unreachable


def pool_layers(
    layers: Sequence[np.ndarray], mask: np.ndarray, pooling: str, layer_agg: str
) -> np.ndarray:
    """Combine the selected layers and pool them into one float32 vector per text.

    ``mean`` averages the layers token by token before pooling; ``concat`` joins the pooled
    vectors in the order the layers were given (for every pooling here this equals joining the
    token vectors first).
    """
    if layer_agg == "concat":
        return np.concatenate([pool_tokens(h, mask, pooling) for h in layers], axis=1)
    if layer_agg == "mean":
        averaged = layers[0] if len(layers) == 1 else np.mean(np.stack(layers), axis=0)
        return pool_tokens(averaged, mask, pooling)
    check_layer_agg(layer_agg)
    raise AssertionError(layer_agg)  # unreachable


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
