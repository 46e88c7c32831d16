"""How faithful and how cheap bertclf's explanations are, beside LIME and random words, in one run.

For each set: bertclf's default model (`bertclf train` on a seeded sample of the train split) and,
on sst2, a fine-tuned one (`bertclf finetune`), explaining seeded test texts. Faithfulness by
ERASER's comprehensiveness and sufficiency at 10 % and 20 % of the words (benchmarks/eraser.py);
time per text; for bertclf also what explaining adds to one text's prediction. LIME (default
settings, 1,000 samples) runs in its own venv on the first --lime-texts of the same texts, through
the same model; bertclf and random are scored on that subset too, for a like-for-like row.
Writes docs/results.md's "explain" section.

    python benchmarks/explain.py [--sets sst2,ag_news,banking77] [--texts 300] [--lime-texts 60]
        [--lime benchmarks/.venv-lime/bin/python] [--rows FILE] [--no-write]

LIME's venv (LIME and the bertclf runtime, never LIME in bertclf's dependencies):
    python3 -m venv benchmarks/.venv-lime && benchmarks/.venv-lime/bin/pip install lime .
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eraser import faithfulness  # noqa: E402
from results_md import cpu_line, publish, read_rows, run_sets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WORK = Path(tempfile.gettempdir()) / "bertclf-explain"
ALL = 100_000  # k that keeps every word
METHODS = ("occlusion", "tokens", "guided")  # bertclf's candidates (Model.explain's method)


def sample(path: Path, n: int, seed: int) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    picked = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [{"text": rows[i]["text"], "label": rows[i]["label"]} for i in sorted(picked)]


def write_csv(rows: list[dict[str, str]], path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def model_folder(name: str, kind: str, train_n: int) -> Path:
    """The set's model, trained once by the CLI as a user would: ``default`` (`bertclf train`)
    or ``finetuned`` (`bertclf finetune`, one epoch, then exported for the runtime)."""
    folder = WORK / f"{name}-{kind}"
    if (folder / "config.json").exists():
        return folder
    WORK.mkdir(exist_ok=True)
    train = write_csv(sample(DATA / name / "train.csv", train_n, 0), WORK / f"{name}-train.csv")
    cli = [sys.executable, "-m", "bertclf"]
    if kind == "default":
        subprocess.run([*cli, "train", str(train), "--out", str(folder), "-q"], check=True)
    else:
        tuned = WORK / f"{name}-tuned-slim"
        subprocess.run([*cli, "finetune", str(train), "--out", str(tuned), "--epochs", "1",
                        "--max-length", "64", "-q"], check=True)
        subprocess.run([*cli, "export", str(tuned), "--out", str(folder)], check=True)
    return folder


def ranking(text: str, spans: list[tuple[int, int]], found: object) -> list[int]:
    """Word positions from the most toward the label to the most against it (unweighted in between)."""
    weight = {w["start"]: w["weight"] for w in found.toward + found.against}
    return np.argsort([-weight.get(a, 0.0) for a, _ in spans], kind="stable").tolist()


def score(folder: Path, texts: list[str], lime: str | None, lime_texts: int,
          earlier: dict | None = None) -> dict:
    from bertclf import runtime
    from bertclf.classify.explain import word_spans

    model = runtime.Model(folder, progress=False)
    model.warn_cut = False
    model.predict_proba(["warm up"])
    labels = model.predict_proba(texts).argmax(axis=1).tolist()
    spans = [word_spans(t) for t in texts]
    proba = model.predict_proba
    n = min(lime_texts, len(texts))
    row: dict = {"texts": len(texts), "words": statistics.mean(len(s) for s in spans), "subset": {"texts": n}}
    for method in METHODS:
        model.explain(["warm up the model"], k=1, method=method)
        explain_ms, predict_ms, orders = [], [], []
        for text, words in zip(texts, spans, strict=True):
            started = time.perf_counter()
            model.predict_proba([text])
            predict_ms.append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            found = model.explain([text], k=ALL, method=method)[0][0]
            explain_ms.append(1000 * (time.perf_counter() - started))
            orders.append(ranking(text, words, found))
        added = [e - p for e, p in zip(explain_ms, predict_ms, strict=True)]
        row[method] = {**faithfulness(proba, texts, labels, spans, orders),
                       "ms_per_text": statistics.median(explain_ms), "added_ms": statistics.median(added)}
        row["subset"][method] = {**faithfulness(proba, texts[:n], labels[:n], spans[:n], orders[:n]),
                                 "ms_per_text": statistics.median(explain_ms[:n])}
    rng = np.random.default_rng(0)
    random_orders = [rng.permutation(len(s)).tolist() for s in spans]
    row["random"] = faithfulness(proba, texts, labels, spans, random_orders)
    row["subset"]["random"] = faithfulness(proba, texts[:n], labels[:n], spans[:n], random_orders[:n])
    if earlier and "lime" in earlier.get("subset", {}):  # from an earlier run on the same texts
        row["subset"]["lime"] = {**earlier["subset"]["lime"], "reused": True}
    elif lime:
        listed = WORK / f"{folder.name}-texts.json"
        listed.write_text(json.dumps(texts))
        runner = str(Path(__file__).with_name("explain_lime.py"))
        out = subprocess.run([lime, runner, str(folder), str(listed), str(n)], capture_output=True,
                             text=True, check=True)
        row["subset"]["lime"] = json.loads(out.stdout.splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="sst2,ag_news,banking77")
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--lime-texts", type=int, default=60)
    parser.add_argument("--train", type=int, default=4000, help="train texts per model")
    parser.add_argument("--finetuned", default="sst2", help="sets that also get a fine-tuned model")
    parser.add_argument("--lime", default=None, metavar="PYTHON", help="LIME's venv python")
    parser.add_argument("--rows", default=None, metavar="FILE")
    parser.add_argument("--lime-rows", default=None, metavar="FILE",
                        help="take LIME's figures from these rows of an earlier run (same texts and models)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    print(cpu_line(), flush=True)
    jobs = [f"{name}/default" for name in args.sets.split(",")]
    jobs += [f"{name}/finetuned" for name in args.finetuned.split(",") if name]

    def run(job: str) -> dict:
        name, kind = job.split("/")
        texts = [r["text"] for r in sample(DATA / name / "test.csv", args.texts, 1)]
        earlier = {r["set"]: r for r in read_rows(args.lime_rows)}.get(job)
        found = score(model_folder(name, kind, args.train), texts, args.lime, args.lime_texts, earlier)
        print(job, json.dumps(found), flush=True)
        return {"set": job, **found}

    table = run_sets(jobs, args.rows, run)
    publish("explain", render(table, args), "python benchmarks/explain.py" + (
        " --lime benchmarks/.venv-lime/bin/python" if args.lime else ""), write=not args.no_write,
        seconds=time.perf_counter() - began)


def render(table: dict, args: argparse.Namespace) -> str:
    lines = [f"Test texts of each set (a seeded sample), explained for the label the model predicts. "
             f"comp@q: the label's probability lost when the top q % of the words are removed (higher "
             f"is more faithful); suff@q: lost when only they are kept (lower is better); ms: median "
             f"milliseconds to explain one text, on {cpu_line()}. bertclf's models: `bertclf train` "
             f"(default: hybrid TF-IDF + frozen MiniLM embeddings, logistic regression) or `bertclf "
             f"finetune` (1 epoch) on {args.train:,} train texts. LIME: default settings, 1,000 "
             f"samples, on the first texts of the same sample (the rows 'on the LIME texts'). bertclf "
             f"occlusion: each word taken out in turn (one model call per word); bertclf tokens: the "
             f"pooled token vectors' shares of the label's log-odds plus TF-IDF's exact n-gram "
             f"weights (one encoder pass); bertclf guided: occlusion of the 40 % of the words the "
             f"token shares rate strongest.", "",
             "| set / model | method | texts | comp@10 | comp@20 | suff@10 | suff@20 | ms per text |",
             "|---|---|---|---|---|---|---|---|"]

    def cells(found: dict) -> str:
        return " | ".join(f"{found[key]:.3f}" for key in ("comp@10", "comp@20", "suff@10", "suff@20"))

    for job, row in table.items():
        sub = row["subset"]
        for method in METHODS:
            ours = row[method]
            lines.append(f"| {job} | bertclf {method} | {row['texts']} | {cells(ours)} | "
                         f"{ours['ms_per_text']:.0f} (+{ours['added_ms']:.0f} over predicting) |")
        lines.append(f"| {job} | random words | {row['texts']} | {cells(row['random'])} | – |")
        for method in METHODS:
            lines.append(f"| {job} | bertclf {method}, on the LIME texts | {sub['texts']} | "
                         f"{cells(sub[method])} | {sub[method]['ms_per_text']:.0f} |")
        if "lime" in sub:
            earlier = " (an earlier run)" if sub["lime"].get("reused") else ""
            lines.append(f"| {job} | LIME{earlier} | {sub['lime']['texts']} | {cells(sub['lime'])} | "
                         f"{sub['lime']['ms_per_text']:.0f} |")
        lines.append(f"| {job} | random, on the LIME texts | {sub['texts']} | {cells(sub['random'])} | – |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
