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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="sst2,ag_news,disaster_tweets")
    parser.add_argument("--labels", default="50,100,200")
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from bertclf import FewShot

    began = time.perf_counter()
    print(cpu_line(), flush=True)
    counts = [int(c) for c in args.labels.split(",")]
    lines = ["| set | labels | loop's head (frozen) | few-shot | gain | head seconds | few-shot seconds |",
             "|---|---|---|---|---|---|---|"]
    for name in args.sets.split(","):
        data = np.load(embedded(name, args.pool))
        texts, labels, rows = pool_rows(name, args.pool)
        test_texts, test_labels = read(DATA / name / "test.csv")
        classes = sorted(set(labels))
        first, query = strategies(data["vectors"])["bertclf"]
        run = simulate(data["vectors"], data["target"], data["test_vectors"], data["test_target"], first,
                       query, 0, max_labels=max(counts))
        for count in counts:
            chosen = run["order"][:count]
            started = time.perf_counter()
            head = fit_head(data["vectors"][chosen], data["target"][chosen], 0)
            frozen = float((full_proba(head, data["test_vectors"], len(classes)).argmax(axis=1)
                            == data["test_target"]).mean())
            head_seconds = time.perf_counter() - started
            started = time.perf_counter()
            model = FewShot(progress=False).fit([texts[rows[i]] for i in chosen],
                                                [labels[rows[i]] for i in chosen])
            tuned_seconds = time.perf_counter() - started
            tuned = float(np.mean(model.predict(test_texts) == np.asarray(test_labels)))
            line = (f"| {name} | {count} | {100 * frozen:.1f} | {100 * tuned:.1f} | "
                    f"{100 * (tuned - frozen):+.1f} | {head_seconds:.2f} | {tuned_seconds:.0f} |")
            print(line, flush=True)
            lines.append(line)
    body = (f"The loop's choices (bertclf's strategy, seed 0) at each count, trained two ways, test "
            f"accuracy (%); seconds on {cpu_line()} (few-shot's include exporting its tuned "
            f"encoder).\n\n" + "\n".join(lines))
    publish("label-few-shot", body, "python benchmarks/label_few_shot.py", write=not args.no_write,
            seconds=time.perf_counter() - began)


if __name__ == "__main__":
    main()
