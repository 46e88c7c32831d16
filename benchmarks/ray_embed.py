"""`bertclf embed --engine ray` against the local engine on the same file, on this machine.

Embeds the same synthetic CSV (the generator of stream_memory.py) with the default backend and
the cache off, locally and on a fresh local Ray cluster, each as its own `bertclf` process, and
checks the vectors agree. Writes the "Ray" section of docs/performance.md.

    python benchmarks/ray_embed.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from results_md import PERFORMANCE, publish
from stream_memory import write_input


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("bertclf")), *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.csv"
        write_input(source, args.rows)
        common = ["embed", str(source), "--no-cache", "-q"]
        local = timed([*common, "--out", f"{tmp}/local.npy"])
        ray = timed([*common, "--engine", "ray", "--out", f"{tmp}/ray.npy"])
        a, b = np.load(f"{tmp}/local.npy"), np.load(f"{tmp}/ray.npy")
        cosine = float(np.min(np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))
    body = "\n".join([
        "### Ray against the local engine", "",
        "| engine | texts | wall s (whole command, start-up included) | texts/s |", "|---|---|---|---|",
        f"| local | {args.rows:,} | {local:.0f} | {args.rows / local:,.0f} |",
        f"| ray (a new local cluster: 2 actors × 1 thread) | {args.rows:,} | {ray:.0f} | "
        f"{args.rows / ray:,.0f} |",
        "", f"Worst cosine between the two engines' vectors: {cosine:.4f} (int8 vectors move slightly "
        "with their batch; `--backend onnx` makes them equal)."])
    publish("ray-embed", body, "python benchmarks/ray_embed.py", not args.no_write,
            time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
