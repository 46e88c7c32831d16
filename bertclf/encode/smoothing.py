"""SmoothQuant's migration before int8: a few channels of a LayerNorm's output are far larger than
the rest, and dynamic int8 scales a whole tensor by its largest value, so the other channels keep
few levels. Dividing those channels by s (a Mul on the branch into the MatMuls) and multiplying
the MatMuls' weight rows by s leaves the product unchanged and the activation evener to quantize
(Xiao et al., 2023). s = max|X|^alpha / max|W|^(1 - alpha), max|X| measured on calibration texts.

Only LayerNorm outputs are smoothed: measured, smoothing the attention context and the GELU output
as well made the worst cosine far lower (docs/performance.md, "Batch-independent int8").
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

ALPHA = 0.7  # measured best of 0.6-0.8 on five sets it was not calibrated on


Peaks = dict[str, np.ndarray]  # each smoothed activation's largest value per channel


def smooth(fp32: Path, out: Path, batches: Iterable[dict[str, np.ndarray]], alpha: float = ALPHA,
           producers: tuple[str, ...] | None = ("LayerNormalization",), known: Peaks | None = None) -> Path:
    """Write ``out``: the graph of ``fp32`` with the inputs of its weight MatMuls smoothed, where
    the input comes from an op in ``producers`` (None: every input). ``batches`` are padded model
    inputs (calibration texts) whose real tokens give each channel's largest value; ``known``
    peaks (measured on a graph of the same architecture) are used instead where they name every
    activation to smooth, and ``batches`` is then never read."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    groups = _groups(graph, producers)
    if not groups:
        onnx.save(model, str(out))
        return out
    rows = {name: weights[nodes[0].input[1]].dims[0] for name, nodes in groups.items()}
    covered = known is not None and all(name in known and known[name].shape == (n,)
                                        for name, n in rows.items())
    peak = known if covered else peaks(fp32, batches, producers)
    for name, nodes in groups.items():
        matrices = [numpy_helper.to_array(weights[n.input[1]]) for n in nodes]
        wmax = np.max([np.abs(w).max(1) for w in matrices], axis=0)
        scale = np.clip(peak[name] ** alpha / np.maximum(wmax, 1e-5) ** (1 - alpha), 1e-5, None)
        graph.initializer.append(numpy_helper.from_array((1 / scale).astype(np.float32), f"{name}_smooth"))
        graph.node.append(helper.make_node("Mul", [name, f"{name}_smooth"], [f"{name}_smoothed"]))
        for node, w in zip(nodes, matrices, strict=True):
            weights[node.input[1]].CopyFrom(numpy_helper.from_array((w * scale[:, None]).astype(np.float32),
                                                                     node.input[1]))
            node.input[0] = f"{name}_smoothed"
    _sort(graph)
    onnx.save(model, str(out))
    return out


def peaks(fp32: Path, batches: Iterable[dict[str, np.ndarray]],
          producers: tuple[str, ...] | None = ("LayerNormalization",)) -> Peaks:
    """The largest value per channel of each activation ``smooth`` would smooth, over the real
    tokens of ``batches``."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    probe = onnx.load(str(fp32))
    groups = _groups(probe.graph, producers)
    for name in groups:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    peak: Peaks = {}
    for batch in batches:
        found = session.run(list(groups), {k: v for k, v in batch.items() if k in inputs})
        real = batch["attention_mask"].astype(bool)
        for name, value in zip(groups, found, strict=True):
            top = np.abs(value[real]).max(0)
            peak[name] = np.maximum(peak[name], top) if name in peak else top
    return peak


def _groups(graph: Any, producers: tuple[str, ...] | None) -> dict[str, list[Any]]:
    """Each activation to smooth (a weight MatMul's input made by an op in ``producers``) and
    the MatMul nodes that read it."""
    weights = {i.name for i in graph.initializer}
    made_by = {output: node.op_type for node in graph.node for output in node.output}
    groups: dict[str, list[Any]] = {}
    for node in graph.node:
        x = node.input[0] if node.op_type == "MatMul" else None
        if x and node.input[1] in weights and x not in weights and \
                (producers is None or made_by.get(x) in producers):
            groups.setdefault(x, []).append(node)
    return groups


def _sort(graph: Any) -> None:
    """Topological order again: the new Mul nodes were appended last."""
    ordered, ready = [], {i.name for i in graph.input} | {i.name for i in graph.initializer}
    waiting = list(graph.node)
    while waiting:
        later = [n for n in waiting if not all(not x or x in ready for x in n.input)]
        if len(later) == len(waiting):  # inputs from outside the graph's own names: keep their order
            ordered += later
            break
        for node in waiting:
            if node not in later:
                ordered.append(node)
                ready.update(node.output)
        waiting = later
    del graph.node[:]
    graph.node.extend(ordered)


def calibration_texts() -> list[str]:
    """The texts that measure each channel's range: the project's own support tickets (short), and
    runs of 20 of them joined (long documents), so neither length is out of range."""
    path = Path(__file__).with_name("calibration.txt")
    tickets = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tickets + [" ".join(tickets[i:i + 20]) for i in range(0, len(tickets), 10)]
