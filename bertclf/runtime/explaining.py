"""How a runtime ``Model`` explains its predictions (``Model.explain``): which method applies,
the reading windows occlusion may point at, and the token shares of ``method="tokens"`` and
``"guided"``, which read the shipped encoder's hidden states. The shared logic, for the full
install too, is ``classify.explain``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bertclf.classify.explain import (
    GUIDED_SHARE,
    MAX_WORDS,
    Explanation,
    Rows,
    check_explain_method,
    check_k,
    exact_parts,
    explain_rows,
    explained_labels,
    label_direction,
    refuse_joined,
    tfidf_shares,
    token_words,
    word_spans,
)
from bertclf.encode.tokenization import encode, pad_batch, pad_id, read_windows
from bertclf.errors import SpecError


def explain_model(model: Any, X: Any, k: int, method: str) -> list[list[Explanation]]:
    """``Model.explain``: see there."""
    texts, pairs, table = model._split(X)
    parts = model.folder.parts
    if model.join_on:
        refuse_joined()
    check_explain_method(method)
    candidates = None
    if method in ("tokens", "guided"):
        why = why_not_tokens(model, pairs)
        if why:
            raise SpecError(f"method {method!r} needs {why}: use method 'occlusion'")
        if method == "tokens":
            return token_explanations(model, texts, check_k(k))
        candidates = strongest_words(model, texts)
    exact = exact_parts(model.features, parts.get("tfidf"), parts["head"], bool(model.meta_cols))
    reach = None
    if model.encoder is not None and parts.get("guide") is None:
        s = model.encoder.settings()
        reach = lambda t, p: read_windows(model.encoder.tokenizer, t, s.max_length, s.long, p)  # noqa: E731
    rows = Rows(texts, pairs, table if model.meta_cols else None, model.text_col, model.pair_col,
                tuple(model.meta_cols or ()))
    return explain_rows(model._quiet_proba, rows, model.classes_, k, model.folder.multilabel,
                        model.thresholds_, exact, reach, candidates)


def strongest_words(model: Any, texts: list[str]) -> list[set[tuple[int, int]]]:
    """Method "guided": per text, the ``GUIDED_SHARE`` of its words whose token shares are
    largest either way (for any label explained), at least 4: the words occlusion then
    weighs, at a share of its cost."""
    found = []
    for text, labels in zip(texts, token_explanations(model, texts, MAX_WORDS), strict=True):
        weight: dict[tuple[int, int], float] = {}
        for explanation in labels:
            for w in explanation.toward + explanation.against:
                span = (w["start"], w["end"])
                weight[span] = max(weight.get(span, 0.0), abs(w["weight"]))
        keep = max(4, math.ceil(GUIDED_SHARE * len(word_spans(text))))
        found.append(set(sorted(weight, key=lambda span: -weight[span])[:keep]))
    return found


def why_not_tokens(model: Any, pairs: Any) -> str | None:
    """What the token method lacks here (None: it applies): it reads mean-pooled token
    vectors of one window of one text under a linear head."""
    s = model.encoder.settings() if model.encoder is not None else None
    if s is None or s.pooling != "mean" or s.long.mode != "truncate" or model.folder.parts.get("guide"):
        return "an encoder with mean pooling reading each text's start"
    if pairs is not None or model.meta_cols:
        return "single texts, without pairs or metadata"
    even = np.full(len(model.classes_), 1.0 / len(model.classes_))
    if label_direction(model.folder.parts["head"], 0, even) is None:
        return "a linear head (logistic regression, linear SVM, a fine-tuned layer)"
    return None


def token_explanations(model: Any, texts: list[str], k: int) -> list[list[Explanation]]:
    """``method="tokens"``: one pass of each text through the encoder. A mean-pooled vector
    is the average of its token vectors, and a linear head's score is linear in it (the
    length normalisation and standardisation taken at this text), so each token's share of
    the label's log-odds is exact at first order; TF-IDF n-grams add theirs exactly."""
    parts, s = model.folder.parts, model.encoder.settings()
    head, tfidf, scaler = parts["head"], parts.get("tfidf"), parts.get("scaler")
    tokenizer = model.encoder.tokenizer
    proba = model._quiet_proba(texts)
    start = tfidf.dim if tfidf is not None else 0
    out = []
    for i, labels in enumerate(explained_labels(proba, model.classes_, model.folder.multilabel,
                                                model.thresholds_)):
        encoded = encode(tokenizer, [texts[i]], s.max_length, long=s.long)
        batch = pad_batch(encoded, np.array([0]), pad_id(tokenizer))
        hidden = model.encoder.hidden_states(batch, s.layers)
        tokens = (np.concatenate([h[0] for h in hidden], axis=1) if s.layer_agg == "concat"
                  else np.mean([h[0] for h in hidden], axis=0)).astype(np.float64)
        pooled = tokens.mean(axis=0)
        scale = np.full(s.dim, 1.0 / len(tokens))
        length = float(np.linalg.norm(pooled)) or 1.0
        if s.normalize or (scaler is None and model.folder.shape["scaling"] == "l2"):
            scale /= length
        if scaler is not None:
            scale /= scaler.scale * (np.sqrt(s.dim) if tfidf is not None else 1.0)
        spans = tokenizer(texts[i], add_special_tokens=False).encoding.offsets[:len(tokens) - 2]
        cut = bool(encoded.over[0])
        found = []
        for label in labels:
            direction = label_direction(head, label, proba[i])
            shares = tokens[1:1 + len(spans)] @ (direction[start:start + s.dim] * scale)
            terms = tfidf_shares(tfidf, texts[i], direction) if tfidf is not None else {}
            found.append(token_words(texts[i], spans, shares, terms, k, str(model.classes_[label]),
                                     float(proba[i, label]), cut))
        out.append(found)
    return out

