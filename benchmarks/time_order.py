"""`train --auto` with its check rows drawn at random against the latest rows (`--time-col`), on
reuters_r8 (issue 43): the one shared set whose split follows time (ModApté: the test documents
come after the training ones). Its training rows are in source order, which follows time roughly,
so their row numbers stand in for dates. Each run is the whole command at `--budget 10m` with an
empty cache; prints one JSON row per run (test accuracy, the check estimate, the winner) and
appends it to ``--rows``. docs/auto.md, "Rows in time order", gives the figures.

    python benchmarks/time_order.py [--runs shuffled,time] [--rows FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from pathlib import Path

from auto import timed

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "reuters_r8"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="shuffled,time")
    parser.add_argument("--rows", default=None, help="JSON-lines file the rows are appended to")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bertclf-time-order-"))
    with open(DATA / "train.csv", newline="", encoding="utf-8") as source, \
            open(work / "train.csv", "w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(["text", "label", "n"])
        for n, row in enumerate(csv.DictReader(source)):
            writer.writerow([row["text"], row["label"], n])
    for run in args.runs.split(","):
        os.environ["BERTCLF_CACHE"] = tempfile.mkdtemp(prefix=f"bertclf-time-order-cache-{run}-")
        out, seconds, rss = timed(["train", str(work / "train.csv"), "--test", str(DATA / "test.csv"),
                                   "--auto", "--budget", "10m", "--out", str(work / run), "--json", "-q",
                                   *(["--time-col", "n"] if run == "time" else [])])
        metrics = out["metrics"]
        row = {"run": run, "test": metrics["accuracy"], "estimate": metrics["auto"]["estimate"],
               "chosen": metrics["auto"]["chosen"], "seconds": round(seconds), "peak_rss_mb": round(rss)}
        print(json.dumps(row), flush=True)
        if args.rows:
            with open(args.rows, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
