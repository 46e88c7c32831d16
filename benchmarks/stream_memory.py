"""Peak memory of `bertclf embed` on ever larger files: flat when input and output stream.

Writes CSV files of 10,000 / 100,000 / 1,000,000 distinct synthetic support-ticket lines (about
20 tokens each), embeds each with the default settings (cache off, so every text runs through
the encoder) into .npy, and reports the peak RSS of each run, its own process. Holding the
vectors alone in memory would take rows x 384 x 4 bytes. Writes the "Streaming" section of
docs/performance.md.

    python benchmarks/stream_memory.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_md import PERFORMANCE, publish

WORDS = ("order parcel refund invoice card account login password delivery payment subscription "
         "charge address email app screen update driver courier warehouse").split()


def write_input(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "text"])
        for i in range(rows):
            a, b, c = WORDS[i % 20], WORDS[(i // 20) % 20], WORDS[(i // 400) % 20]
            out.writerow([i, f"ticket {i}: my {a} and the {b} are wrong again, nobody answered about "
                             f"the {c}"])


def worker(source: str, out: str) -> dict:
    from bertclf.cli import main

    start = time.perf_counter()
    try:
        main(["embed", source, "--no-cache", "--out", out, "-q"], standalone_mode=False)
    finally:
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    began = time.perf_counter()
    lines = ["### Streaming: peak memory by file size", "",
             "| texts | input MB | output MB | peak RSS MB | the vectors alone, in memory, MB | seconds | "
             "texts/s |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (int(s) for s in args.sizes.split(",")):
            source, out = Path(tmp) / f"in-{rows}.csv", Path(tmp) / f"v-{rows}.npy"
            write_input(source, rows)
            done = subprocess.run([sys.executable, __file__, "--worker", str(source), str(out)], check=True,
                                  capture_output=True, text=True).stdout
            r = json.loads(done.strip().splitlines()[-1])
            size_in, size_out = source.stat().st_size / 1e6, out.stat().st_size / 1e6
            lines.append(f"| {rows:,} | {size_in:,.0f} | {size_out:,.0f} | "
                         f"{r['peak_rss_mb']:,.0f} | {rows * 384 * 4 / 1e6:,.0f} | {r['seconds']:,.0f} | "
                         f"{rows / r['seconds']:,.0f} |")
            print(lines[-1], flush=True)
            source.unlink()
            out.unlink()
    publish("stream-memory", "\n".join(lines), "python benchmarks/stream_memory.py", not args.no_write,
            time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
