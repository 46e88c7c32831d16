"""A vote of linear models that is itself one ordinary model: ``train --auto``'s ensembles.

Averaging the log-probabilities of logistic-regression members (a geometric soft vote) equals a
softmax of their averaged scores, and each member's score is linear in features that a hybrid
model reads: TF-IDF columns (word, or word and character n-grams) and the standardised
embedding. So the vote of a TF-IDF model, a frozen model and a hybrid, fitted on the same texts
with one embedder setting, is a single hybrid ``TextClassifier`` whose logistic-regression head
holds the mean of their weights, each placed on the hybrid's columns. It saves, loads, predicts
and serves like any other model, at the cost of one member.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.classify.compatibility import why_not_merged
from bertclf.classify.heads import Head
from bertclf.errors import SpecError


def can_vote(members: list[Any]) -> str | None:
    """Why these fitted (or configured) members cannot be merged into one model; None if they
    can (``compatibility.why_not_merged``)."""
    return why_not_merged(members, _setting)


def _setting(model: Any) -> tuple[Any, Any]:
    s = model.embedder_.settings() if hasattr(model, "embedder_") else model.embedder.settings()
    return s.pooling, tuple(s.layers)


def merge(members: list[Any], names: list[str] | None = None) -> Any:
    """One fitted hybrid ``TextClassifier`` predicting the geometric soft vote of ``members``
    (fitted ``TextClassifier``s on the same texts and labels, see ``can_vote``)."""
    why = can_vote(members)
    if why is not None:
        raise SpecError(f"cannot merge these models into one vote: {why}")
    if any(getattr(m, "multilabel_", False) for m in members):
        raise SpecError("cannot merge models of several labels per text into one vote")
    classes = members[0].classes_
    if any(list(m.classes_) != list(classes) for m in members):
        raise SpecError("the members of a vote must be fitted on the same labels")
    words = [m.tfidf_ for m in members if m.tfidf_ is not None]
    union = max(words, key=lambda t: len(t.parts)) if words else None
    embedders = [m for m in members if m.features != "tfidf"]
    dim = embedders[0].scaler_.mean.shape[0] if embedders else 0
    width = (union.dim if union is not None else 0) + dim
    hybrid = union is not None and dim > 0
    weight = np.zeros((members[0].head_.tensors["weight"].shape[0], width))
    bias = np.zeros_like(members[0].head_.tensors["bias"])
    for m in members:
        w, start = m.head_.tensors["weight"], 0
        if m.tfidf_ is not None:
            for part in m.tfidf_.parts:
                at = _part_offset(union, part)
                weight[:, at:at + part.idf.shape[0]] += w[:, start:start + part.idf.shape[0]]
                start += part.idf.shape[0]
        if m.features != "tfidf":
            # a hybrid reads the standardised embedding divided by sqrt(dim), a frozen model whole
            factor = math.sqrt(dim) if hybrid and m.features == "embedding" else 1.0
            weight[:, width - dim:] += w[:, start:start + dim] * factor
        bias += m.head_.tensors["bias"]
    weight /= len(members)
    bias /= len(members)
    base = embedders[0] if embedders else members[0]
    merged = clone(base).set_params(features="hybrid" if hybrid else base.features,
                                    tfidf=union.kind if union is not None else base.tfidf,
                                    scaling="standard", head="logreg", C=1.0)
    for name in ("embedder_", "guide_", "meta_", "extra_", "multilabel_"):
        setattr(merged, name, getattr(base, name, None))
    merged.tfidf_, merged.scaler_ = union, embedders[0].scaler_ if embedders else None
    merged.head_ = Head("logreg", len(classes), {"weight": weight, "bias": bias})
    merged.calibration_, merged.classes_, merged.C_ = None, classes, 1.0
    merged.training_ = {**members[0].training_, "C": None,
                        "vote": names or [f"member {i + 1}" for i in range(len(members))]}
    return merged


def _part_offset(union: Any, part: Any) -> int:
    """Where ``part``'s columns start among ``union``'s: the same vectorizer, fitted on the same
    texts, must have given the same vocabulary."""
    start = 0
    for own in union.parts:
        if own.part == part.part:
            if own.vocabulary != part.vocabulary:
                raise SpecError("the members' TF-IDF vocabularies differ: fit them on the same texts")
            return start
        start += own.idf.shape[0]
    raise SpecError(f"no {part.part} TF-IDF columns to place a member's weights on")
