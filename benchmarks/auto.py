"""`train --auto` run as a new user would, beside what it must beat, on the shared sets (issue 20).

For each set, in one run on this machine: the whole command `bertclf train TRAIN --test TEST
--auto --budget B --out DIR --json` as a subprocess (wall seconds from start to exit, against the
budget; peak RSS; test accuracy and macro-F1; what won; its check-row estimate), the TF-IDF + LR
baseline it prints, frozen embeddings + LR (`train --features embedding`), and, with
``--finetune``, `bertclf finetune --time-limit B` alone (added to the sets already in ``--rows``
without running their search again). The `--auto` column of the previous run
(the release before issue 43) is read from
``PREVIOUS`` for comparison. With ``--rows FILE`` each finished set is appended to a JSON-lines
file, so a long run can be resumed; the table goes to docs/results.md (section "auto") when every
set has a row.

The leave-one-set-out columns (issue 43) choose each rule `--auto` took from data again without
the set scored, from the ledger of the benchmark that chose it (``--guard-ledger``,
``--tuning-ledger``; ``--share-rows SHARE=FILE``: this script's rows with another fine-tuning
share, 0 for none): where every rule comes out as adopted, the set's own figure is its LOSO figure;
where only the share differs, its run at that share is; otherwise the column says a run is needed.

    python benchmarks/auto.py [--sets sms_spam,banking77] [--budget 10m] [--rows rows.jsonl] [--finetune]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from auto_loso import margin_without
from finetune_budget import setting_without
from results_md import cpu_line, publish, read_rows, run_sets

from bertclf import Embedder, TextClassifier
from bertclf.io.labels import read_labelled
from bertclf.search.space import parse_budget

SETS = ["sms_spam", "banking77", "sst2", "ag_news", "disaster_tweets", "bbc_news", "tweepfake",
        "movie_reviews", "hate_offensive", "reuters_r8"]
MULTILABEL = ["ethos_multilabel", "goemotions"]  # 0/1 columns, one per label
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "bertclf"
# `--auto` test accuracy before issue 43: docs/results.md of 2026-12-02 for the first seven sets,
# the issue's own run of 2026-12-07 for the three sets added then
PREVIOUS = {"sms_spam": 99.73, "banking77": 93.93, "sst2": 84.75, "ag_news": 89.51, "disaster_tweets": 84.87,
            "bbc_news": 98.87, "tweepfake": 85.11, "movie_reviews": 84.01, "hate_offensive": 89.73,
            "reuters_r8": 97.26}


# the rules issue 43 chose on data, as `--auto` has them; the leave-one-set-out column chooses each
# again without the set scored (benchmarks/auto_loso.py, finetune_budget.py, and whole commands run
# at other shares)
ADOPTED = {"guard m": 1.0, "fine-tuning": "time, lr 1e-4", "fine-tuning share": 0.5}


def timed(args: list[str]) -> tuple[dict, float, float]:
    """(the --json output, wall seconds, peak RSS in MB) of one bertclf command; the RSS is the
    child's own, from ``os.wait4``."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([str(BIN), *args], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"bertclf {' '.join(args[:3])} failed: {err.read()[-1500:]}")
        return json.loads(out.read()), seconds, usage.ru_maxrss / 1024


def label_columns(folder: Path) -> list[str]:
    with (folder / "train.csv").open(encoding="utf-8") as handle:
        return [c for c in handle.readline().strip().split(",") if c != "text"]


def frozen(folder: Path, multilabel: bool) -> float:
    """Test accuracy (micro-F1 for several labels per text) of `train --features embedding`."""
    import pandas as pd
    from sklearn.metrics import f1_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TextClassifier(Embedder(cache=True, progress=False), features="embedding")
        if multilabel:
            train, test = pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")
            cols = label_columns(folder)
            tags = [[c for c in cols if row[c]] for _, row in train.iterrows()]
            model.fit(train["text"].tolist(), tags)
            truth = test[[str(c) for c in model.classes_]].to_numpy()
            return float(f1_score(truth, model.predict(test["text"].tolist()), average="micro"))
        texts, labels = read_labelled(str(folder / "train.csv"), "text", "label")
        test, truth = read_labelled(str(folder / "test.csv"), "text", "label")
        model.fit(texts, labels)
        right = sum(str(p) == str(t) for p, t in zip(model.predict(test), truth, strict=True))
        return float(right / len(truth))


def run_set(folder: Path, budget: str, finetune: bool) -> dict[str, object]:
    multilabel = folder.name in MULTILABEL
    score = "micro_f1" if multilabel else "accuracy"
    row: dict[str, object] = {"set": folder.name, "budget_s": parse_budget(budget), "multilabel": multilabel}
    labels = ["--label-cols", ",".join(label_columns(folder))] if multilabel else []
    with tempfile.TemporaryDirectory() as work:
        auto, seconds, rss = timed(["train", str(folder / "train.csv"), "--test", str(folder / "test.csv"),
                                    "--auto", "--budget", budget, "--out", f"{work}/auto", "--json", "-q",
                                    *labels])
        metrics = auto["metrics"]
        search = metrics["auto"]
        row.update(auto=metrics[score], auto_f1=metrics["macro_f1"], auto_s=seconds, auto_rss=rss,
                   chosen=search["chosen"], estimate=search["estimate"], search_s=search["seconds"],
                   tfidf=metrics["tfidf_logreg_baseline"][score],
                   tfidf_f1=metrics["tfidf_logreg_baseline"]["macro_f1"],
                   skipped=[r["candidate"] for r in search["leaderboard"]
                            if r["status"].startswith("skipped")],
                   tuned=next((r for r in search["leaderboard"] if r["features"] == "finetune"), None))
    if finetune:
        row.update(finetune_alone(folder, budget))
    row["frozen"] = frozen(folder, multilabel)
    row["previous"] = PREVIOUS.get(folder.name)
    return row


def finetune_alone(folder: Path, budget: str) -> dict[str, float]:
    """Test score and wall seconds of `bertclf finetune --time-limit BUDGET` alone."""
    multilabel = folder.name in MULTILABEL
    labels = ["--label-cols", ",".join(label_columns(folder))] if multilabel else []
    with tempfile.TemporaryDirectory() as work:
        tuned, seconds, rss = timed(["finetune", str(folder / "train.csv"),
                                     "--test", str(folder / "test.csv"), "--time-limit", budget,
                                     "--out", f"{work}/ft", "--json", "-q",
                                     "--no-baseline", *labels])
    return {"finetune": tuned["metrics"]["micro_f1" if multilabel else "accuracy"], "finetune_s": seconds,
            "finetune_rss": rss}


def add_finetune(rows: str, names: list[str], data: str, budget: str) -> None:
    """Fine-tuning alone for sets whose row in ``rows`` lacks it: the updated row is appended (the
    last row of a set wins), so the search runs are not repeated."""
    done = {r["set"]: r for r in map(json.loads, Path(rows).read_text().splitlines()) if r}
    for name in names:
        if name in done and "finetune" not in done[name]:
            row = {**done[name], **finetune_alone(Path(data) / name, budget)}
            print(json.dumps(row), flush=True)
            with open(rows, "a") as handle:
                handle.write(json.dumps(row) + "\n")


def rules_without(name: str, ledgers: dict, rows: dict[str, dict]) -> dict[str, object]:
    """Each data-chosen rule as it is chosen without set ``name``: the guard's m and the fine-tuning
    setting from their benchmarks' ledgers, the share by its gain over the adopted one, summed over
    the other sets run at both (the adopted share gains 0; a tie goes to the smaller share). A rule
    whose ledger is missing is not chosen again."""
    chosen: dict[str, object] = {}
    if ledgers["guard"]:
        chosen["guard m"] = margin_without(ledgers["guard"], name)
    if ledgers["tuning"]:
        sets = sorted({r["set"] for r in ledgers["tuning"]})
        chosen["fine-tuning"] = setting_without(ledgers["tuning"], sets, name)
    both = {share: [(rows[s], r) for s, r in last_of_each(alternative).items() if s != name and s in rows]
            for share, alternative in ledgers["shares"].items()}
    gain = {share: sum(theirs["auto"] - ours["auto"] for ours, theirs in pairs)
            for share, pairs in both.items() if pairs}  # a share with no other set says nothing
    if gain:
        gain[ADOPTED["fine-tuning share"]] = 0.0
        chosen["fine-tuning share"] = max(gain, key=lambda share: (gain[share], -share))
    return chosen


def loso_score(row: dict, differs: dict[str, object], shares: dict[float, list[dict]]) -> float | None:
    """The set's score under the rules chosen without it (``differs``: those that are not the
    adopted ones): its own row where none differs, its run at the chosen share where only the share
    does, else unknown (it needs a run)."""
    if not differs:
        return row["auto"]
    if list(differs) == ["fine-tuning share"]:
        found = last_of_each(shares.get(differs["fine-tuning share"], [])).get(row["set"])
        return found["auto"] if found else None
    return None


def last_of_each(rows: list[dict]) -> dict[str, dict]:
    """Each set's last row (a ledger appends a set's row again when it is run again)."""
    return {r["set"]: r for r in rows}


def loso_columns(rows: list[dict], ledgers: dict) -> list[tuple[str, float | None]]:
    """Per row: the rules chosen without its set ('as adopted' when they are) and its LOSO score."""
    by_set = {r["set"]: r for r in rows}
    out = []
    for row in rows:
        chosen = rules_without(row["set"], ledgers, by_set)
        differs = {k: v for k, v in chosen.items() if v != ADOPTED[k]}
        said = "as adopted" if not differs else ", ".join(f"{k} {v}" for k, v in differs.items())
        out.append((said, loso_score(row, differs, ledgers["shares"])))
    return out


def table(rows: list[dict], score: str = "acc", loso: list | None = None) -> str:
    lines = [f"| set | `--auto` {score} | macro-F1 | wall s (budget) | peak RSS MB | chosen | check estimate "
             "[95% interval] | TF-IDF + LR | frozen + LR | fine-tuning alone (s) | `--auto` before | "
             "Δ vs better baseline |" + (" rules chosen without it | LOSO Δ |" if loso else ""),
             "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if loso else "")]
    for i, r in enumerate(rows):
        best = max(r["tfidf"], r["frozen"])
        e = r["estimate"]
        estimate = f"{100 * e['score']:.2f} [{100 * e['interval'][0]:.1f}–{100 * e['interval'][1]:.1f}]" \
            if e else "–"
        tuned = f"{100 * r['finetune']:.2f} ({r['finetune_s']:.0f})" if "finetune" in r else "not run"
        before = f"{r['previous']:.2f}" if r.get("previous") else "–"
        lines.append(f"| {r['set']} | **{100 * r['auto']:.2f}** | {100 * r['auto_f1']:.2f} "
                     f"| {r['auto_s']:.0f} ({r['budget_s']:.0f}) | {r['auto_rss']:,.0f} | {r['chosen']} "
                     f"| {estimate} | {100 * r['tfidf']:.2f} | {100 * r['frozen']:.2f} | {tuned} | {before} "
                     f"| {100 * (r['auto'] - best):+.2f} |" + (loso_cell(r, *loso[i]) if loso else ""))
    n = len(rows)
    gain = sum(r["auto"] - max(r["tfidf"], r["frozen"]) for r in rows) / n
    mean = {k: 100 * sum(r[k] for r in rows) / n for k in ("auto", "tfidf", "frozen")}
    lines.append(f"| **mean** | {mean['auto']:.2f} | | | | | | {mean['tfidf']:.2f} | {mean['frozen']:.2f} "
                 f"| | | {100 * gain:+.2f} |" + (loso_mean(rows, loso) if loso else ""))
    return "\n".join(lines)


def loso_cell(row: dict, said: str, score: float | None) -> str:
    best = max(row["tfidf"], row["frozen"])
    return f" {said} | " + (f"{100 * (score - best):+.2f} |" if score is not None else "needs a run |")


def loso_mean(rows: list[dict], loso: list) -> str:
    known = [(r, s) for r, (_, s) in zip(rows, loso, strict=True) if s is not None]
    if not known:
        return " | |"
    mean = sum(s - max(r["tfidf"], r["frozen"]) for r, s in known) / len(known)
    return f" | **{100 * mean:+.2f}**" + (f" ({len(known)} of {len(rows)} sets) |" if len(known) < len(rows)
                                          else " |")


def share_list(shares: dict[float, list[dict]]) -> str:
    """'none (2 sets) and 25% (10 sets)': the other shares measured, and on how many sets."""
    said = [f"{'none' if k == 0 else f'{k:.0%}'} ({len(last_of_each(v))} sets)"
            for k, v in sorted(shares.items())]
    return " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)


def loso_text(ledgers: dict) -> str:
    used = [what for key, what in (("guard", "the guard's m (benchmarks/auto_loso.py)"),
                                    ("tuning", "the fine-tuning schedule and rate "
                                               "(benchmarks/finetune_budget.py)"),
                                    ("shares", "the share of the budget kept for fine-tuning (these "
                                               f"commands run at {share_list(ledgers['shares'])})"))
            if ledgers[key]]
    return ("Leave-one-set-out: each set scored with the rules chosen on the other sets, for "
            + ("; ".join(used) if used else "no rule (no ledger given)") + ". 'as adopted': every rule "
            "chosen without the set is the one `--auto` has, so the set's own figure is its LOSO figure. The "
            "search space itself (candidates, C grid, the vote) was chosen on the first seven sets before "
            "issue 43 and is not chosen again here.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS + MULTILABEL))
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--finetune", action="store_true",
                        help="also run `finetune --time-limit BUDGET` alone")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--section", default="auto",
                        help="docs/results.md section to write; 'auto' is written only when every set ran")
    parser.add_argument("--rows", default=None,
                        help="JSON-lines file of finished sets: sets already there are not run again")
    parser.add_argument("--guard-ledger", default="/tmp/bertclf-auto-loso.jsonl",
                        help="benchmarks/auto_loso.py's ledger: the guard's m chosen without each set")
    parser.add_argument("--tuning-ledger", default="/tmp/bertclf-finetune-budget.jsonl",
                        help="benchmarks/finetune_budget.py's ledger: the fine-tuning setting chosen "
                        "without each set")
    parser.add_argument("--share-rows", action="append", default=[], metavar="SHARE=FILE",
                        help="rows of this script with another fine-tuning share (0: none), e.g. from "
                        "an earlier commit; repeat for each share")
    args = parser.parse_args()
    names = args.sets.split(",")
    ledgers = {"guard": read_rows(args.guard_ledger), "tuning": read_rows(args.tuning_ledger),
               "shares": {float(k): read_rows(v) for k, v in (a.split("=", 1) for a in args.share_rows)}}
    start = time.perf_counter()
    if args.finetune and args.rows and Path(args.rows).exists():
        add_finetune(args.rows, names, args.data, args.budget)
    done = run_sets(names, args.rows,
                    lambda name: run_set(Path(args.data) / name, args.budget, args.finetune))
    single = [done[name] for name in names if name not in MULTILABEL]
    several = [done[name] for name in names if name in MULTILABEL]
    body = "\n".join([
        f"Test accuracy (%), full train split, {cpu_line()}. `--auto` is the whole command a user runs "
        f"(`bertclf train TRAIN --test TEST --auto --budget {args.budget}`), timed from start to exit: "
        "search, check, refit, report and saving. The check estimate is the winner's accuracy on the 15% of "
        "TRAIN set aside before the search. TF-IDF + LR is the baseline the command prints; frozen + LR is "
        "`train --features embedding`; fine-tuning alone is `finetune --time-limit` at the same budget. "
        "\"`--auto` before\" is the release before issue 43 (the table of 2026-12-02 for the first seven "
        "sets, the issue's run of 2026-12-07 for the three added then).", "", loso_text(ledgers), "",
        table(single, loso=loso_columns(single, ledgers)) if single else "",
        *(["", "Several labels per text: test micro-F1 (%) and macro-F1; `--auto` scores candidates by "
            "micro-F1 at per-label cut-offs. Before issue 20 `--auto` refused these sets.", "",
            table(several, "micro-F1", loso_columns(several, ledgers))] if several else [])])
    whole = set(names) == set(SETS + MULTILABEL)
    publish(args.section, body, f"python benchmarks/auto.py --sets {args.sets}" if not whole else
            "python benchmarks/auto.py", write=whole or args.section != "auto",
            seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
