"""Would few-shot tuning pay inside `bertclf label`? The texts the loop chose (bertclf's strategy,
simulated annotator, as benchmarks/active_learning.py runs it) at 50, 100 and 200 labels, trained
two ways and scored on the test split: the loop's own head (logistic regression, C = 10, on the
frozen unit-length embeddings) and `train --few-shot` (``FewShot``: contrastive tuning of the
encoder, then its head), with the seconds each takes on this CPU. Writes docs/results.md's
"label-few-shot" section.

    python benchmarks/label_few_shot.py [--sets sst2,ag_news,disaster_tweets] [--labels 50,100,200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from active_learning import DATA, embedded, pool_rows, read, strategies  # noqa: E402
from al_loop import fit_head, full_proba, simulate  # noqa: E402
from results_md import cpu_line, publish  # noqa: E402


def loop_points(args: argparse.Namespace):  # noqa: ANN201 - a generator of dicts
    """For each set and count: the loop's chosen pool rows (bertclf's strategy, seed 0) and what
    scoring them needs."""
    counts = [int(c) for c in args.labels.split(",")]
    for name in args.sets.split(","):
        data = np.load(embedded(name, args.pool))
        texts, labels, rows = pool_rows(name, args.pool)
        test_texts, test_labels = read(DATA / name / "test.csv")
        classes = sorted(set(labels))
        first, query = strategies(data["vectors"])["bertclf"]
        run = simulate(data["vectors"], data["target"], data["test_vectors"], data["test_target"], first,
                       query, 0, max_labels=max(counts))
        for count in counts:
            chosen = np.asarray(run["order"][:count])
            yield {"name": name, "count": count, "data": data, "classes": classes,
                   "texts": [texts[rows[i]] for i in chosen], "chosen": chosen,
                   "test_texts": test_texts, "test_labels": test_labels,
                   "labels": [labels[rows[i]] for i in chosen]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="sst2,ag_news,disaster_tweets")
    parser.add_argument("--labels", default="50,100,200")
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--guard", action="store_true", help="measure the loop's background tuning rule")
    parser.add_argument("--latency", action="store_true", help="time the page while a tuning job runs")
    args = parser.parse_args()
    if args.guard:
        return guarded(args)
    if args.latency:
        return latency(args)
    from bertclf import FewShot

    began = time.perf_counter()
    print(cpu_line(), flush=True)
    lines = ["| set | labels | loop's head (frozen) | few-shot | gain | head seconds | few-shot seconds |",
             "|---|---|---|---|---|---|---|"]
    for point in loop_points(args):
        data, chosen, classes = point["data"], point["chosen"], point["classes"]
        started = time.perf_counter()
        head = fit_head(data["vectors"][chosen], data["target"][chosen], 0)
        frozen = float((full_proba(head, data["test_vectors"], len(classes)).argmax(axis=1)
                        == data["test_target"]).mean())
        head_seconds = time.perf_counter() - started
        started = time.perf_counter()
        model = FewShot(progress=False).fit(point["texts"], point["labels"])
        tuned_seconds = time.perf_counter() - started
        tuned = float(np.mean(model.predict(point["test_texts"]) == np.asarray(point["test_labels"])))
        line = (f"| {point['name']} | {point['count']} | {100 * frozen:.1f} | {100 * tuned:.1f} | "
                f"{100 * (tuned - frozen):+.1f} | {head_seconds:.2f} | {tuned_seconds:.0f} |")
        print(line, flush=True)
        lines.append(line)
    body = (f"The loop's choices (bertclf's strategy, seed 0) at each count, trained two ways, test "
            f"accuracy (%); seconds on {cpu_line()} (few-shot's include exporting its tuned "
            f"encoder).\n\n" + "\n".join(lines))
    publish("label-few-shot", body, "python benchmarks/label_few_shot.py", write=not args.no_write,
            seconds=time.perf_counter() - began)


def guarded(args: argparse.Namespace) -> None:
    """The background tuning's rule against the head alone, on the loop's own choices."""
    from bertclf.encode.sources import DEFAULT_MODEL
    from bertclf.label.learner import unit_vectors
    from bertclf.label.tuning import tune_and_check

    began = time.perf_counter()
    print(cpu_line(), flush=True)
    lines = ["| set | labels | head (frozen) | head on the tuned encoder | check: head / tuned | adopted | "
             "the loop's model | gain | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    gains = []
    for point in loop_points(args):
        data, chosen, classes = point["data"], point["chosen"], point["classes"]
        known = [t for t, label in zip(point["test_texts"], point["test_labels"], strict=True)
                 if label in classes]  # as embedded() kept them
        target, frozen = data["target"][chosen], data["vectors"][chosen]
        head = fit_head(frozen, target, 0)
        base = float((full_proba(head, data["test_vectors"], len(classes)).argmax(axis=1)
                      == data["test_target"]).mean())
        started = time.perf_counter()
        result, model = tune_and_check(point["texts"], target, frozen, classes, DEFAULT_MODEL, 13)
        seconds = time.perf_counter() - started
        tuned = base
        if model is not None:
            mine = unit_vectors(point["texts"], model.embedder_)
            tests = unit_vectors(known, model.embedder_)
            tuned = float((full_proba(fit_head(mine, target, 0), tests, len(classes)).argmax(axis=1)
                           == data["test_target"]).mean())
        final = tuned if result["adopted"] else base
        gains.append(final - base)
        line = (f"| {point['name']} | {point['count']} | {100 * base:.1f} | {100 * tuned:.1f} | "
                f"{100 * result.get('frozen', 0):.0f} / {100 * result.get('tuned', 0):.0f} of "
                f"{result['check']} | {'yes' if result['adopted'] else 'no'} | {100 * final:.1f} | "
                f"{100 * (final - base):+.1f} | {seconds:.0f} |")
        print(line, flush=True)
        lines.append(line)
    body = (f"The loop's choices (bertclf's strategy, seed 0) at each count. The background tuning "
            f"(`bertclf.label.tuning`) tunes the encoder on 80 % of the answers and keeps it only if "
            f"the loop's head on its vectors answers more of the other 20 % correctly (check); the "
            f"loop's model is then that head on all the answers. Test accuracy (%); seconds on "
            f"{cpu_line()}, tuning and embedding the answers (not the pool). Mean gain over the head "
            f"alone: {100 * float(np.mean(gains)):+.2f} points.\n\n" + "\n".join(lines))
    publish("label-tune-guard", body, "python benchmarks/label_few_shot.py --guard", write=not args.no_write,
            seconds=time.perf_counter() - began)


def latency(args: argparse.Namespace) -> None:
    """The page's round trip at a 100k pool: refits alone, then with a tuning job running beside."""
    from active_learning import page_latency

    began = time.perf_counter()
    alone = page_latency(answers=200, pace=0.25)
    beside = page_latency(answers=200, tune=True, pace=0.25)
    body = (f"The page's round trip (keep an answer, get the next text) at a pool of 100,000 texts on "
            f"{cpu_line()}, milliseconds: with refits in the background, p50 {alone['p50']:.0f} and p95 "
            f"{alone['p95']:.0f} over {alone['timed']} answers; with a few-shot tuning job of the "
            f"bundled encoder running as well (its own process, lowest priority), p50 {beside['p50']:.0f} "
            f"and p95 {beside['p95']:.0f} over the {beside['timed']} answers given while it ran. One "
            f"answer every 0.25 s in both runs.")
    print(body, flush=True)
    publish("label-tune-latency", body, "python benchmarks/label_few_shot.py --latency",
            write=not args.no_write, seconds=time.perf_counter() - began)


if __name__ == "__main__":
    main()
