"""Which ways of training a model's settings allow: the one place that answers "is this combination
supported?" for the classifier, few-shot tuning, fine-tuning, the --auto search and the soft vote.

``why_unsupported`` (and ``why_not_merged`` for a set of models) returns the reason as a clause
that callers phrase around ("--few-shot: ...", "skipped: ..."), or None. It reads a
``TextClassifier`` or anything with its parameters, fitted or not, so a command can ask before it
reads a file and the search can ask before it spends time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WAYS = ("head", "few-shot", "fine-tune", "vote")


def why_unsupported(way: str, model: Any, multilabel: bool = False) -> str | None:
    """Why ``model``'s settings cannot be trained ``way`` (one of ``WAYS``: a head on frozen
    features, few-shot tuning of the encoder, fine-tuning it, or merging into one soft vote);
    ``multilabel``: the labels are sets. None when they can."""
    if way not in WAYS:
        raise ValueError(f"unknown way of training {way!r}: use one of {', '.join(WAYS)}")
    calibrate = getattr(model, "calibrate", None)
    extra_inputs = bool(getattr(model, "pair_col", None) or getattr(model, "meta_cols", None)
                        or getattr(model, "extra_embeddings", None) is not None)
    if way == "head":
        if multilabel and calibrate:
            return ("--calibrate is for one label per text; multi-label models tune a threshold per label "
                    "instead")
        return None
    if multilabel:
        return {"vote": "the soft vote merges models of one label per text",
                "fine-tune": "fine-tuning in --auto reads one label per text",
                "few-shot": "few-shot tuning reads one label per text"}[way]
    if way == "vote":
        return "only uncalibrated models of single texts are merged" if calibrate or extra_inputs else None
    if calibrate:
        return "--calibrate calibrates frozen heads, not a " + ("fine-tuned layer" if way == "fine-tune"
                                                               else "tuned encoder")
    if way == "few-shot":
        if extra_inputs:
            return "few-shot tuning reads single texts: drop --pair-col, --meta-cols and --extra-embeddings"
        long = _long_texts(model)
        if long != "truncate":
            return f"few-shot models truncate long texts, and --long is {long}"
    return None


def why_not_merged(members: list[Any], setting: Callable[[Any], Any] = lambda m: m.setting) -> str | None:
    """Why these models (fitted, configured, or --auto's candidates) cannot be merged into one
    soft vote: each must allow a vote, be a logistic regression on frozen features (embeddings
    standardised), and those that embed must share one ``setting`` (pooling and layers)."""
    for m in members:
        why = why_unsupported("vote", m)
        if why:
            return why
        if m.head != "logreg" or m.features not in ("tfidf", "embedding", "hybrid"):
            return "only logistic-regression members on frozen features are merged"
        if m.features == "embedding" and m.scaling != "standard":
            return "an embedding-only member must be standardised"
    if len({setting(m) for m in members if m.features != "tfidf"}) > 1:
        return "members that embed must share their pooling and layers"
    return None


def _long_texts(model: Any) -> str:
    embedder = getattr(model, "embedder_", None) or getattr(model, "embedder", None)
    return getattr(embedder, "long", "truncate") or "truncate"
