"""7-bit weights by text length (issue 44): where does the graph that cannot saturate ONNX Runtime's
fast u8 x s8 kernel keep the cosine goal, and how much faster is it there than the default?

The default int8 graph (8-bit per-channel weights) runs with exact u8 x u8 products on CPUs
without VNNI; the same graph quantised with 7-bit weights (``reduce_range``) runs the u8 x s8
kernel, whose pairs of products then fit 16 bits, so it is exact on every x86 CPU. It lost short
texts (worst cosine 0.953, docs/performance.md, "Int8 graphs and kernels"): this measures it by
length, on natural short texts (sms_spam, ag_news) and on bbc_news cut at 64, 128 and 256
tokens. Both graphs run one text per call on single-threaded sessions, one per core, as the
default backend does, passes interleaved (A, B, A, B, ...) so that the machine's drift falls on
both; cosine is to the fp32 ONNX graph's vectors at the same length.

    python benchmarks/int8_by_length.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from int8_variants import build, cosines, session, texts_of
from results_md import PERFORMANCE, cpu_line, isa_section, publish
from work import token_counts

from bertclf import Embedder

# (label, set, texts, max length)
CASES = [("short (sms_spam)", "sms_spam", 400, 256), ("ag_news", "ag_news", 300, 256),
         ("bbc_news cut at 64", "bbc_news", 200, 64), ("bbc_news cut at 128", "bbc_news", 150, 128),
         ("bbc_news cut at 256", "bbc_news", 100, 256)]


def measure(graphs: dict[str, object], rounds: int) -> list[str]:
    lines = ["| texts | mean tokens | default: texts/s (best, median) | cosine mean / worst | 7-bit weights, "
             "u8s8: texts/s (best, median) | cosine mean / worst | speed-up (best) |",
             "|---|---|---|---|---|---|---|"]
    for label, name, count, length in CASES:
        texts = texts_of(name, count)
        embedder = Embedder(backend="onnx-int8", progress=False, max_length=length)
        backend = embedder.load_encoder()
        fp32 = np.asarray(Embedder(backend="onnx", progress=False, max_length=length).transform(texts))
        tokens = token_counts(texts, length)
        found: dict[str, dict] = {}
        for tag, graph in graphs.items():
            backend.session = graph
            found[tag] = {"cos": cosines(np.asarray(embedder.transform(texts)), fp32), "speed": []}
        for _ in range(rounds):
            for tag, graph in graphs.items():
                backend.session = graph
                started = time.perf_counter()
                embedder.transform(texts)
                found[tag]["speed"].append(len(texts) / (time.perf_counter() - started))
        cells = [f"{max(f['speed']):.1f} ({np.median(f['speed']):.1f}) | {f['cos'].mean():.4f} / "
                 f"{f['cos'].min():.4f}" for f in found.values()]
        first, second = (max(f["speed"]) for f in found.values())
        lines.append(f"| {label} | {np.mean(tokens):.0f} | {cells[0]} | {cells[1]} | "
                     f"{second / first:.2f} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="bertclf-int8-length-"))
    graphs = {"default": session(build(folder, False), exact=True),
              "7-bit": session(build(folder, True), exact=False)}
    lines = measure(graphs, args.rounds)
    body = (f"On {cpu_line()}: texts/s, the best and the median of {args.rounds} interleaved passes, every "
            "core, one text per call. The default graph has 8-bit weights and exact u8 x u8 products; the "
            "other, 7-bit weights and ONNX Runtime's u8 x s8 kernel. Cosine to the fp32 ONNX graph's vectors "
            "at the same length; the goal is 0.995 mean and 0.98 worst.\n\n" + "\n".join(lines))
    publish(isa_section("int8-by-length")[0], body, "python benchmarks/int8_by_length.py",
            write=not args.no_write,
            seconds=time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
