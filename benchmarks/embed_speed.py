"""Embedding speed, start-up, peak memory and quality: bertclf's backends versus
sentence-transformers' ``encode``, in one run, on the same real texts.

Every tool embeds the same texts with the bundled all-MiniLM-L6-v2 (mean pooling, normalised,
256 tokens, every core; sentence-transformers at its default batch size 32, bertclf at its own
defaults: 16 through ONNX Runtime, 32 through torch). Each measurement runs in its own process, so start-up
(imports + model load, timed from the worker's first line) and peak RSS are its own. Cosine is
to bertclf's torch fp32 vectors. A last part times the embedding cache: the same texts embedded
a second time by a new Embedder. With ``--ct2 PYTHON`` (CTranslate2's own venv: see
benchmarks/ct2_worker.py) CTranslate2's int8 encoder runs beside them. With ``--rounds N`` every
tool's process runs N times, rounds interleaved (each tool once, then each tool again), and a
tool's best round counts: this machine's speed drifts by a tenth or more within minutes, and
rounds let the drift fall on every tool. Writes the "Embedding speed" section of
docs/performance.md.

    python benchmarks/embed_speed.py [--data ../shared/data] [--limit 2000] [--repeats 3] [--rounds 1]
                                     [--ct2 PYTHON]
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before any heavy import: start-up counts imports too

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import PERFORMANCE, cpu_line, isa_section, publish, widest_isa  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = [("short", "sms_spam"), ("256-token", "bbc_news")]
TOOLS = {  # name: (backend, dtype) for bertclf; None for sentence-transformers
    "sentence-transformers encode": None,
    "bertclf torch fp32": ("torch", "fp32"),
    "bertclf torch bf16": ("torch", "bf16"),
    "bertclf onnx fp32": ("onnx", "fp32"),
    "bertclf onnx-int8 (default)": ("onnx-int8", "fp32"),
}
REFERENCE = "bertclf torch fp32"
CT2 = "CTranslate2 int8 (batches of 32)"


def load_texts(data: Path, name: str, limit: int) -> list[str]:
    with open(data / name / "test.csv", encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)][:limit]


def worker(tool: str, texts: list[str], repeats: int, vectors_out: str) -> dict:
    """In a child process: load, warm up, time the best of ``repeats`` passes."""
    import numpy as np

    if TOOLS[tool] is None:
        from sentence_transformers import SentenceTransformer

        from bertclf.encode.sources import bundled_model_dir

        model = SentenceTransformer(str(bundled_model_dir()), device="cpu")

        def run(items: list[str]):
            return model.encode(items, batch_size=32, convert_to_numpy=True)
    else:
        from bertclf import Embedder

        backend, dtype = TOOLS[tool]
        embedder = Embedder(backend=backend, dtype=dtype, progress=False, device="cpu")
        embedder.load_encoder()

        def run(items: list[str]):
            return embedder.transform(items)
    vectors, result = best_of(run, texts, repeats, STARTED)
    np.save(vectors_out, np.asarray(vectors, dtype=np.float32))
    return result


def best_of(run: Callable[[list[str]], Any], texts: list[str], repeats: int,
            started: float) -> tuple[Any, dict]:
    """(vectors, figures) of ``run``: start-up from ``started`` to its first call's end, then the
    best of ``repeats`` passes after a warm-up (CTranslate2's worker, in its own venv, uses it too)."""
    run(texts[:8])
    startup = time.perf_counter() - started
    run(texts[:64])  # warm-up
    seconds = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        vectors = run(texts)
        seconds = min(seconds, time.perf_counter() - start)
    return vectors, {"texts": len(texts), "startup_s": startup, "texts_per_s": len(texts) / seconds,
                     "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def cache_worker(texts: list[str], folder: str) -> dict:
    """First pass fills the cache; a new Embedder then reads the same texts back."""
    from bertclf import Embedder
    from bertclf.encode import disk_cache

    first = Embedder(cache=folder, progress=False, device="cpu")
    first.load_encoder()
    start = time.perf_counter()
    first.transform(texts)
    cold = time.perf_counter() - start
    disk_cache.forget_open_caches()  # the second pass opens the database afresh
    start = time.perf_counter()
    Embedder(cache=folder, progress=False, device="cpu").transform(texts)
    warm = time.perf_counter() - start
    return {"texts": len(texts), "cold_s": cold, "warm_s": warm}


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ct2_child(python: str, args: list[str]) -> dict:
    """benchmarks/ct2_worker.py in CTranslate2's venv: its last line, as JSON (nothing for 'convert')."""
    worker = str(Path(__file__).resolve().parent / "ct2_worker.py")
    out = subprocess.run([python, worker, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=2000, help="texts per case, at most (test split)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--rounds", type=int, default=1,
                        help="processes per tool, interleaved across tools; the best round counts")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    parser.add_argument("--ct2", metavar="PYTHON", help="CTranslate2's venv python: add its int8 encoder")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--vectors", help=argparse.SUPPRESS)
    parser.add_argument("--cache-folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        texts = load_texts(args.data, args.case, args.limit)
        result = (cache_worker(texts, args.cache_folder) if args.worker == "cache"
                  else worker(args.worker, texts, args.repeats, args.vectors))
        print(json.dumps(result))
        return
    if not (args.data / "sms_spam").is_dir():
        sys.exit(f"datasets not found under {args.data}: pass --data")
    import numpy as np

    began = time.perf_counter()
    common = ["--data", str(args.data), "--limit", str(args.limit), "--repeats", str(args.repeats)]
    lines = ["| texts | tool | start-up s | texts/s | × sentence-transformers | peak RSS MB | "
             "mean cosine | worst cosine | G multiply-adds/s (share of int8 peak) |",
             "|---|---|---|---|---|---|---|---|---|"]
    from work import bundled_config, int8_peak, macs_per_text, share, share_line, token_counts

    peak, config, work = int8_peak(widest_isa()), bundled_config(), {}
    from bertclf.encode.backends import cpu_has_bf16

    # without bf16 instructions torch emulates bf16 (6x slower than fp32 on an AVX2 EPYC): no one's choice
    tools = [t for t in TOOLS if cpu_has_bf16() or TOOLS[t] != ("torch", "bf16")]
    from bertclf.encode.sources import bundled_model_dir

    model_dir = str(bundled_model_dir())
    with tempfile.TemporaryDirectory() as tmp:
        if args.ct2:
            ct2_child(args.ct2, ["convert", model_dir, f"{tmp}/ct2"])
        for kind, name in CASES:
            results, vectors = {}, {}
            tokens = token_counts(load_texts(args.data, name, args.limit))
            work[kind] = (sum(tokens) / len(tokens), macs_per_text(config, tokens))
            texts_file = Path(f"{tmp}/texts.json")
            texts_file.write_text(json.dumps(load_texts(args.data, name, args.limit)))
            for _ in range(args.rounds):
                for tool in [*tools, *([CT2] if args.ct2 else [])]:
                    path = f"{tmp}/{kind}-{tool.replace(' ', '_')}.npy"
                    if tool == CT2:
                        found = ct2_child(args.ct2, ["run", model_dir, f"{tmp}/ct2", str(texts_file),
                                                     str(args.repeats), path])
                    else:
                        found = child(["--worker", tool, "--case", name, "--vectors", path, *common])
                    if tool not in results or found["texts_per_s"] > results[tool]["texts_per_s"]:
                        results[tool] = found
                    vectors[tool] = np.load(path)
                    print(kind, tool, found, flush=True)
            base = results["sentence-transformers encode"]["texts_per_s"]
            ref = vectors[REFERENCE]
            for tool, r in results.items():
                v = vectors[tool]
                cos = np.sum(v * ref, axis=1) / np.linalg.norm(v, axis=1) / np.linalg.norm(ref, axis=1)
                lines.append(f"| {kind} ({name}, {r['texts']:,}) | {tool} | {r['startup_s']:.1f} | "
                             f"{r['texts_per_s']:,.0f} | {r['texts_per_s'] / base:.2f}× | "
                             f"{r['peak_rss_mb']:,.0f} | {cos.mean():.4f} | {cos.min():.4f} | "
                             f"{r['texts_per_s'] * work[kind][1] / 1e9:,.0f} "
                             f"({share(r['texts_per_s'] * work[kind][1], peak)}) |")
        cache_lines = ["| texts | first pass s | second pass s (from the cache) | speed-up |",
                       "|---|---|---|---|"]
        for kind, name in CASES:
            r = child(["--worker", "cache", "--case", name, "--cache-folder", f"{tmp}/cache-{kind}", *common])
            cache_lines.append(f"| {kind} ({name}, {r['texts']:,}) | {r['cold_s']:.2f} | {r['warm_s']:.3f} | "
                               f"{r['cold_s'] / r['warm_s']:,.0f}× |")
    section, on = isa_section("embed-speed")
    skipped = "" if len(tools) == len(TOOLS) else " torch bf16 left out: this CPU has no bf16 instructions."
    per_text = "; ".join(f"{kind} texts {t:.0f} tokens on average, {m / 1e6:,.0f} M multiply-adds in the "
                         f"encoder layers" for kind, (t, m) in work.items())
    body = "\n".join([f"### Backends{on}", "", f"CPU: {cpu_line()}.{skipped} Work per text: {per_text}. "
                      f"{share_line(widest_isa())}", "", *lines, "",
                      f"### Embedding cache (default backend){on}", "", *cache_lines])
    command = ("python benchmarks/embed_speed.py" + (f" --rounds {args.rounds}" if args.rounds > 1 else "")
               + (" --ct2 benchmarks/.venv-ct2/bin/python" if args.ct2 else ""))
    publish(section, body, command, not args.no_write,
            time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
