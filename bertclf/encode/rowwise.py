"""Dynamic int8 one text at a time: the same vector whatever a text's batch-mates.

Dynamic quantization scales each MatMul's input by the range of the whole tensor it sees, so in
a padded batch one text's vector moved with its neighbours (max difference 0.06). Run alone, a
text is scaled by its own range only. Texts of a batch run side by side on single-threaded
ONNX Runtime calls (one per core), which measured faster than a batched call as well: no padding
and no thread hand-offs inside small MatMuls (docs/performance.md, "Batch-independent int8").
The batched call (fp32 graphs) and the session both backends make are here too, so the cached
export (``backends``) and a model folder's shipped graph (``shipped``) run the same code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=8)
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="bertclf-int8")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """This CPU's feature flags from /proc/cpuinfo (empty where there is none), read once."""
    from pathlib import Path

    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return frozenset()
    return frozenset(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))


def needs_exact_products() -> bool:
    """Whether int8 sessions must ask ONNX Runtime for exact u8 x u8 products on this CPU.

    Its default u8 x s8 kernel on x86 CPUs without AVX-512 VNNI (AVX2, AVX-512 without VNNI) adds
    pairs of products in saturating 16-bit lanes (255 * 127 * 2 > 32767): on an AVX2 EPYC the
    worst short text's cosine to fp32 fell to 0.958. VNNI's instruction sums in 32 bits, exact
    already, and there the exact u8 x u8 path only costs speed (measured on an AVX-512 VNNI EPYC:
    343 against 486 short texts/s, 36 against 62 at 256 tokens; docs/performance.md). AVX-VNNI
    (the 256-bit form) is left on the exact path: not measured here."""
    return "avx512_vnni" not in cpu_flags()


# ONNX Runtime's fusions left out when a session starts. It fuses each residual Add and the
# LayerNormalization after it into SkipLayerNormalization; on the int8 graph, one text per call,
# the two plain ops ran 1.11-1.13x faster than that fused kernel (short to 256-token texts, same
# vectors to four decimals of cosine), and the fp32 graph ran the same either way
# (benchmarks/int8_fusions.py, AVX-512 VNNI; docs/performance.md).
UNFUSED = ("SkipLayerNormFusion",)


def make_session(graph: Any, threads: int | None, exact: bool | None = None,
                 unfused: Sequence[str] = UNFUSED) -> Any:
    """An ONNX Runtime CPU session for a graph (a path, mapped from the file, or bytes).

    ``exact`` asks for exact u8 x u8 int8 products (``session.x64quantprecision``); by default
    where this CPU's u8 x s8 kernel would saturate (``needs_exact_products``). Either way the
    integer products are exact, so a graph answers the same on every x86 CPU. The ONNX Runtime
    fusions named in ``unfused`` are off (``UNFUSED``; benchmarks try others)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if needs_exact_products() if exact is None else exact:
        options.add_session_config_entry("session.x64quantprecision", "1")
    if threads:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(graph) if not isinstance(graph, bytes) else graph, options,
                                providers=["CPUExecutionProvider"], disabled_optimizers=list(unfused))


def _feed(inputs: Sequence[str], batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph's inputs from a padded batch (token types are zeros when the batch has none)."""
    return {name: batch[name] if name in batch else np.zeros_like(batch["input_ids"]) for name in inputs}


def batched_states(session: Any, inputs: Sequence[str], batch: dict[str, np.ndarray],
                   layers: Sequence[int]) -> list[np.ndarray]:
    """One call for the whole padded batch; only the requested layers are computed out."""
    wanted = list(dict.fromkeys(layers))
    found = session.run([f"hidden_{i}" for i in wanted], _feed(inputs, batch))
    outputs = dict(zip(wanted, found, strict=True))
    return [outputs[i] for i in layers]


def hidden_states(session: Any, inputs: Sequence[str], batch: dict[str, np.ndarray], layers: Sequence[int],
                  workers: int) -> list[np.ndarray]:
    """Like a batched run's outputs (batch, tokens, hidden) for ``layers``, each row computed
    alone without its padding; padded positions are zero (pooling never reads them)."""
    wanted = list(dict.fromkeys(layers))
    names = [f"hidden_{i}" for i in wanted]
    lengths = batch["attention_mask"].sum(axis=1)
    ids = batch["input_ids"]
    fed = _feed(inputs, batch)

    def one(row: int) -> list[np.ndarray]:
        n = int(lengths[row])
        return session.run(names, {name: value[row:row + 1, :n] for name, value in fed.items()})

    results = _each_row(one, len(ids), workers)
    out = {}
    for k, layer in enumerate(wanted):
        states = np.zeros((len(ids), ids.shape[1], results[0][k].shape[-1]), dtype=np.float32)
        for row, result in enumerate(results):
            states[row, :int(lengths[row])] = result[k][0]
        out[layer] = states
    return [out[i] for i in layers]


def _each_row(one: Any, count: int, workers: int) -> list[Any]:
    """``[one(row) for row in range(count)]``, rows shared out to ``workers`` pool threads that
    each take the next row as they finish one: a hand-off per worker and call rather than per
    row. A pooled task per row spent about 3% of the encoder threads' time handing results
    back under ``bertclf serve``'s load (py-spy); sharing rows out took the server from a median
    of 673 to 736 one-text requests/s at 32 clients (9 runs each, interleaved, AVX-512 VNNI)."""
    if workers <= 1 or count <= 1:
        return [one(row) for row in range(count)]
    results: list[Any] = [None] * count
    rows = iter(range(count))  # next() on a range iterator is atomic under the GIL

    def drain() -> None:
        for row in rows:
            results[row] = one(row)

    for task in [_pool(workers).submit(drain) for _ in range(min(workers, count))]:
        task.result()
    return results
