"""Categories defined only by keywords or a short description: texts go to the nearest one.

Each category's vector is the mean of its keywords' and description's L2-normalised embeddings;
a text's score for a category is the cosine between the two. The best category wins, a text
whose best score is below ``threshold`` goes to ``other``, and ``multi`` keeps every category
above the threshold. No training, so it is the first thing to try before anyone labels data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from bertclf.errors import InputError, SpecError

OTHER = "other"


@dataclass
class Category:
    name: str
    keywords: list[str]
    description: str | None = None

    @property
    def phrases(self) -> list[str]:
        return self.keywords + ([self.description] if self.description else [])


def parse_categories(data: Any, where: str = "categories") -> list[Category]:
    """``{name: [keywords]}`` or ``{name: {keywords: [...], description: "..."}}`` (or a bare
    description string); every category needs at least one keyword or a description."""
    if not isinstance(data, dict) or not data:
        raise InputError(f"{where}: expected a mapping of category names to keywords, like "
                         f"'sports: [football, match, goal]'")
    categories = []
    for name, spec in data.items():
        if isinstance(spec, str):
            spec = {"description": spec}
        elif isinstance(spec, list):
            spec = {"keywords": spec}
        elif spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise InputError(f"{where}: category '{name}' must be a list of keywords or a mapping with "
                             f"keywords and/or description")
        unknown = set(spec) - {"keywords", "description"}
        if unknown:
            raise InputError(f"{where}: category '{name}' has unknown field(s) {', '.join(sorted(unknown))} "
                             f"(use keywords and description)")
        keywords = [str(k).strip() for k in (spec.get("keywords") or []) if str(k).strip()]
        description = str(spec["description"]).strip() if spec.get("description") else None
        if not keywords and not description:
            raise InputError(f"{where}: category '{name}' is empty: give it keywords or a description")
        if str(name) == OTHER:
            raise InputError(f"{where}: '{OTHER}' is reserved for texts that match no category")
        categories.append(Category(str(name), keywords, description))
    return categories


def read_categories(path: str | os.PathLike[str]) -> list[Category]:
    """Categories from a YAML (or JSON) file, with one clear error for a file that does not parse."""
    import yaml

    try:
        text = open(path, encoding="utf-8").read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_categories(data, str(path))


class ZeroShot:
    """Nearest-category assignment with an ``Embedder``; ``fit`` embeds the categories."""

    def __init__(self, embedder: Any, categories: list[Category], threshold: float | None = None,
                 multi: bool = False) -> None:
        if threshold is not None and not -1 <= threshold <= 1:
            raise SpecError(f"threshold is a cosine similarity, between -1 and 1; got {threshold}")
        if multi and threshold is None:
            raise SpecError("multi needs a threshold: every category above it is kept")
        self.embedder, self.categories, self.threshold, self.multi = embedder, categories, threshold, multi
        self.names = np.asarray([c.name for c in categories])
        self.centres: np.ndarray | None = None

    def fit(self) -> ZeroShot:
        phrases = [p for c in self.categories for p in c.phrases]
        vectors = _unit(self.embedder.transform(phrases))
        centres, start = [], 0
        for c in self.categories:
            centres.append(vectors[start:start + len(c.phrases)].mean(axis=0))
            start += len(c.phrases)
        self.centres = _unit(np.vstack(centres))
        return self

    def scores(self, texts: list[Any]) -> np.ndarray:
        """Cosine of each text to each category, shape (n, n_categories)."""
        if self.centres is None:
            self.fit()
        return _unit(self.embedder.transform(texts)) @ self.centres.T

    def assign(self, scores: np.ndarray) -> list[str]:
        """The best category per text ('other' under the threshold), or with ``multi`` every
        category above the threshold joined by ';' ('other' when none is)."""
        if self.multi:
            return [";".join(self.names[row >= self.threshold]) or OTHER for row in scores]
        best = self.names[scores.argmax(axis=1)].astype(object)
        if self.threshold is not None:
            best[scores.max(axis=1) < self.threshold] = OTHER
        return best.tolist()


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
