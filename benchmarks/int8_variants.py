"""Which int8 graph and session settings are fastest on this CPU while keeping what the default
promises (issue 44)? Each variant embeds the same texts one text per call, texts side by side on
single-threaded ONNX Runtime sessions (one per core), exactly as the default onnx-int8 backend
does, and is compared with the fp32 ONNX graph's vectors (cosine: mean and worst) and with
sentence-transformers' `encode` in the same run.

Variants (all SmoothQuant-smoothed, per-channel, MatMul only, dynamic u8 activations):
- s8 weights, exact u8u8 products (`session.x64quantprecision`): today's default;
- s8 weights, ONNX Runtime's u8s8 kernel: on CPUs without VNNI it sums pairs of products in 16
  bits and can saturate;
- 7-bit weights (`reduce_range`), u8s8 kernel: pairs of products cannot saturate;
- 7-bit weights, exact u8u8 products, to tell the kernel's share from the weights';
- 8-bit weights, activations quantized to 7 bits (0..127, from plain ONNX ops in place of
  DynamicQuantizeLinear), u8s8 kernel: pairs of products cannot saturate either;
- 7-bit weights in some MatMuls only: the attention's four, or those and the first
  feed-forward one, 8-bit in the rest (each group alone, measured for cosine: the feed-forward
  output, whose input is the GELU's, loses most at 7 bits), with exact products; whether ONNX
  Runtime then runs the 7-bit MatMuls faster is what this row measures.

    python benchmarks/int8_variants.py [--limit 500] [--long-limit 100] [--repeats 2]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from results_md import PERFORMANCE, cpu_line, isa_section, publish, widest_isa
from work import bundled_config, int8_peak, macs_per_text, share, share_line, token_counts

from bertclf import Embedder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = [("short", "sms_spam"), ("256-token", "bbc_news")]


def texts_of(name: str, limit: int) -> list[str]:
    with open(DATA / name / "test.csv", encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)][:limit]


def build(folder: Path, reduce_range: bool) -> Path:
    """The smoothed int8 graph of the bundled encoder, with 8- or 7-bit weights, made as the
    export makes it."""
    from bertclf.encode.onnx_export import onnx_model, quantize

    source = Embedder().settings().source
    out = folder / f"int8-{'7bit' if reduce_range else '8bit'}.onnx"
    quantize(onnx_model(source, "fp32"), out, source, reduce_range=reduce_range)
    return out


def seven_bit_activations(graph: Path, out: Path) -> Path:
    """``graph`` with each DynamicQuantizeLinear replaced by the same range-based u8 quantization
    onto 0..127 instead of 0..255, so that no pair of u8 x s8 products can pass 16 bits."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(graph))
    nodes = []
    consts = {"zero": 0.0, "c127": 127.0, "tiny": 1e-8, "lo": 0.0, "hi": 127.0}
    for name, value in consts.items():
        constant = numpy_helper.from_array(np.asarray(value, dtype=np.float32), f"q7_{name}")
        model.graph.initializer.append(constant)
    for node in model.graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        x, (q, scale, zero) = node.input[0], node.output
        t = f"{q}_q7"
        nodes += [helper.make_node("ReduceMin", [x], [f"{t}_min0"], keepdims=0),
                  helper.make_node("Min", [f"{t}_min0", "q7_zero"], [f"{t}_min"]),
                  helper.make_node("ReduceMax", [x], [f"{t}_max0"], keepdims=0),
                  helper.make_node("Max", [f"{t}_max0", "q7_zero"], [f"{t}_max"]),
                  helper.make_node("Sub", [f"{t}_max", f"{t}_min"], [f"{t}_range"]),
                  helper.make_node("Div", [f"{t}_range", "q7_c127"], [f"{t}_scale0"]),
                  helper.make_node("Max", [f"{t}_scale0", "q7_tiny"], [scale]),
                  helper.make_node("Div", [f"{t}_min", scale], [f"{t}_zp0"]),
                  helper.make_node("Neg", [f"{t}_zp0"], [f"{t}_zp1"]),
                  helper.make_node("Round", [f"{t}_zp1"], [f"{t}_zp2"]),
                  helper.make_node("Clip", [f"{t}_zp2", "q7_lo", "q7_hi"], [f"{t}_zp3"]),
                  helper.make_node("Cast", [f"{t}_zp3"], [zero], to=TensorProto.UINT8),
                  helper.make_node("QuantizeLinear", [x, scale, zero], [q])]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(out))
    return out


# MatMul groups of a BERT layer, by the exported node names
GROUPS = {"attention": ("self/query", "self/key", "self/value", "attention/output/dense"),
          "first feed-forward": ("intermediate/dense",)}


def mixed(eight: Path, seven: Path, groups: tuple[str, ...], out: Path) -> Path:
    """``eight`` with the quantized weights (and their scales) of the MatMuls in ``groups`` taken
    from ``seven``, the same graph quantized with 7-bit weights."""
    import onnx

    base, donor = onnx.load(str(eight)), onnx.load(str(seven))
    parts = [part for g in groups for part in GROUPS[g]]
    stems = {n.input[1].removesuffix("_quantized") for n in base.graph.node
             if n.op_type == "MatMulInteger" and any(part in n.name for part in parts)}
    taken = {i.name: i for i in donor.graph.initializer}
    for tensor in base.graph.initializer:
        if any(tensor.name.startswith(stem) for stem in stems):
            tensor.CopyFrom(taken[tensor.name])
    onnx.save(base, str(out))
    return out


def session(path: Path, exact: bool):  # noqa: ANN201
    """One thread, exact u8 x u8 products or not, otherwise as bertclf makes its sessions."""
    from bertclf.encode.rowwise import make_session

    return make_session(path, 1, exact=exact)


def timed(embed, texts: list[str], repeats: int) -> tuple[np.ndarray, float]:  # noqa: ANN001
    embed(texts[:8])  # warm
    best, vectors = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        vectors = np.asarray(embed(texts))
        best = min(best, time.perf_counter() - started)
    return vectors, len(texts) / best


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def compare(graphs: dict[str, tuple[Path, bool]], limit: int, long_limit: int, repeats: int) -> list[str]:
    """Table rows: sentence-transformers, then each labelled (graph, exact u8u8 products) run one
    text per call by the default backend's sessions, on the short and the 256-token texts. A
    graph ONNX Runtime refuses gets a row saying so."""
    embedder = Embedder(backend="onnx-int8", progress=False)
    backend = embedder.load_encoder()
    reference = Embedder(backend="onnx", progress=False)
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(embedder.settings().source.location), device="cpu")
    lines = ["| case | tool | texts/s | × ST | cosine to fp32 mean | worst | share of int8 peak |",
             "|---|---|---|---|---|---|---|"]
    peak, config = int8_peak(widest_isa()), bundled_config()
    for case, name in CASES:
        texts = texts_of(name, limit if case == "short" else long_limit)
        macs = macs_per_text(config, token_counts(texts))
        fp32, _ = timed(reference.transform, texts, 1)
        _, st_speed = timed(lambda t: st.encode(t, batch_size=32), texts, repeats)
        lines.append(f"| {case} | sentence-transformers encode | {st_speed:.1f} | 1.00 | – | – | "
                     f"{share(st_speed * macs, peak)} |")
        print(lines[-1], flush=True)
        for label, (graph, exact) in graphs.items():
            try:
                backend.session = session(graph, exact)
                vectors, speed = timed(embedder.transform, texts, repeats)
            except Exception as exc:  # noqa: BLE001 - a graph ONNX Runtime refuses is a finding too
                why = str(exc).splitlines()[0][:120]
                lines.append(f"| {case} | bertclf onnx-int8, {label} | failed: {why} | | | | |")
                print(lines[-1], flush=True)
                continue
            cos = cosines(vectors, fp32)
            lines.append(f"| {case} | bertclf onnx-int8, {label} | {speed:.1f} | {speed / st_speed:.2f} | "
                         f"{cos.mean():.4f} | {cos.min():.4f} | {share(speed * macs, peak)} |")
            print(lines[-1], flush=True)
    return lines


def arguments(doc: str) -> argparse.Namespace:
    """The options both int8 benchmarks take."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--long-limit", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", default="", help="variants to run, separated by ';' (default: all)")
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    began = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="bertclf-int8-variants-"))
    graphs = {False: build(folder, False), True: build(folder, True)}
    graphs["a7"] = seven_bit_activations(graphs[False], folder / "int8-a7.onnx")
    graphs["attention"] = mixed(graphs[False], graphs[True], ("attention",), folder / "int8-mixed-a.onnx")
    graphs["attention, first ff"] = mixed(graphs[False], graphs[True], ("attention", "first feed-forward"),
                                          folder / "int8-mixed-af.onnx")
    variants = {"s8 weights, exact u8u8 (default)": (False, True), "s8 weights, u8s8 kernel": (False, False),
                "7-bit weights, u8s8 kernel": (True, False), "7-bit weights, exact u8u8": (True, True),
                "7-bit activations, u8s8 kernel": ("a7", False),
                "7-bit attention weights, exact u8u8": ("attention", True),
                "7-bit attention and first feed-forward weights, exact u8u8": ("attention, first ff", True)}
    if args.only:
        variants = {k: v for k, v in variants.items() if k in args.only.split(";")}
    lines = compare({label: (graphs[kind], exact) for label, (kind, exact) in variants.items()},
                    args.limit, args.long_limit, args.repeats)
    body = (f"Texts/s on {cpu_line()}, best of {args.repeats} passes, every core; {args.limit} short texts "
            f"(sms_spam) and {args.long_limit} 256-token texts (bbc_news, test split). Cosine to the fp32 "
            f"ONNX graph's vectors. {share_line(widest_isa())}\n\n" + "\n".join(lines))
    publish(isa_section("int8-variants")[0], body, "python benchmarks/int8_variants.py",
            write=not args.no_write,
            seconds=time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
