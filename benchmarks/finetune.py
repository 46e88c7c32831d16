"""Fine-tuning beside frozen embeddings and TF-IDF on the shared real datasets (`bertclf.search.compare`).

For each set: the full train split, scored on the test split; TF-IDF + logistic regression,
frozen embeddings + logistic regression (train's defaults) and the fine-tuned bundled encoder,
all through `bertclf.search.compare` (saved, loaded back, then timed on the test texts). Prints the
table, peak memory and the fine-tuning history, and writes the section to docs/results.md.

    python benchmarks/finetune.py --set banking77 --epochs 5 --lr 1e-4
    python benchmarks/finetune.py --set sst2 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import warnings
from datetime import date
from pathlib import Path

from results_md import RESULTS, write_section

from bertclf.finetune.finetuner import FineTuner
from bertclf.io.labels import read_labelled
from bertclf.render.console import human_bytes
from bertclf.search.comparison import compare

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"1 {torch.cuda.get_device_name(0)} GPU, {os.cpu_count()} CPU cores"
    threads = torch.get_num_threads()
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), no GPU, {threads} torch threads"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- finetune.py {name}: begin -->", f"<!-- finetune.py {name}: end -->"


def section(name: str, rows: list[dict], args: argparse.Namespace, train_n: int, test_n: int,
            peak_mb: float) -> str:
    tune = next((r for r in rows if r["approach"] == "finetune"), None)
    precision = args.precision
    if precision == "auto":  # what FineTuner's "auto" means on this machine
        import torch

        precision = "bf16 autocast" if torch.cuda.is_available() else "fp32"
    lines = [
        markers(name)[0],
        f"### {name} ({train_n:,} train / {test_n:,} test texts)",
        "",
        f"Fine-tuning: bundled all-MiniLM-L6-v2, mean pooling, {args.epochs} epoch(s), lr {args.lr:g}, "
        f"batch {args.batch_size}, max length {args.max_length}, warm-up 10 %, 10 % of train for "
        f"validation (best epoch kept), seed 13, {precision}. Measured {date.today()} on {machine()}; "
        f"peak RSS of the whole run {peak_mb:,.0f} MB.",
        "",
        "| approach | accuracy | macro-F1 | train s | predict texts/s | size on disk |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        size = human_bytes(r["size_bytes"])
        if r["shared_encoder_bytes"]:
            size += f" (+ {human_bytes(r['shared_encoder_bytes'])} shared encoder)"
        lines.append(f"| {r['description']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} "
                     f"| {r['train_seconds']:,.0f} | {r['predict_texts_per_second']:,.0f} | {size} |")
    if tune:
        d = tune["details"]
        history = "; ".join(f"epoch {h['epoch']}: loss {h['train_loss']:.3f}, val acc "
                            f"{h.get('val_accuracy', float('nan')):.4f}" for h in d["history"])
        lines += ["", f"Fine-tuning history ({d['optimizer_steps']} optimizer steps, best epoch "
                      f"{d['best_epoch']}): {history}."]
    lines.append(markers(name)[1])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--precision", default="auto", help="auto (fp32 on a CPU), fp32, bf16")
    parser.add_argument("--approaches", default="tfidf,frozen,finetune")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/results.md alone")
    args = parser.parse_args()
    folder = Path(args.data) / args.set
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = read_labelled(str(folder / "train.csv"), "text", "label")
        test = read_labelled(str(folder / "test.csv"), "text", "label")
    tuner = FineTuner(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                      max_length=args.max_length, precision=args.precision, progress=False, verbose=True)
    start = time.perf_counter()
    rows = compare(*train, *test, approaches=args.approaches, finetuner=tuner,
                   log=lambda line: print(line, flush=True))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(rows, indent=1, default=str))
    text = section(args.set, rows, args, len(train[0]), len(test[0]), peak_mb)
    print(text)
    print(f"total {time.perf_counter() - start:.0f} s")
    if not args.no_write:
        write_section(*markers(args.set), text)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
