"""ONNX Runtime's own fusions at session start, one by one (issue 44): which of them make the
batch-independent int8 default slower on this CPU?

A session made at ONNX Runtime's default optimisation level rewrites the exported graph: among
others it fuses each residual Add and LayerNormalization into SkipLayerNormalization and the
Erf-based GELU into one Gelu node. A profile of the default graph on AVX-512 VNNI put the fused
SkipLayerNormalization at 8.7 % of a 256-token text's kernel time, about eight times the cost
per element of the plain LayerNormalization beside it. Here each fusion is turned off with
``disabled_optimizers`` on the same graph; every variant runs one text per call on
single-threaded sessions, one per core, as the default backend does, passes interleaved (A, B,
C, ..., A, B, C, ...) so that the machine's drift falls on each; sentence-transformers' `encode`
runs in the same rounds. Cosine is to the fp32 ONNX graph's vectors. The fp32 graph's own
session is measured with and without the same fusions too, in batches as the `onnx` backend
runs it (it shares the session code).

    python benchmarks/int8_fusions.py [--rounds 6] [--no-write]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from int8_variants import cosines, texts_of
from results_md import PERFORMANCE, cpu_line, isa_section, publish

from bertclf import Embedder

CASES = [("short (sms_spam)", "sms_spam", 500), ("ag_news", "ag_news", 300),
         ("256-token (bbc_news)", "bbc_news", 100)]
VARIANTS = {"ONNX Runtime's default fusions": (), "no SkipLayerNormFusion": ("SkipLayerNormFusion",),
            "no GeluFusion": ("GeluFusion",),
            "no SkipLayerNormFusion, no GeluFusion": ("SkipLayerNormFusion", "GeluFusion")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    from sentence_transformers import SentenceTransformer

    from bertclf.encode.onnx_export import onnx_model
    from bertclf.encode.rowwise import make_session

    embedders = {kind: Embedder(backend=backend, progress=False) for kind, backend in
                 (("int8", "onnx-int8"), ("fp32", "onnx"))}
    backends = {kind: e.load_encoder() for kind, e in embedders.items()}
    source = embedders["int8"].settings().source
    st = SentenceTransformer(str(source.location), device="cpu")
    # int8 one text per call on 1-thread sessions, fp32 batched on every core: as each backend runs
    runs = {f"{kind} graph, {label}": (kind, make_session(onnx_model(source, kind),
                                                          1 if kind == "int8" else None, unfused=disabled))
            for kind in ("int8", "fp32") for label, disabled in VARIANTS.items()}
    lines = ["| texts | session | texts/s best (median) | × ST (best) | × default fusions (median) | "
             "cosine to fp32 mean / worst |", "|---|---|---|---|---|---|"]
    references = {name: np.asarray(embedders["fp32"].transform(texts_of(name, count)))
                  for _, name, count in CASES}  # before any session is swapped in
    for label, name, count in CASES:
        texts, fp32 = texts_of(name, count), references[name]
        found: dict[str, dict] = {}
        for tag, (kind, made) in runs.items():
            backends[kind].session = made
            found[tag] = {"cos": cosines(np.asarray(embedders[kind].transform(texts)), fp32), "speed": []}
        st_speed = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            st.encode(texts, batch_size=32)
            st_speed.append(len(texts) / (time.perf_counter() - started))
            for tag, (kind, made) in runs.items():
                backends[kind].session = made
                started = time.perf_counter()
                embedders[kind].transform(texts)
                found[tag]["speed"].append(len(texts) / (time.perf_counter() - started))
        lines.append(f"| {label} | sentence-transformers encode (batches of 32) | {max(st_speed):.1f} "
                     f"({np.median(st_speed):.1f}) | 1.00 | | |")
        for tag, f in found.items():
            base = found[f"{runs[tag][0]} graph, ONNX Runtime's default fusions"]["speed"]
            lines.append(f"| {label} | {tag} | {max(f['speed']):.1f} ({np.median(f['speed']):.1f}) | "
                         f"{max(f['speed']) / max(st_speed):.2f} | "
                         f"{np.median(f['speed']) / np.median(base):.2f} | "
                         f"{f['cos'].mean():.4f} / {f['cos'].min():.4f} |")
        print("\n".join(lines[-len(found) - 1:]), flush=True)
    section, on = isa_section("int8-fusions")
    body = (f"On {cpu_line()}{on}: texts/s, the best and the median of {args.rounds} interleaved rounds, "
            "every core; the int8 graph one text per call on single-threaded sessions, the fp32 graph in "
            "batches of 16 on one session of every core, as the two backends run them, sessions as "
            "bertclf makes them but for the fusions named. Cosine to the fp32 ONNX graph's vectors (with "
            "ONNX Runtime's default fusions).\n\n" + "\n".join(lines))
    publish(section, body, "python benchmarks/int8_fusions.py", write=not args.no_write,
            seconds=time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
