"""Long documents in `--auto` (issue 43, part 4): does reading a text's start and end
(head+tail) or every window of it (chunks) beat its first 256 tokens, and would the search's
cross-validation see it? For each set: the share of train texts over the encoder's window, then
frozen + LR (standardised, C = 1) and hybrid (TF-IDF word + frozen, C = 10) read each of the three
ways, 5-fold cross-validated on TRAIN as the search does, then fitted on all of TRAIN and scored on
TEST. Writes docs/results.md's "auto-long" section.

    python benchmarks/auto_long.py [--sets bbc_news,reuters_r8]
"""

from __future__ import annotations

import argparse
import time

from auto_loso import DATA, scored_on_test
from results_md import cpu_line, publish

from bertclf import Embedder
from bertclf.io.labels import read_labelled
from bertclf.search.space import Candidate, beyond_window

WAYS = (None, "head-tail", "chunk")


def space() -> list[Candidate]:
    return [c for long in WAYS for c in (
        Candidate("embedding", layers=-1, scaling="standard", C=1.0, long=long),
        Candidate("hybrid", "word", layers=-1, C=10.0, long=long))]


def one_set(name: str) -> list[str]:
    texts, labels = read_labelled(str(DATA / name / "train.csv"), "text", "label")
    test, truth = read_labelled(str(DATA / name / "test.csv"), "text", "label")
    said: list[str] = []
    long = beyond_window(Embedder(progress=False), texts, said.append)
    share = said[0].split("%")[0] + " %" if said else "under 50 %"
    rows = []
    for c, accuracy, seconds in scored_on_test(texts, labels, test, truth, space()):
        line = (f"| {name} | {share} | {c.name} | {100 * c.score:.2f} | {100 * accuracy:.2f} | "
                f"{seconds:.0f} |")
        print(line, flush=True)
        rows.append(line)
    print(f"{name}: search would score the long ways: {long}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="bbc_news,reuters_r8")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    lines = ["| set | texts over the window | candidate | 5-fold CV on train | test | fit + test seconds |",
             "|---|---|---|---|---|---|"]
    for name in args.sets.split(","):
        lines += one_set(name)
    body = (f"Accuracy (%), on {cpu_line()}. The encoder's window is 256 tokens; '(head+tail)' reads a "
            f"text's first 64 and last 190 tokens, '(chunks)' every window of it (stride 127), "
            f"mean-pooled; without either, its first 256 tokens.\n\n" + "\n".join(lines))
    publish("auto-long", body, "python benchmarks/auto_long.py", write=not args.no_write,
            seconds=time.perf_counter() - began)


if __name__ == "__main__":
    main()
