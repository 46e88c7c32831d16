"""What a user waits for, whole process: `bertclf --help`, `--version`, a one-text `predict` of a
frozen, a hybrid and a fine-tuned model, and `predict` of 10,000 short texts, each timed with
/usr/bin/time (median of 5, peak RSS), before and after issue 18 (self-contained folders and the
runtime), plus the installed size of the runtime venv beside the full one.

"Before" runs the code of ``--before`` (a checkout of an earlier commit, e.g. `git worktree add
/tmp/before 65597d2`) with the same venv on slim folders; without it, "before" is today's code
on slim folders (the training stack's path); with ``--same-folders`` both predict with the same
self-contained folders (a refactoring's before and after). Writes the "start-up" section of
docs/performance.md unless ``--no-write``.

    python benchmarks/startup.py [--before /tmp/before] [--same-folders] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_md import PERFORMANCE, cpu_line, publish

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BIN = Path(sys.executable).parent


def timed(command: list[str], stdin: str = "", env: dict[str, str] | None = None,
          repeats: int = 5) -> tuple[float, float]:
    """(median seconds, median peak RSS in MB) of ``command`` as a whole process."""
    seconds, rss = [], []
    for _ in range(repeats):
        result = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], input=stdin, capture_output=True,
                                text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"{command} failed: {result.stderr[-500:]}")
        wall, kb = result.stderr.strip().splitlines()[-1].split()
        seconds.append(float(wall))
        rss.append(int(kb) / 1024)
    return statistics.median(seconds), statistics.median(rss)


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None, help="a checkout of the code before")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--same-folders", action="store_true",
                        help="'before' predicts with the same self-contained folders as 'after' (a "
                             "refactoring's before and after; the default compares with slim folders)")
    args = parser.parse_args()
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bertclf-startup-"))
    # As on a user's machine, Python keeps the bytecode it compiles (this sandbox sets
    # PYTHONDONTWRITEBYTECODE, which makes every start compile bertclf's modules again).
    env_after = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env_after["BERTCLF_CACHE"] = str(work / "cache")
    env_before = env_after
    after = [str(BIN / "python"), "-m", "bertclf"]
    before = after
    if args.before:  # the older checkout's package, not the editable install's
        code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
                f"type(f).__module__]; sys.path.insert(0, {str(args.before)!r}); "
                "from bertclf.cli import main; main(prog_name='bertclf')")
        before = [str(BIN / "python"), "-c", code]
    train = ROOT / "examples" / "support_tickets.csv"
    models = {}
    for kind, flags in (("frozen", ["--features", "embedding"]), ("hybrid", [])):
        for slim in (False, True):
            out = work / f"{kind}{'-slim' if slim else ''}"
            subprocess.run([*after, "train", str(train), "--out", str(out), "-q", *flags,
                            *(["--slim"] if slim else [])], check=True, env=env_after, capture_output=True)
            models[(kind, slim)] = out
    tuned = work / "fine-tuned"
    subprocess.run([*after, "finetune", str(train), "--out", str(tuned), "--epochs", "1", "-q", "--slim"],
                   check=True, env=env_after, capture_output=True)
    models[("fine-tuned", True)] = tuned
    subprocess.run([*after, "export", str(tuned), "--out", str(work / "fine-tuned-self")], check=True,
                   env=env_after, capture_output=True)
    models[("fine-tuned", False)] = work / "fine-tuned-self"
    for model in models.values():  # exports and caches made before any timing
        subprocess.run([*after, "predict", str(model), "-q"], input="warm up\n", text=True, check=True,
                       env=env_after, capture_output=True)
    with open(args.data / "sst2" / "train.csv", encoding="utf-8", newline="") as handle:
        many = [row["text"] for _, row in zip(range(10_000), csv.DictReader(handle), strict=False)]
    (work / "many.txt").write_text("\n".join(t.replace("\n", " ") for t in many) + "\n", encoding="utf-8")
    rows = ["| what | before: s | before: peak MB | after: s | after: peak MB |", "|---|---|---|---|---|"]

    def line(label: str, old: list[str], new: list[str], stdin: str = "",
             repeats: int = args.repeats) -> None:
        b = timed(old, stdin, env_before, repeats)
        a = timed(new, stdin, env_after, repeats)
        rows.append(f"| {label} | {b[0]:.2f} | {b[1]:.0f} | {a[0]:.2f} | {a[1]:.0f} |")
        print(rows[-1], flush=True)

    for command in (before, after):  # bytecode written before any timing
        subprocess.run([*command, "--help"], env=env_after, capture_output=True, check=True)
    line("`bertclf --help`", [*before, "--help"], [*after, "--help"])
    line("`bertclf --version`", [*before, "--version"], [*after, "--version"])
    old_slim = not args.same_folders
    for kind in ("frozen", "hybrid", "fine-tuned"):
        line(f"one-text `predict`, {kind} model", [*before, "predict", str(models[(kind, old_slim)]), "-q"],
             [*after, "predict", str(models[(kind, False)]), "-q"], stdin="my order never arrived\n")
    line("`predict` of 10,000 short texts (sst2), hybrid model",
         [*before, "predict", str(models[("hybrid", old_slim)]), str(work / "many.txt"), "-q", "--out",
          str(work / "p.csv")],
         [*after, "predict", str(models[("hybrid", False)]), str(work / "many.txt"), "-q", "--out",
          str(work / "p.csv")], repeats=max(1, args.repeats // 2))
    sizes = [f"| {name} | {size_mb(models[key]):.1f} |" for name, key in (
        ("frozen, slim", ("frozen", True)), ("frozen, self-contained", ("frozen", False)),
        ("hybrid, self-contained", ("hybrid", False)), ("fine-tuned, slim", ("fine-tuned", True)),
        ("fine-tuned, self-contained", ("fine-tuned", False)))]
    venvs = [f"| {name} | {size_mb(path):,.0f} |" for name, path in (
        ("runtime (`pip install bertclf`)", ROOT / ".venv-runtime"),
        ("full (`bertclf[train]`)", ROOT / ".venv")) if path.is_dir()]
    before_what = f"the code of `{args.before.name}`" if args.before else "the full stack"
    body = "\n".join([
        "### Start-up and the runtime", "",
        f"Whole process, median of {args.repeats} runs of `/usr/bin/time` (peak RSS), bytecode cached as on "
        f"a user's machine, CPU: {cpu_line()}. "
        f"Before: {before_what} on slim folders (the encoder named, not shipped); after: self-contained "
        "folders through the runtime (`bertclf.runtime`, no torch, transformers, scikit-learn or pandas "
        "imported). The 10,000-text row is the median of "
        f"{max(1, args.repeats // 2)} runs.", "", *rows, "",
        "| model folder | MB |", "|---|---|", *sizes, "",
        "| virtual environment | MB |", "|---|---|", *venvs])
    publish("start-up", body, "python benchmarks/startup.py" + (" --before ..." if args.before else ""),
            not args.no_write, time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
