"""`bertclf label`'s query strategy against random order, plain margin and entropy (and
small-text's BreakingTies and PredictionEntropy, run in their own venv on the same embeddings and
head), with a simulated annotator: the train split's true labels, from zero labels, in batches of
10, scored on the test split. Also the refit and query seconds at pools of 10k and 100k texts, and
the page's next-text latency at a 100k pool while refits run. Writes docs/results.md's
"active-learning" section.

    python benchmarks/active_learning.py [--sets ag_news,banking77,...] [--seeds 3] [--pool 10000]
        [--smalltext benchmarks/.venv-smalltext/bin/python] [--no-write]

small-text goes in the benchmark's own venv, never in bertclf's dependencies:
    python3 -m venv benchmarks/.venv-smalltext && benchmarks/.venv-smalltext/bin/pip install small-text
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
from al_loop import fit_head, full_proba, random_first, simulate  # noqa: E402
from results_md import cpu_line, publish, run_sets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = ["ag_news", "banking77", "sst2", "disaster_tweets", "tweepfake"]
CHECKPOINTS = [50, 100, 200, 500, 1000]
WORK = Path(tempfile.gettempdir()) / "bertclf-active-learning"


def read(path: Path) -> tuple[list[str], list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def pool_rows(name: str, pool: int) -> tuple[list[str], list[str], np.ndarray]:
    """The train split's texts and labels, and the rows of the set's pool (a seeded sample)."""
    texts, labels = read(DATA / name / "train.csv")
    return texts, labels, np.sort(np.random.default_rng(0).permutation(len(texts))[:pool])


def embedded(name: str, pool: int) -> Path:
    """The set's pool (a seeded sample of its train split) and test split, embedded once by the
    bundled encoder as `bertclf label` embeds them (unit length), in an .npz."""
    out = WORK / f"{name}-{pool}.npz"
    if out.exists():
        return out
    from bertclf import Embedder

    texts, labels, rows = pool_rows(name, pool)
    test_texts, test_labels = read(DATA / name / "test.csv")
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    embedder = Embedder(progress=True)
    unit = [v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) for v in (
        np.asarray(embedder.transform([texts[i] for i in rows]), dtype=np.float32),
        np.asarray(embedder.transform(test_texts), dtype=np.float32))]
    keep = [i for i, label in enumerate(test_labels) if label in index]
    WORK.mkdir(exist_ok=True)
    np.savez(out, vectors=unit[0], target=np.asarray([index[labels[i]] for i in rows]),
             test_vectors=unit[1][keep], test_target=np.asarray([index[test_labels[i]] for i in keep]))
    return out


def strategies(vectors: np.ndarray) -> dict:
    from bertclf.label import strategy

    def margin(head, proba, labelled, unlabelled, n):
        return unlabelled[np.argsort(strategy.margins(proba), kind="stable")[:n]]

    def entropy(head, proba, labelled, unlabelled, n):
        return unlabelled[np.argsort(-strategy.entropy(proba), kind="stable")[:n]]

    def ours(head, proba, labelled, unlabelled, n):
        return strategy.next_batch(proba, vectors, unlabelled, n)

    draw = np.random.default_rng(7)

    def random_order(head, proba, labelled, unlabelled, n):
        return draw.choice(unlabelled, n, replace=False)

    size = len(vectors)
    cover: dict[str, np.ndarray] = {}

    def covering(rng, n):  # as `bertclf label` starts: the texts that cover the pool, in turn
        cover["order"] = strategy.covering(vectors, np.arange(size), strategy.COVER_FIRST,
                                           int(rng.integers(1 << 30)))
        return cover["order"][:n]

    def bertclf(head, proba, labelled, unlabelled, n):
        left = np.setdiff1d(cover["order"], labelled, assume_unique=True)
        if len(labelled) < strategy.COVER_FIRST and len(left):
            return cover["order"][np.isin(cover["order"], left)][:n]
        return ours(head, proba, labelled, unlabelled, n)

    return {"random": (random_first(size), random_order), "margin": (random_first(size), margin),
            "entropy": (random_first(size), entropy), "bertclf": (covering, bertclf)}


def summarise(runs: list[dict], full: float) -> dict:
    """Mean accuracy at each checkpoint, the area under the curve (mean accuracy over every
    batch, as a percentage) and the labels to 95 % of ``full`` (mean over seeds; None if a seed
    never got there)."""
    last = runs[0]["points"][-1]["labels"]
    at = {c: statistics.mean(next(p["accuracy"] for p in r["points"] if p["labels"] >= c) for r in runs)
          for c in CHECKPOINTS if c <= last}
    auc = statistics.mean(statistics.mean(p["accuracy"] for p in r["points"]) for r in runs)
    reach = [next((p["labels"] for p in r["points"] if p["accuracy"] >= 0.95 * full), None) for r in runs]
    return {"at": at, "auc": auc, "to95": None if None in reach else statistics.mean(reach),
            "refit": statistics.median(r["refit_seconds"] for r in runs),
            "query": statistics.median(r["query_seconds"] for r in runs)}


def scale_timing(npz: Path) -> dict:
    """Refit at 1,000 labels and one query of 10 at pools of 10k and 100k texts (the 100k pool
    is the set's vectors repeated with a little noise)."""
    from bertclf.label import strategy

    data = np.load(npz)
    rng = np.random.default_rng(0)
    found = {}
    for size in (10_000, 100_000):
        base = data["vectors"]
        copies = -(-size // len(base))
        pool = np.vstack([base + rng.normal(0, 0.01, base.shape) for _ in range(copies)])[:size]
        pool = (pool / np.linalg.norm(pool, axis=1, keepdims=True)).astype(np.float32)
        target = np.resize(data["target"], size)
        labelled = rng.choice(size, 1000, replace=False)
        started = time.perf_counter()
        head = fit_head(pool[labelled], target[labelled], 0)
        refit = time.perf_counter() - started
        started = time.perf_counter()
        proba = full_proba(head, pool, int(target.max()) + 1)
        strategy.next_batch(proba, pool, np.arange(size), 10)
        found[size] = (refit, time.perf_counter() - started)
    return found


def page_latency(size: int = 100_000, answers: int = 200, tune: bool = False, pace: float = 0.0) -> dict:
    """The page's round trip (keep an answer, get the next text) at a pool of ``size`` texts
    while the model refits in the background: p50 and p95 milliseconds over ``answers``. With
    ``tune``, a real few-shot tuning job of the bundled encoder starts at ``tuning.TUNE_FROM``
    answers, and only the answers given while it runs are timed (``pace`` seconds apart)."""
    import shutil

    from fastapi.testclient import TestClient

    from bertclf.encode.sources import DEFAULT_MODEL
    from bertclf.label.app import create_label_app
    from bertclf.label.learner import Learner
    from bertclf.label.store import LabelStore
    from bertclf.label.tuning import Tuner, tuning_folder

    rng = np.random.default_rng(0)
    texts = [f"text {i} " + " ".join(map(str, rng.integers(0, 1000, 8))) for i in range(size)]
    db = WORK / f"latency-{size}.db"
    db.unlink(missing_ok=True)
    store, _ = LabelStore.create_or_open(db, texts, ["a", "b", "c"])
    vectors = rng.normal(0, 1, (size, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    shutil.rmtree(tuning_folder(db), ignore_errors=True)
    tuner = Tuner(db, store.ids, DEFAULT_MODEL) if tune else None
    learner = Learner(store, vectors, np.arange(size), tuner=tuner).start()
    client = TestClient(create_label_app(store, learner))
    shown = client.post("/api/next", json={"annotator": "a"}).json()
    seconds = []
    for i in range(answers):
        started = time.perf_counter()
        reply = client.post("/api/answer", json={"annotator": "a", "text_id": shown["text_id"],
                                                 "labels": ["abc"[i % 3]]})
        if tuner is None or tuner.running:
            seconds.append(time.perf_counter() - started)
        shown = reply.json()["next"]
        time.sleep(pace)
    learner.stop()
    ms = sorted(1000 * s for s in seconds)
    return {"p50": ms[len(ms) // 2], "p95": ms[int(len(ms) * 0.95)], "refit": learner.snapshot.seconds,
            "timed": len(ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--max-labels", type=int, default=1000)
    parser.add_argument("--smalltext", default=None, metavar="PYTHON", help="small-text's venv python")
    parser.add_argument("--rows", default=None, metavar="FILE",
                        help="JSON lines of finished sets: a stopped run resumes after them")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    print(cpu_line(), flush=True)
    def run(name: str) -> dict:
        npz = embedded(name, args.pool)
        data = np.load(npz)
        full_head = fit_head(data["vectors"], data["target"], 0)
        classes = int(data["target"].max()) + 1
        full = float((full_proba(full_head, data["test_vectors"], classes).argmax(axis=1)
                      == data["test_target"]).mean())
        results = {}
        for label, (first, query) in strategies(data["vectors"]).items():
            runs = [simulate(data["vectors"], data["target"], data["test_vectors"], data["test_target"],
                             first, query, seed, max_labels=args.max_labels) for seed in range(args.seeds)]
            results[label] = summarise(runs, full)
            print(name, label, json.dumps(results[label]), flush=True)
        if args.smalltext:
            runner = str(Path(__file__).with_name("active_learning_smalltext.py"))
            out = subprocess.run([args.smalltext, runner, str(npz), str(args.seeds), str(args.max_labels)],
                                 capture_output=True, text=True, check=True)
            for label, runs in json.loads(out.stdout.splitlines()[-1]).items():
                results[label] = summarise(runs, full)
                print(name, label, json.dumps(results[label]), flush=True)
        return {"set": name, "full": full, "size": len(data["target"]), "seeds": args.seeds,
                "results": results}

    table = run_sets(args.sets.split(","), args.rows, run)
    timing = scale_timing(embedded("ag_news", args.pool))
    latency = page_latency()
    body = render(table, timing, latency, args)
    publish("active-learning", body, "python benchmarks/active_learning.py" + (
        " --smalltext benchmarks/.venv-smalltext/bin/python" if args.smalltext else ""),
        write=not args.no_write, seconds=time.perf_counter() - began)


def render(table: dict, timing: dict, latency: dict, args: argparse.Namespace) -> str:
    from bertclf.label.strategy import COVER_FIRST

    names = list(dict.fromkeys(label for found in table.values() for label in found["results"]))
    lines = [f"Simulated annotator (the train split's labels), from zero labels, batches of 10, the seeds "
             f"each row says; pool: a seeded sample of {args.pool:,} train texts; head: logistic regression "
             f"(C = 10) "
             f"on the bundled encoder's unit-length embeddings; test accuracy (%). `bertclf` is "
             f"`bertclf label`'s strategy (the first {COVER_FIRST} answers cover the pool, then the smallest "
             f"margins with diversity inside the batch); `margin` and `entropy` are plain uncertainty "
             f"sampling on the same head; `st-*` are small-text's strategies on the same embeddings and "
             f"head. Labels to 95 % of full: the first batch whose accuracy reaches 95 % of the same "
             f"head's on the whole pool (mean of the seeds); vs random: that count over random order's "
             f"(where random needs more than {args.max_labels}, {args.max_labels} is used, which "
             f"favours random).", "",
             "| set | strategy | " + " | ".join(f"{c} labels" for c in CHECKPOINTS)
             + " | area | labels to 95 % of full | vs random |",
             "|---|---|" + "---|" * (len(CHECKPOINTS) + 3)]
    ratios: dict[str, list[float]] = {n: [] for n in names}
    aucs: dict[str, list[float]] = {n: [] for n in names}
    for name, found in table.items():
        base = found["results"]["random"]["to95"] or args.max_labels  # random may need more: a bound
        for label in names:
            if label not in found["results"]:
                lines.append(f"| {name} | {label} | " + "– | " * (len(CHECKPOINTS) + 3) + "(not run) |")
                continue
            r = found["results"][label]
            ratio = r["to95"] / base if r["to95"] else None
            if ratio is not None:
                ratios[label].append(ratio)
            aucs[label].append(r["auc"])
            at = {int(k): v for k, v in r["at"].items()}  # keys are strings after a reload
            cells = " | ".join(f"{100 * at[c]:.1f}" if c in at else "–" for c in CHECKPOINTS)
            to95 = f"{r['to95']:.0f}" if r["to95"] else f"> {args.max_labels}"
            seeds = found.get("seeds", args.seeds)
            runs = f"{seeds} seed{'s' * (seeds > 1)}"
            lines.append(f"| {name} (full {100 * found['full']:.1f}; {runs}) | {label} | {cells} | "
                         f"{100 * r['auc']:.1f} | {to95} | {f'{ratio:.2f}×' if ratio else '–'} |")
    lines += ["", "| strategy | mean area | mean labels ratio to random (sets where both reach 95 %) |",
              "|---|---|---|"]
    for label in names:
        mean_ratio = (f"{statistics.mean(ratios[label]):.2f}× ({len(ratios[label])} sets)" if ratios[label]
                      else "–")
        mean_auc = (f"{100 * statistics.mean(aucs[label]):.2f} ({len(aucs[label])} sets)" if aucs[label]
                    else "–")
        lines.append(f"| {label} | {mean_auc} | {mean_ratio} |")
    every = [found for found in table.values() if all(label in found["results"] for label in names)]
    if 0 < len(every) < len(table):
        shared = ", ".join(f"{label} {100 * statistics.mean(f['results'][label]['auc'] for f in every):.2f}"
                           for label in names)
        lines += ["", f"Mean area on the {len(every)} sets every strategy ran on "
                      f"({', '.join(f['set'] for f in every)}): {shared}."]
    small, big = timing[10_000], timing[100_000]
    lines += ["", f"Seconds on {cpu_line()}: a refit at 1,000 labels and a query of 10 — pool 10k: "
              f"{small[0]:.2f} s and {small[1]:.2f} s; pool 100k: {big[0]:.2f} s and {big[1]:.2f} s "
              f"(ag_news's vectors repeated with noise). The page's round trip (keep an answer, get the next "
              f"text) at a 100k pool while refits run: p50 {latency['p50']:.0f} ms, "
              f"p95 {latency['p95']:.0f} ms (last refit {latency['refit']:.1f} s, in the background)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
