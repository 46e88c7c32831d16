"""`bertclf audit` on a real set: how many rows it flags, and the top ones.

disaster_tweets holds tweets whose text appears with both labels; the audit should surface those
and other doubtful rows first. Writes the "Label audit" section of docs/results.md.

    python benchmarks/audit.py [--set disaster_tweets] [--top 12] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from results_md import publish

from bertclf import Embedder
from bertclf.evaluate.audit import audit_labels
from bertclf.io.labels import read_labelled

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--set", default="disaster_tweets")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/results.md alone")
    args = parser.parse_args()
    began = time.perf_counter()
    path = args.data / args.set / "train.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        texts, labels, rows = read_labelled(str(path), "text", "label", with_rows=True)
    found = audit_labels(texts, labels, Embedder(progress=False), rows=rows)
    seconds = time.perf_counter() - began
    by_text: dict[str, set[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        by_text.setdefault(text, set()).add(str(label))
    both = {t for t, seen in by_text.items() if len(seen) > 1}
    flagged = found[found["issue"]]
    lines = [f"### Label audit: {args.set} (train split)", "",
             f"{int(found['issue'].sum()):,} of {len(found):,} rows flagged in {seconds:.0f} s. "
             f"{len(both)} texts appear with both labels; {int(flagged['text'].isin(both).sum())} of "
             f"the flagged rows are among them, and {int(found.head(100)['text'].isin(both).sum())} of "
             f"the top 100.", "",
             "| row | given | suggested | p(given) | confidence | text (first 80 characters) |",
             "|---|---|---|---|---|---|"]
    for r in found.head(args.top).itertuples():
        text = r.text.replace("|", "/").replace("\n", " ")[:80]
        lines.append(f"| {r.row} | {r.given} | {r.suggested} | {r.p_given:.3f} | {r.p_suggested:.3f} | "
                     f"{text}{' (labelled both ways)' if r.text in both else ''} |")
    publish("label-audit", "\n".join(lines), f"python benchmarks/audit.py --set {args.set}",
            not args.no_write, seconds)


if __name__ == "__main__":
    main()
