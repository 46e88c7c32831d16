"""Where keeping a share of the budget for fine-tuning pays (issue 43, part 3): the texts a class
that the share buys, against whether fine-tuning then beat the frozen candidates.

For each set: the estimate `--auto` makes before its search (``finetune_trial.share_estimate``:
the tuner's forward pass timed on this machine, a fine-tuned winner's finish paid out of the
share) of how many texts a class fine-tuning could train on in ``TUNE_SHARE`` of a 10-minute
budget (its check rows drawn without the overlap groups `--auto` finds, so they may differ from a
run's by a few texts); and, from ``benchmarks/auto.py``'s rows (``--rows``), whether fine-tuning, when it ran,
beat the best frozen or TF-IDF candidate on the check rows (sets where it never ran choose
nothing). The threshold is chosen leave-one-set-out: for each set, the one that sorts the other
sets best (keep the share at or above it; among ties the lowest, as a share lost where
fine-tuning would win costs more than one spent where it loses), then applied to the set left
out. Rows go to a ledger (JSON lines), so the estimates are timed once.

Measured 2026-12-07 (docs/results.md, "tune-share"): the estimate sorted 4 of 7 sets right
leave-one-set-out, tweepfake (lost) above disaster_tweets (won), so `--auto` logs it and does not
decide by it. That was with a quarter of the budget (``TUNE_SHARE`` 0.25); it is half since, and a
run now estimates the half (the outcomes in ``--rows`` are the quarter's).

    python benchmarks/tune_share.py --rows /tmp/bertclf-auto-43-ten.jsonl [--sets sst2,...]
"""

from __future__ import annotations

import argparse
import math
import warnings

from auto import SETS
from auto_loso import DATA
from results_md import cpu_line, publish, read_rows, record

from bertclf import Embedder, TextClassifier
from bertclf.io.labels import encode_labels, read_labelled
from bertclf.search.auto import Search
from bertclf.search.finetune_trial import share_estimate

BUDGET = 600.0


def estimate(name: str) -> dict:
    """The texts a class the share buys on ``name``, as `--auto` estimates it before its search."""
    texts, labels = read_labelled(str(DATA / name / "train.csv"), "text", "label")
    test, _ = read_labelled(str(DATA / name / "test.csv"), "text", "label")
    classes, target = encode_labels(labels)
    probe = TextClassifier(Embedder(progress=False))
    probe.embedder_ = probe.embedder
    search = Search(texts, target, len(classes), probe, BUDGET, 5, 0, lambda m: None, check=True,
                    after_texts=len(test))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seen, finish = share_estimate(search)
    return {"set": name, "classes": len(classes), "search_rows": len(search.rows),
            "finish_s": round(finish, 1), "forward_ms": round(1000 * search.tune_forward, 2),
            "per_class": seen / len(classes)}


def outcome(row: dict) -> bool | None:
    """Whether fine-tuning beat the frozen candidates on the check rows (None: it never ran)."""
    tuned = row.get("tuned") or {}
    if not tuned.get("check_score"):
        return None
    return str(row["chosen"]).startswith("fine-tuned")


def threshold(points: list[tuple[float, bool]]) -> float:
    """The cut (keep the share at or above it) that sorts ``points`` (texts a class, won) best:
    geometric midpoints between neighbours, the lowest among ties."""
    values = sorted({p for p, _ in points})
    between = [math.sqrt(a * b) for a, b in zip(values, values[1:], strict=False)]
    cuts = [values[0], *between, values[-1] * 2]
    return min(cuts, key=lambda t: (sum((p >= t) != won for p, won in points), t))


def threshold_without(ledger: list[dict], name: str) -> float | None:
    """The threshold chosen on the sets other than ``name`` that have an outcome."""
    points = [(r["per_class"], r["won"]) for r in ledger if r["set"] != name and r["won"] is not None]
    return round(threshold(points)) if points else None


def analyse(ledger: list[dict]) -> str:
    lines = ["| set | classes | search rows | tuner forward ms a text | finish s | texts a class in the "
             "share | fine-tuning beat the frozen candidates | threshold chosen without it | keeps the share "
             "| right |", "|---|---|---|---|---|---|---|---|---|---|"]
    right = judged = 0
    for r in ledger:
        cut = threshold_without(ledger, r["set"])
        keeps = cut is not None and r["per_class"] >= cut
        won = {True: "yes", False: "no", None: "did not run"}[r["won"]]
        verdict = "–" if r["won"] is None else ("yes" if keeps == r["won"] else "no")
        right += verdict == "yes"
        judged += r["won"] is not None
        lines.append(f"| {r['set']} | {r['classes']} | {r['search_rows']:,} | {r['forward_ms']:.1f} "
                     f"| {r['finish_s']:.0f} | {r['per_class']:,.0f} | {won} | {cut:,} | "
                     f"{'yes' if keeps else 'no'} | {verdict} |")
    every = threshold_without(ledger, "")
    return (f"Threshold chosen on every set with an outcome: {every:,} texts a class. Chosen without the "
            f"set, it sorted {right} of {judged} sets right (keeping it wherever it fits, as `--auto` does, "
            f"sorts {sum(r['won'] is True for r in ledger)}).\n\n"
            + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--rows", required=True, help="benchmarks/auto.py's rows: whether fine-tuning won")
    parser.add_argument("--ledger", default="/tmp/bertclf-tune-share.jsonl")
    args = parser.parse_args()
    runs = {r["set"]: r for r in read_rows(args.rows)}
    done = {r["set"]: r for r in read_rows(args.ledger)}
    for name in args.sets.split(","):
        if name not in done:
            done[name] = {**estimate(name), "won": outcome(runs[name]) if name in runs else None}
            record(done[name], args.ledger)
    ledger = [done[n] for n in args.sets.split(",")]
    publish("tune-share", f"{cpu_line()}, a {BUDGET:.0f} s budget.\n\n" + analyse(ledger),
            "python benchmarks/tune_share.py --rows ROWS")


if __name__ == "__main__":
    main()
