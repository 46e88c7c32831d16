"""`--auto`'s guard chosen leave-one-set-out (issue 43, parts 1 and 2).

For every single-label shared set, once: every candidate of `--auto`'s frozen and TF-IDF space
(no fine-tuning, no few-shot, no vote) is cross-validated on TRAIN with the search's own folds
(5, grouped), then fitted on all of TRAIN and scored on TEST. The ledger of those figures
(JSON lines, ``--ledger``) is then read offline:

- how often the cross-validation winner scores below the better baseline (TF-IDF + LR, frozen +
  LR) on TEST, per set;
- the guard rule "keep the better baseline unless the winner leads it by more than m standard
  errors of the paired fold differences" for several m (today's m is 1), scored on every set;
- m chosen leave-one-set-out: for each set, the m with the best mean gain on the other sets,
  scored on that set. That column predicts what a new data set will see.

TRAIN is a stratified sample of at most ``--max-train`` texts and TEST of at most
``--max-test`` (seed 0), to bound the embedding passes on two cores; the gains are over the
better baseline on the same sample.

    python benchmarks/auto_loso.py [--sets sms_spam,...] [--ledger /tmp/auto-loso.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from results_md import cpu_line, publish

from bertclf import Embedder, TextClassifier
from bertclf.io.labels import encode_labels, read_labelled
from bertclf.search import auto
from bertclf.search.auto import Search, winner_model
from bertclf.search.groups import overlap_groups
from bertclf.search.settle import BASELINES
from bertclf.search.space import Candidate, search_space

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = ["sms_spam", "banking77", "sst2", "ag_news", "disaster_tweets", "bbc_news", "tweepfake",
        "movie_reviews", "hate_offensive", "reuters_r8"]
MARGINS = (0.0, 0.5, 1.0, 2.0, 3.0, float("inf"))  # inf: always the better baseline
TODAY = 1.0  # settle.guard's margin


def sample(texts: list[str], labels: list[str], limit: int) -> tuple[list[str], list[str]]:
    """A stratified seeded sample of at most ``limit`` rows, in file order."""
    if len(texts) <= limit:
        return texts, labels
    rng = np.random.default_rng(0)
    labels_array = np.asarray(labels)
    keep = []
    for label in sorted(set(labels)):
        rows = np.flatnonzero(labels_array == label)
        keep.append(rng.permutation(rows)[:max(1, round(len(rows) * limit / len(texts)))])
    rows = np.sort(np.concatenate(keep))
    return [texts[i] for i in rows], [labels[i] for i in rows]


def scored_on_test(texts: list[str], labels: list[str], test: list[str], truth: list[str],
                   space: list[Candidate],
                   groups: np.ndarray | None = None) -> list[tuple[Candidate, float, float]]:
    """Every candidate of ``space`` cross-validated on every fold of ``texts`` (the search's own
    folds, ``groups`` kept together), then fitted on all of them and scored on ``test``:
    (candidate, test accuracy, seconds to fit and score). A vote the search adds is left out."""
    classes, target = encode_labels(labels)
    probe = TextClassifier(Embedder(cache=True, progress=False))
    probe.embedder_ = probe.embedder
    auto.FINALISTS = len(space)  # every candidate on every fold
    search = Search(texts, target, len(classes), probe, 1e9, 5, 0, lambda m: None, groups=groups)
    search.run(space)
    found = []
    for c in space:
        if len(c.scores) != search.k or c.features == "vote":
            continue
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = winner_model(c, probe).fit(texts, labels)
            accuracy = float(np.mean(model.predict(test) == np.asarray(truth)))
        found.append((c, accuracy, time.perf_counter() - started))
    return found


def ledger_row(name: str, max_train: int, max_test: int) -> dict:
    texts, labels = sample(*read_labelled(str(DATA / name / "train.csv"), "text", "label"), max_train)
    test, truth = sample(*read_labelled(str(DATA / name / "test.csv"), "text", "label"), max_test)
    groups, overlapping = overlap_groups(texts)
    space = search_space(pooling=Embedder().settings().pooling)
    rows = []
    for c, accuracy, _ in scored_on_test(texts, labels, test, truth, space, groups if overlapping else None):
        rows.append({"name": c.name, "folds": [round(s, 6) for s in c.scores], "test": round(accuracy, 6)})
        print(f"{name}: {c.name}: CV {c.score:.4f}, test {accuracy:.4f}", flush=True)
    return {"set": name, "train": len(texts), "test": len(test), "candidates": rows}


def choose(row: dict, margin: float) -> dict:
    """The candidate the guard with ``margin`` standard errors keeps on this set."""
    candidates = row["candidates"]
    winner = max(candidates, key=lambda c: np.mean(c["folds"]))
    baselines = [c for c in candidates if c["name"] in BASELINES]
    best = max(baselines, key=lambda c: np.mean(c["folds"]))
    if winner is best or winner in baselines:
        return winner
    lead = np.asarray(winner["folds"]) - np.asarray(best["folds"])
    error = lead.std(ddof=1) / np.sqrt(len(lead))
    return winner if lead.mean() > margin * error else best


def gain(row: dict, margin: float) -> float:
    """Test points over the better baseline (by test) of the candidate the guard keeps."""
    baseline = max(c["test"] for c in row["candidates"] if c["name"] in BASELINES)
    return 100 * (choose(row, margin)["test"] - baseline)


def margin_without(rows: list[dict], name: str) -> float:
    """The m with the best mean gain on the sets other than ``name`` (ties go to today's m: a change
    must help on the other sets to be chosen)."""
    others = [r for r in rows if r["set"] != name]
    return max(MARGINS, key=lambda m: (round(float(np.mean([gain(r, m) for r in others])), 6),
                                       -abs(m - TODAY))) if others else TODAY


def analyse(rows: list[dict]) -> str:
    names = [r["set"] for r in rows]
    lines = ["| set | train / test texts | CV winner | its test − better baseline | "
             + " | ".join(f"m = {m:g}" for m in MARGINS) + " | m chosen without it | LOSO gain |",
             "|---|---|---|---|" + "---|" * len(MARGINS) + "---|---|"]
    loso, losers = [], 0
    for row in rows:
        chosen = margin_without(rows, row["set"])
        loso.append(gain(row, chosen))
        winner = choose(row, 0.0)
        raw = gain(row, 0.0)
        losers += raw < 0
        lines.append(f"| {row['set']} | {row['train']} / {row['test']} | {winner['name']} | {raw:+.2f} | "
                     + " | ".join(f"{gain(row, m):+.2f}" for m in MARGINS)
                     + f" | {chosen:g} | {loso[-1]:+.2f} |")
    means = " | ".join(f"{np.mean([gain(r, m) for r in rows]):+.2f}" for m in MARGINS)
    lines.append(f"| **mean** | | | {np.mean([gain(r, 0.0) for r in rows]):+.2f} | {means} | | "
                 f"**{np.mean(loso):+.2f}** |")
    return (f"The CV winner scored below the better baseline on TEST on {losers} of {len(names)} sets.\n\n"
            + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--ledger", type=Path, default=Path("/tmp/bertclf-auto-loso.jsonl"))
    parser.add_argument("--max-train", type=int, default=4000)
    parser.add_argument("--max-test", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    done = {}
    if args.ledger.exists():
        done = {r["set"]: r for r in map(json.loads, args.ledger.read_text().splitlines())}
    for name in args.sets.split(","):
        if name not in done:
            done[name] = ledger_row(name, args.max_train, args.max_test)
            with args.ledger.open("a") as handle:
                handle.write(json.dumps(done[name]) + "\n")
    rows = [done[name] for name in args.sets.split(",")]
    body = (f"Test accuracy points over the better of TF-IDF + LR and frozen + LR (each set's TEST sample), "
            f"for `--auto`'s frozen and TF-IDF candidates (no fine-tuning, few-shot or vote), all "
            f"cross-validated on every fold of a TRAIN sample of at most {args.max_train} texts; "
            f"{cpu_line()}. m: the guard keeps the better baseline (by CV) unless the CV winner leads it "
            f"by more than m standard errors of the paired fold differences (today m = 1; m = ∞ always "
            f"keeps it). 'm chosen without it': the m with the best mean gain on the other sets; "
            f"'LOSO gain': that m's gain on the set.\n\n" + analyse(rows))
    publish("auto-loso", body, "python benchmarks/auto_loso.py", write=not args.no_write,
            seconds=time.perf_counter() - began)


if __name__ == "__main__":
    main()
