"""Embedding speed and peak memory: bertclf versus SentenceTransformer.encode, same run.

Both embed the same texts with the bundled all-MiniLM-L6-v2 (mean pooling, normalised, 256
tokens, batch size 32). Each measurement runs in its own process so peak RSS is its own.

    python benchmarks/embed_speed.py [--data ../shared/data] [--limit 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = [("short", "sms_spam"), ("long", "bbc_news")]
TOOLS = ("sentence-transformers", "bertclf")


def load_texts(data: Path, name: str, limit: int) -> list[str]:
    with open(data / name / "test.csv", encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)][:limit]


def worker(tool: str, data: Path, name: str, limit: int, threads: int | None, repeats: int) -> dict:
    """Runs in a child process: load, warm up, time the best of ``repeats`` passes, peak RSS."""
    import torch

    from bertclf.models import bundled_model_dir, load_tokenizer, resolve

    if threads:
        torch.set_num_threads(threads)
    texts = load_texts(data, name, limit)
    start = time.perf_counter()
    if tool == "bertclf":
        from bertclf import Embedder

        embedder = Embedder(batch_size=32, progress=False)
        embedder.load_encoder()

        def run(items: list[str]):
            return embedder.transform(items)

        tok = load_tokenizer(resolve(None))
    else:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(bundled_model_dir()), device="cpu")

        def run(items: list[str]):
            return model.encode(items, batch_size=32, convert_to_numpy=True)

        tok = model.tokenizer
    load_s = time.perf_counter() - start
    run(texts[:64])  # warm-up
    seconds = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        vectors = run(texts)
        seconds = min(seconds, time.perf_counter() - start)
    tokens = sum(min(len(ids), 256) for ids in tok(texts)["input_ids"])
    return {
        "tool": tool,
        "texts": len(texts),
        "mean_tokens": tokens / len(texts),
        "load_s": load_s,
        "texts_per_s": len(texts) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "dim": int(vectors.shape[1]),
    }


def measure(tool: str, data: Path, name: str, limit: int, threads: int | None,
            repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", tool, "--case", name, "--data", str(data),
           "--limit", str(limit), "--repeats", str(repeats)]
    cmd += ["--threads", str(threads)] if threads else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=2000, help="texts per dataset (test split)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.case, args.limit, args.threads, args.repeats)))
        return
    if not (args.data / "sms_spam").is_dir():
        sys.exit(f"datasets not found under {args.data}: pass --data")
    header = f"{'texts':<7} {'dataset':<10} {'n':>5} {'tokens':>6}  {'tool':<22} {'load s':>6} " \
             f"{'texts/s':>8} {'peak MB':>8}  {'speed vs ST':>11}"
    print(header)
    print("-" * len(header))
    for kind, name in CASES:
        results = {tool: measure(tool, args.data, name, args.limit, args.threads, args.repeats)
                   for tool in TOOLS}
        base = results["sentence-transformers"]["texts_per_s"]
        for tool, r in results.items():
            print(f"{kind:<7} {name:<10} {r['texts']:>5} {r['mean_tokens']:>6.0f}  {tool:<22} "
                  f"{r['load_s']:>6.1f} {r['texts_per_s']:>8.1f} {r['peak_rss_mb']:>8.0f}  "
                  f"{r['texts_per_s'] / base:>10.2f}x")


if __name__ == "__main__":
    main()
