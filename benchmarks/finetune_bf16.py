"""bf16 autocast for fine-tuning on a CPU with bf16 instructions (AVX-512 BF16, AMX): does the
time it saves buy accuracy when a time limit, not the epochs, ends the run (``train --auto``'s
fine-tuning, ``finetune --time-limit``)?

For each set: ``FineTuner`` with ``--auto``'s settings (rate 1e-4 decaying to zero at the limit,
batch 32, 10 % validation, seed 13) on the whole TRAIN split with ``time_limit=--seconds``, once
in fp32 and once under bf16 autocast, scored on a stratified TEST sample (seed 0), as
``finetune_budget.py`` runs its settings. bf16 is adopted as the CPU default where the
instructions exist only if it leads on most sets; on a CPU without them torch emulates bf16
slowly, so the script refuses to run there. Rows go to a ledger (JSON lines) so a run resumes.

    python benchmarks/finetune_bf16.py [--sets sst2,...] [--seconds 150]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from finetune_budget import arguments, ledger_rows
from results_md import cpu_line, publish

from bertclf.encode.backends import cpu_flags, cpu_has_bf16

SETTINGS = {
    "fp32": {"schedule": "time", "lr": 1e-4, "precision": "fp32"},
    "bf16": {"schedule": "time", "lr": 1e-4, "precision": "bf16"},
}


def bf16_flags() -> str:
    """The CPU's bf16 instructions as /proc/cpuinfo names them."""
    return " and ".join(sorted({"avx512_bf16", "amx_bf16"} & cpu_flags()))


def analyse(rows: list[dict], sets: list[str]) -> str:
    found = {(r["set"], r["setting"]): r for r in rows}
    lines = ["| set | TRAIN / TEST texts | fp32 | bf16 | bf16 − fp32 | texts seen, bf16 / fp32 |",
             "|---|---|---|---|---|---|"]
    gains = []
    for s in sets:
        a, b = found[s, "fp32"], found[s, "bf16"]
        gains.append(100 * (b["accuracy"] - a["accuracy"]))
        lines.append(f"| {s} | {a['train']:,} / {a['test']:,} | {100 * a['accuracy']:.2f} "
                     f"({a['texts_seen']:,} texts) | {100 * b['accuracy']:.2f} ({b['texts_seen']:,} texts) "
                     f"| {gains[-1]:+.2f} | {b['texts_seen'] / a['texts_seen']:.2f}× |")
    mean = lambda k: np.mean([100 * found[s, k]["accuracy"] for s in sets])  # noqa: E731
    lines.append(f"| **mean** | | {mean('fp32'):.2f} | {mean('bf16'):.2f} | **{np.mean(gains):+.2f}** "
                 f"({sum(g > 0 for g in gains)} of {len(sets)} sets ahead) | |")
    return "\n".join(lines)


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "/tmp/bertclf-finetune-bf16.jsonl")
    if not cpu_has_bf16():
        sys.exit("this CPU has no bf16 instructions (avx512_bf16 or amx_bf16): torch would emulate bf16")
    began = time.perf_counter()
    rows, sets = ledger_rows(args, SETTINGS), args.sets.split(",")
    body = (f"Test accuracy (%) of `FineTuner` with `train --auto`'s settings (rate 1e-4 decaying to zero at "
            f"the limit, batch 32, 10 % validation, seed 13) on the whole TRAIN split with a "
            f"{args.seconds:g} s time limit, on a TEST sample of at most {args.max_test} texts; in brackets "
            f"the texts its optimizer steps saw. {cpu_line()}, with {bf16_flags()}.\n\n"
            + analyse(rows, sets))
    publish("finetune-bf16", body, "python benchmarks/finetune_bf16.py", write=not args.no_write,
            seconds=time.perf_counter() - began)


if __name__ == "__main__":
    main()
