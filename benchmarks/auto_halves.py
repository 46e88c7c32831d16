"""Does what `--auto` chooses on some data hold on data it was not chosen on? (issue 20, part 5)

The search space and its defaults were decided on the shared sets, so scores on those sets
flatter them. Here each set's train split is cut in two halves by a fixed seed (stratified). The
search runs on one half (no fine-tuning, a short budget); its winner, the other half's own winner,
the TF-IDF baseline candidate and plain `train`'s default are then cross-validated on the other
half, with the same folds. "Regret" is how far the transferred winner falls below the other
half's own; "over TF-IDF" is how far it stays above the baseline on data it never saw.

    python benchmarks/auto_halves.py [--sets sms_spam,banking77] [--budget 90s] [--rows rows.jsonl]
"""

from __future__ import annotations

import argparse
import time
import warnings
from copy import deepcopy
from pathlib import Path

import numpy as np
from results_md import publish, run_sets

from bertclf import Embedder, TextClassifier
from bertclf.io.labels import encode_labels, holdout_split, read_labelled
from bertclf.search.auto import Search, auto_train
from bertclf.search.groups import overlap_groups
from bertclf.search.space import Candidate
from bertclf.search.voting import vote_scores

SETS = ["sms_spam", "banking77", "sst2", "ag_news", "disaster_tweets", "bbc_news", "tweepfake"]
ROOT = Path(__file__).resolve().parents[1]
BASELINE = Candidate("tfidf", "word", C=10.0)  # what `train` prints beside every report
DEFAULT = Candidate("hybrid", "word", layers=-1, C=1.0)  # plain `train`


def fresh(c: Candidate) -> Candidate:
    """An unscored copy of a candidate."""
    copy = deepcopy(c)
    copy.scores, copy.fit_seconds, copy.status, copy.check = [], [], "not run", None
    return copy


def cross_validate(texts: list[str], labels: list[str], candidates: list[Candidate]) -> list[float]:
    """Each candidate's 5-fold accuracy on these texts, on the same grouped folds."""
    base = TextClassifier(Embedder(cache=True, progress=False))
    base.embedder_ = base.embedder
    _, target = encode_labels(labels)
    groups, shared = overlap_groups(texts)
    search = Search(texts, target, int(target.max()) + 1, base, 1e9, 5, 0, lambda m: None,
                    groups=groups if shared else None)
    scores = []
    for c in candidates:
        members = [fresh(m) for m in (c.members if c.features == "vote" else [c])]
        for m in members:
            for fold in range(search.k):
                search.score_fold(m, fold)
        scores.append(float(np.mean(vote_scores(members, search.splits, target))) if c.features == "vote"
                      else members[0].score)
    return scores


def run_set(folder: Path, budget: str) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        texts, labels = read_labelled(str(folder / "train.csv"), "text", "label")
        first, second = holdout_split(labels, 0.5, seed=0)
        halves = [([texts[i] for i in rows], [labels[i] for i in rows]) for rows in (first, second)]
        winners = []
        for half_texts, half_labels in halves:
            base = TextClassifier(Embedder(cache=True, progress=False))
            _, result = auto_train(half_texts, half_labels, base=base, budget=budget, finetune=False,
                                   check=False)
            winners.append(result.winner)
        row: dict[str, object] = {"set": folder.name, "half": len(first)}
        for other, own in ((1, 0), (0, 1)):  # chosen on half `own`, checked on `other`
            moved, home, tfidf, default = cross_validate(*halves[other], [winners[own], winners[other],
                                                                           BASELINE, DEFAULT])
            row[f"{'AB'[own]}->{'AB'[other]}"] = {
                "chosen": winners[own].name, "other_own": winners[other].name, "moved": moved, "own": home,
                "tfidf": tfidf, "default": default}
    return row


def table(rows: list[dict]) -> str:
    lines = ["| set | half | chosen on one half | its CV accuracy on the other | the other half's own winner "
             "| regret | TF-IDF + LR | over TF-IDF | plain `train` |",
             "|---|---|---|---|---|---|---|---|---|"]
    regrets, margins = [], []
    for r in rows:
        for key in ("A->B", "B->A"):
            m = r[key]
            regrets.append(m["moved"] - m["own"])
            margins.append(m["moved"] - m["tfidf"])
            lines.append(f"| {r['set']} | {key} ({r['half']:,} texts) | {m['chosen']} "
                         f"| {100 * m['moved']:.2f} "
                         f"| {m['other_own']} ({100 * m['own']:.2f}) | {100 * (m['moved'] - m['own']):+.2f} "
                         f"| {100 * m['tfidf']:.2f} | {100 * (m['moved'] - m['tfidf']):+.2f} "
                         f"| {100 * m['default']:.2f} |")
    lines.append(f"| **mean** | | | | | {100 * np.mean(regrets):+.2f} | | {100 * np.mean(margins):+.2f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--budget", default="90s")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rows", default=None, help="JSON-lines file of finished sets (resumes)")
    args = parser.parse_args()
    names = args.sets.split(",")
    start = time.perf_counter()
    done = run_sets(names, args.rows, lambda name: run_set(Path(args.data) / name, args.budget))
    body = "\n".join([
        f"Each set's train split in two stratified halves (seed 0). `--auto` (no fine-tuning, {args.budget}) "
        "chooses on one half; the chosen candidate, the other half's own winner, TF-IDF + LR (word, C = 10) "
        "and plain `train` (hybrid, C = 1) are cross-validated (5 grouped folds) on the other half. Regret: "
        "the transferred winner minus the other half's own; over TF-IDF: the transferred winner minus "
        "TF-IDF.",
        "", table([done[name] for name in names])])
    publish("auto-halves", body, "python benchmarks/auto_halves.py", write=set(names) == set(SETS),
            seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
