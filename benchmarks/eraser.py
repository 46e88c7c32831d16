"""ERASER's faithfulness measures (DeYoung et al., 2020) for word rankings, shared by
benchmarks/explain.py (bertclf's explanations and random words, in the project's venv) and
benchmarks/explain_lime.py (LIME, in its own venv): the same words, removals and model.

- comprehensiveness: p(label | text) - p(label | text without its top q % of words);
- sufficiency: p(label | text) - p(label | only its top q % of words).

Higher comprehensiveness and lower sufficiency are more faithful. A word is what
``bertclf.classify.explain.word_spans`` finds; q % of a text's words is rounded up (at least one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

SHARES = (0.1, 0.2)


def top_words(n_words: int, order: Sequence[int], share: float) -> list[int]:
    return list(order[:max(1, math.ceil(share * n_words))])


def remove(text: str, spans: Sequence[tuple[int, int]], chosen: Sequence[int]) -> str:
    keep, last = [], 0
    for i in sorted(chosen):
        keep.append(text[last:spans[i][0]])
        last = spans[i][1]
    keep.append(text[last:])
    return " ".join(" ".join(keep).split())


def only(text: str, spans: Sequence[tuple[int, int]], chosen: Sequence[int]) -> str:
    return " ".join(text[spans[i][0]:spans[i][1]] for i in sorted(chosen))


def faithfulness(proba: Callable[[list[str]], np.ndarray], texts: list[str], labels: list[int],
                 spans: list[list[tuple[int, int]]], orders: list[Sequence[int]]) -> dict[str, float]:
    """Mean comprehensiveness and sufficiency at each share, for word rankings ``orders`` (the
    most important word first) of the texts' ``spans``, for the predicted ``labels``."""
    base = proba(texts)[np.arange(len(texts)), labels]
    found = {}
    for share in SHARES:
        chosen = [top_words(len(s), o, share) if s else [] for s, o in zip(spans, orders, strict=True)]
        without = proba([remove(t, s, c) for t, s, c in zip(texts, spans, chosen, strict=True)])
        kept = proba([only(t, s, c) for t, s, c in zip(texts, spans, chosen, strict=True)])
        rows = np.arange(len(texts))
        found[f"comp@{int(share * 100)}"] = float(np.mean(base - without[rows, labels]))
        found[f"suff@{int(share * 100)}"] = float(np.mean(base - kept[rows, labels]))
    return found
