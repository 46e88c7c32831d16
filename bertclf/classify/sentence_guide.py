"""``--long guide``: fill a long text's token budget with its most informative sentences.

After Text-Guide (Fiok et al., 2021): a fast linear model on bag-of-words learns from the training
labels which words matter; a text longer than the budget keeps its first sentence (often a title)
and then its densest sentences by that importance, in their original order, until the budget is
full. Shorter texts are left alone. The importance table is plain JSON in the model folder.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from bertclf.io.part_files import json_file, read_json

GUIDE_FILE = "guide.json"
TOP_WORDS = 5000
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_WORDS = re.compile(r"[a-z][a-z]+")


class TextGuide:
    """Word importances learned from labelled texts, and the sentence selection they drive."""

    def __init__(self, importance: dict[str, float] | None = None) -> None:
        self.importance = dict(importance or {})

    def fit(self, texts: list[str], y: np.ndarray) -> TextGuide:
        """``y``: class index per text, or an (n, L) 0/1 matrix for multi-label data."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        vectorizer = CountVectorizer(token_pattern=_WORDS.pattern, stop_words="english", binary=True,
                                     min_df=2, max_features=50_000)
        try:
            X = vectorizer.fit_transform(texts)
        except ValueError:  # no word occurs twice: nothing to learn, every sentence scores alike
            return self
        model = LogisticRegression(max_iter=1000)
        if y.ndim == 2:
            y = y[:, y.min(axis=0) != y.max(axis=0)]  # labels with both values only
            if not y.shape[1]:
                return self
            model = OneVsRestClassifier(LogisticRegression(solver="liblinear", max_iter=1000))
        coef = np.vstack([e.coef_ for e in model.fit(X, y).estimators_]) if y.ndim == 2 \
            else model.fit(X, y).coef_
        scores = np.abs(coef).max(axis=0)
        words = vectorizer.get_feature_names_out()
        top = np.argsort(-scores)[:TOP_WORDS]
        self.importance = {str(words[i]): round(float(scores[i]), 5) for i in top if scores[i] > 0}
        return self

    def select(self, texts: list[str], tokenizer: Any, budget: int) -> list[str]:
        """Each text cut to its best sentences within ``budget`` tokens (others unchanged)."""
        out = list(texts)
        long_rows = [i for i, n in enumerate(_token_counts(tokenizer, texts)) if n > budget]
        pieces = {i: [s for s in _SENTENCES.split(texts[i]) if s.strip()] for i in long_rows}
        sizes = iter(_token_counts(tokenizer, [s for i in long_rows for s in pieces[i]]))
        for i in long_rows:
            sentences = pieces[i]
            out[i] = self._pick(sentences, [next(sizes) for _ in sentences], budget)
        return out

    def _pick(self, sentences: list[str], sizes: list[int], budget: int) -> str:
        scores = [sum(self.importance.get(w, 0.0) for w in set(_WORDS.findall(s.lower()))) / max(n, 1)
                  for s, n in zip(sentences, sizes, strict=True)]
        chosen, used = {0}, sizes[0]  # the first sentence: usually a title or the topic
        for j in sorted(range(1, len(sentences)), key=lambda j: -scores[j]):
            if used + sizes[j] <= budget:
                chosen.add(j)
                used += sizes[j]
        return " ".join(sentences[j] for j in sorted(chosen))

    def to_json(self) -> dict[str, Any]:
        return {"method": "text-guide", "importance": self.importance}

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"method": "text-guide"}, {GUIDE_FILE: json_file(self.to_json())}

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> TextGuide:
        return cls.from_json(read_json(files, GUIDE_FILE))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextGuide:
        importance = data["importance"]
        if not isinstance(importance, dict):
            raise ValueError("guide importances must be a mapping of words to scores")
        return cls({str(k): float(v) for k, v in importance.items()})


def _token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    if not texts:
        return []
    ids = tokenizer(texts, add_special_tokens=False, verbose=False, return_attention_mask=False)["input_ids"]
    return [len(row) for row in ids]
