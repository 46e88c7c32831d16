"""Other ways to weigh words at about occlusion's cost, measured and not adopted: what
benchmarks/explain.py's models and texts give for each, by ERASER's measures (benchmarks/eraser.py).

- occurrence: occlusion, one occurrence of a word at a time (bertclf's method);
- type: every occurrence of a word at once (as LIME's bag of words removes it);
- half-masks: ``--factor`` x W texts with a random half of the words kept; a word's weight is the
  label's mean probability with it minus without it (a sampling estimate of its average effect);
- occurrence + half-masks: the two standardised and added;
- ridge: a linear fit of the label's probability on which words are kept, over the half-masks,
  the occlusions and the whole text (LIME's model without its kernel, on W + M calls).

Run benchmarks/explain.py first (it trains and keeps the models).

    python benchmarks/explain_variants.py [--set ag_news] [--texts 60] [--factor 1.0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eraser import faithfulness  # noqa: E402
from explain import DATA, WORK, sample  # noqa: E402
from results_md import cpu_line  # noqa: E402


def kept(text: str, spans: list[tuple[int, int]], keep: np.ndarray) -> str:
    out, last = [], 0
    for (a, b), k in zip(spans, keep, strict=True):
        if not k:
            out.append(text[last:a])
            last = b
    out.append(text[last:])
    return " ".join(" ".join(out).split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="ag_news")
    parser.add_argument("--texts", type=int, default=60)
    parser.add_argument("--factor", type=float, default=1.0, help="half-masks per word")
    args = parser.parse_args()
    from bertclf import runtime
    from bertclf.classify.explain import word_spans

    print(cpu_line(), flush=True)
    texts = [r["text"] for r in sample(DATA / args.set / "test.csv", 300, 1)][:args.texts]
    model = runtime.Model(WORK / f"{args.set}-default", progress=False)
    model.warn_cut = False
    proba = model.predict_proba
    labels = proba(texts).argmax(axis=1).tolist()
    spans = [word_spans(t) for t in texts]
    rng = np.random.default_rng(0)
    orders: dict[str, list[list[int]]] = {k: [] for k in ("occurrence", "type", "half-masks",
                                                          "occurrence + half-masks", "ridge")}
    for text, words, label in zip(texts, spans, labels, strict=True):
        n, base = len(words), proba([text])[0, label]
        occurrence = base - proba([kept(text, words, np.arange(n) != i) for i in range(n)])[:, label]
        lowered = [text[a:b].lower() for a, b in words]
        types = sorted(set(lowered))
        by_type = dict(zip(types, base - proba([kept(text, words, np.asarray([w != t for w in lowered]))
                                                 for t in types])[:, label], strict=True))
        masks = rng.random((max(8, int(args.factor * n)), n)) < 0.5
        p = proba([kept(text, words, m) for m in masks])[:, label]
        half = np.asarray([p[masks[:, i]].mean() - p[~masks[:, i]].mean()
                           if masks[:, i].any() and (~masks[:, i]).any() else 0.0 for i in range(n)])
        design = np.vstack([masks, ~np.eye(n, dtype=bool), np.ones((1, n), bool)]).astype(float)
        design = np.c_[design, np.ones(len(design))]
        target = np.concatenate([p, base - occurrence, [base]])
        ridge = np.linalg.solve(design.T @ design + 0.1 * np.eye(n + 1), design.T @ target)[:n]

        def z(v: np.ndarray) -> np.ndarray:
            return (v - v.mean()) / (v.std() + 1e-12)

        for key, weights in (("occurrence", occurrence), ("type", np.asarray([by_type[w] for w in lowered])),
                             ("half-masks", half), ("occurrence + half-masks", z(occurrence) + z(half)),
                             ("ridge", ridge)):
            orders[key].append(np.argsort(-weights, kind="stable").tolist())
    print(f"{args.set}, {len(texts)} texts, half-masks {args.factor:g} x words")
    print("| method | comp@10 | comp@20 | suff@10 | suff@20 |\n|---|---|---|---|---|")
    for key, found in orders.items():
        f = faithfulness(proba, texts, labels, spans, found)
        print(f"| {key} | " + " | ".join(f"{f[m]:.3f}" for m in ("comp@10", "comp@20", "suff@10", "suff@20"))
              + " |")


if __name__ == "__main__":
    main()
