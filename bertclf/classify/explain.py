"""Why this label: the words that pushed a prediction toward its label and against it.

**Word occlusion** (the default, every model kind): each word the model read is taken out of the
text in turn, and its weight is how much the label's probability falls without it (negative: the
label gains without it). It costs one extra text through the model per word, all in one batched
call of the model's own ``predict_proba``; the encoder's vectors do not depend on their batch, so
neither do the weights. Chosen by ``benchmarks/explain.py`` (docs/results.md): the most
comprehensive by ERASER's measures of bertclf's methods, within 0.01 of LIME on three of four
models at 1/20 to 1/60 of its time (LIME leads where evidence spreads over many words).

**Token shares** (``method="tokens"``, the runtime, a mean-pooled encoder under a linear head): one
encoder pass, less faithful. **Guided** (``method="guided"``): occlusion of the words the token
shares rate strongest.

**TF-IDF weights** (a TF-IDF model with a linear head): exact, no extra call. Each n-gram's weight
is its TF-IDF value times the head's weight for the label, so the weights sum to the TF-IDF part's
share of the label's score (its logit for logistic regression).

numpy only: the runtime explains with it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertclf.errors import InputError, SpecError

WORD = re.compile(r"\w+(?:['’]\w+)*")  # a word and its clitics ("don't", "it's"); punctuation is not one
DEFAULT_K = 5
MAX_WORDS = 256  # words explained per text (and pair): about what the default encoder reads (256 tokens)
CALL_ROWS = 512  # occluded texts per call of the model

# per text: the character spans the model reads (None: all) and whether they are chunk windows
Reach = Callable[[list[str], "list[str] | None"], "list[tuple[list[tuple[int, int]] | None, bool]]"]


@dataclass
class Explanation:
    """One text's reasons for one label: ``toward`` the K words that pushed most toward it (largest
    weights first), ``against`` the K that pushed most against it (most negative first). Each
    word is ``{"word", "weight", "start", "end"}`` (character offsets into the text; ``side``
    "pair" for the second text of a sentence pair). ``cut``: the model read only part of the text,
    and only that part is explained. ``chunk``: for a model reading long texts in windows, the
    window that weighed most (``{"index", "of", "start", "end", "weight"}``), whose words are the
    ones explained."""

    label: str
    probability: float
    toward: list[dict[str, Any]] = field(default_factory=list)
    against: list[dict[str, Any]] = field(default_factory=list)
    method: str = "occlusion"
    cut: bool = False
    chunk: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        found = {"label": self.label, "probability": round(self.probability, 6), "for": self.toward,
                 "against": self.against, "method": self.method, "cut": self.cut}
        if self.chunk is not None:
            found["chunk"] = self.chunk
        return found


METHODS = ("auto", "occlusion", "tokens", "guided")
GUIDED_SHARE = 0.4  # method "guided": the share of a text's words taken out (the token shares' strongest)


def check_explain_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"unknown explanation method {method!r}: use one of {', '.join(METHODS)}")
    return method


def refuse_joined() -> None:
    """Vectors joined by key (``--join-on``) have no words to weigh: one clear error."""
    raise SpecError("explanations of models with joined vectors (--join-on) are not supported: "
                    "explain a model trained without them")


def check_k(k: Any) -> int:
    """K as given to --explain or ``explain_k``: a whole number of at least 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"explain needs a whole number of words of at least 1, got {k!r}")
    return int(k)


def word_spans(text: str, windows: Sequence[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """(start, end) of each word of ``text`` that starts inside one of ``windows`` (all when None),
    at most ``MAX_WORDS``."""
    return [m.span() for m in WORD.finditer(text)
            if windows is None or any(a <= m.start() < b for a, b in windows)][:MAX_WORDS]


def without(text: str, span: tuple[int, int]) -> str:
    """``text`` with one word taken out (the spaces around it closed up)."""
    head, tail = text[:span[0]].rstrip(), text[span[1]:].lstrip()
    return f"{head} {tail}" if head and tail else head + tail


def explained_labels(proba: np.ndarray, classes: Sequence[str], multilabel: bool,
                     thresholds: Any = None) -> list[list[int]]:
    """Per text, the labels to explain: the predicted one; with several labels a text, each
    label at or over its threshold (the likeliest one when none is)."""
    if not multilabel:
        return [[int(i)] for i in np.argmax(proba, axis=1)]
    limits = np.broadcast_to(np.asarray(0.5 if thresholds is None else thresholds, dtype=float),
                             (proba.shape[1],))
    return [np.flatnonzero(row >= limits).tolist() or [int(np.argmax(row))] for row in proba]


@dataclass
class Rows:
    """How the model takes its rows: texts, (text, pair) tuples, or a table with metadata
    columns (``table``: the input's own, a DataFrame or an ``io.table.Table``), so occluded
    copies of a row are made in the same shape."""

    texts: list[str]
    pairs: list[str] | None = None
    table: Any = None
    text_col: str = "text"
    pair_col: str | None = None
    meta_cols: tuple[str, ...] = ()

    def build(self, owners: Sequence[int], texts: Sequence[str], pairs: Sequence[str | None],
              blank_meta: Sequence[bool]) -> Any:
        """Rows copied from ``owners`` with their text (and pair) replaced, and their metadata
        set missing where ``blank_meta`` says."""
        if self.table is None:
            return list(texts) if self.pairs is None else list(zip(texts, pairs, strict=True))
        columns = {}
        for c in self.table.columns:
            values = self.table[c].tolist()
            columns[c] = [values[o] for o in owners]
        for c in self.meta_cols:
            columns[c] = [None if blank else v for v, blank in zip(columns[c], blank_meta, strict=True)]
        columns[self.text_col] = list(texts)
        if self.pair_col:
            columns[self.pair_col] = list(pairs)
        if hasattr(self.table, "iloc"):  # a DataFrame in, a DataFrame out
            return type(self.table)(columns)
        return type(self.table)(columns, len(owners))


def occlusion(proba: Callable[[Any], np.ndarray], rows: Rows, classes: Sequence[str], k: int = DEFAULT_K,
              multilabel: bool = False, thresholds: Any = None, reach: Reach | None = None,
              candidates: list[set[tuple[int, int]]] | None = None) -> list[list[Explanation]]:
    """Per text, one ``Explanation`` per explained label, by word occlusion through ``proba``
    (the model's ``predict_proba`` on what ``rows.build`` makes). Metadata columns count as one
    item, "[metadata]": the label's probability lost when all of them are missing.

    ``reach(texts, pairs)``: per text, the character spans the model reads (``Reach``); words
    outside them are not explained and the text is marked cut. ``candidates``: per text, the
    word spans to take out (the others are left out of the explanation)."""
    k = check_k(k)
    texts, pairs = rows.texts, rows.pairs
    if not texts:
        return []
    every = range(len(texts))
    no_pairs = pairs or [None] * len(texts)
    base = np.asarray(proba(rows.build(every, texts, no_pairs, [False] * len(texts))))
    labels_of = explained_labels(base, classes, multilabel, thresholds)
    reads = reach(texts, pairs) if reach is not None else [(None, False)] * len(texts)
    chunks = _best_chunks(proba, rows, base, labels_of, reads)
    owners, changed_texts, changed_pairs, blank, where = [], [], [], [], []
    for i, text in enumerate(texts):
        pair = pairs[i] if pairs is not None else None
        windows = [(chunks[i]["start"], chunks[i]["end"])] if i in chunks else reads[i][0]
        for side, value in (("text", text), *((("pair", pair),) if pairs is not None else ())):
            spans = word_spans(value, windows if side == "text" else None)
            if candidates is not None and side == "text":
                spans = [span for span in spans if span in candidates[i]]
            for span in spans:
                changed = without(value, span)
                owners.append(i)
                changed_texts.append(changed if side == "text" else text)
                changed_pairs.append(changed if side == "pair" else pair)
                blank.append(False)
                where.append((side, value[span[0]:span[1]], span))
        if rows.meta_cols:
            owners.append(i)
            changed_texts.append(text)
            changed_pairs.append(pair)
            blank.append(True)
            where.append(("metadata", f"[metadata: {', '.join(rows.meta_cols)}]", (None, None)))
    drops = _drops(proba, rows, base, owners, changed_texts, changed_pairs, blank)
    owners_arr = np.asarray(owners, dtype=int)
    out = []
    for i, labels in enumerate(labels_of):
        mine = np.flatnonzero(owners_arr == i)
        sides = (texts[i], pairs[i] if pairs is not None else "")
        cut = reads[i][0] is not None and not reads[i][1]  # cut, or a start and an end kept
        cut = cut or any(len(WORD.findall(value)) > MAX_WORDS for value in sides)  # past the words explained
        found = []
        for label in labels:
            weights = drops[mine, label] if len(mine) else np.zeros(0)
            words = [_word(where[j], float(w), pairs is not None or bool(rows.meta_cols))
                     for j, w in zip(mine, weights, strict=True)]
            method = "occlusion" if candidates is None else "guided"
            found.append(_rank(str(classes[label]), float(base[i, label]), words, k, method, cut))
            found[-1].chunk = chunks.get(i)
        out.append(found)
    return out


def _drops(proba: Callable[[Any], np.ndarray], rows: Rows, base: np.ndarray, owners: list[int],
           texts: list[str], pairs: list[str | None], blank: list[bool]) -> np.ndarray:
    """Each variant's fall in every label's probability from its text's own, in calls of
    ``CALL_ROWS``."""
    drops = np.empty((len(owners), base.shape[1]))
    for start in range(0, len(owners), CALL_ROWS):
        part = slice(start, start + CALL_ROWS)
        block = rows.build(owners[part], texts[part], pairs[part], blank[part])
        drops[part] = base[owners[part]] - np.asarray(proba(block))
    return drops


def _best_chunks(proba: Callable[[Any], np.ndarray], rows: Rows, base: np.ndarray,
                 labels_of: list[list[int]], reads: list[Any]) -> dict[int, dict[str, Any]]:
    """For each text read in windows (``--long chunk``), the window whose removal costs its first
    explained label the most: ``{"index", "of", "start", "end", "weight"}``."""
    owners, texts, pairs, spans = [], [], [], []
    for i, (windows, chunked) in enumerate(reads):
        if chunked and windows:
            for a, b in windows:
                owners.append(i)
                texts.append(without(rows.texts[i], (a, b)))
                pairs.append(rows.pairs[i] if rows.pairs is not None else None)
                spans.append((a, b))
    if not owners:
        return {}
    drops = _drops(proba, rows, base, owners, texts, pairs, [False] * len(owners))
    best: dict[int, dict[str, Any]] = {}
    for j, i in enumerate(owners):
        index = j - owners.index(i)  # a text's windows come one after another
        weight = float(drops[j, labels_of[i][0]])
        if i not in best or weight > best[i]["weight"]:
            best[i] = {"index": index, "of": len(reads[i][0]), "start": spans[j][0], "end": spans[j][1],
                       "weight": round(weight, 6)}
    return best


def _word(where: tuple[str, str, tuple[int, int]], weight: float, pair: bool) -> dict[str, Any]:
    side, word, (start, end) = where
    found = {"word": word, "weight": round(weight, 6), "start": start, "end": end}
    if pair:
        found["side"] = side
    return found


def _rank(label: str, probability: float, words: list[dict[str, Any]], k: int, method: str,
          cut: bool) -> Explanation:
    """The K strongest words each way (ties: the earlier word first); zero weights are neither."""
    order = sorted(range(len(words)), key=lambda j: -words[j]["weight"])
    toward = [words[j] for j in order if words[j]["weight"] > 0][:k]
    against = [words[j] for j in reversed(order) if words[j]["weight"] < 0][:k]
    return Explanation(label, probability, toward, against, method, cut)


def linear_scores(head: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(W, b) with one row per class such that the class's score is x @ W[c] + b[c], for a
    linear head (logistic regression, linear SVM, a fine-tuned layer); None for others. A binary
    logistic regression's single row is the positive class's; the negative's is its opposite."""
    if getattr(head, "name", None) not in ("logreg", "svm", "linear"):
        return None
    W, b = head.tensors["weight"], head.tensors["bias"]
    if W.shape[0] == 1 and head.n_classes == 2 and not head.multilabel:
        return np.vstack([-W[0], W[0]]), np.array([-b[0], b[0]])
    return W, b


def tfidf_weights(tfidf: Any, head: Any, texts: list[str], labels: Sequence[Sequence[int]],
                  classes: Sequence[str], probabilities: np.ndarray,
                  k: int = DEFAULT_K) -> list[list[Explanation]]:
    """Exact explanations of a TF-IDF model with a linear head: each n-gram's TF-IDF value times
    the head's weight for the label (they sum to the part's share of the label's score)."""
    W, _ = linear_scores(head)
    names = tfidf.term_names
    indptr, indices, data = tfidf.rows(texts)
    out = []
    for i, text_labels in enumerate(labels):
        columns, values = indices[indptr[i]:indptr[i + 1]], data[indptr[i]:indptr[i + 1]]
        found = []
        for label in text_labels:
            words = [{"word": names[int(c)], "weight": round(float(v * W[label, c]), 6)}
                     for c, v in zip(columns, values, strict=True)]
            found.append(_rank(str(classes[label]), float(probabilities[i, label]), words, k, "tfidf-weights",
                               False))
        out.append(found)
    return out


def tfidf_contributions(tfidf: Any, head: Any, text: str, label: int) -> dict[str, float]:
    """Every n-gram of ``text`` the model knows, with its exact share of ``label``'s score."""
    return tfidf_shares(tfidf, text, linear_scores(head)[0][label])


def explain_rows(proba: Callable[[Any], np.ndarray], rows: Rows, classes: Sequence[str], k: int = DEFAULT_K,
                 multilabel: bool = False, thresholds: Any = None, exact: tuple[Any, Any] | None = None,
                 reach: Reach | None = None, candidates: list[set[tuple[int, int]]] | None = None,
                 ) -> list[list[Explanation]]:
    """What ``Model.explain`` and ``TextClassifier.explain`` return: ``tfidf_weights`` when
    ``exact`` gives the (TF-IDF part, linear head) of a TF-IDF-only model, else ``occlusion``."""
    k = check_k(k)
    if exact is None:
        return occlusion(proba, rows, classes, k, multilabel, thresholds, reach, candidates)
    if not rows.texts:
        return []
    from bertclf.classify.tfidf import tfidf_texts

    probabilities = np.asarray(proba(rows.build(range(len(rows.texts)), rows.texts,
                                                rows.pairs or [None] * len(rows.texts),
                                                [False] * len(rows.texts))))
    labels = explained_labels(probabilities, classes, multilabel, thresholds)
    return tfidf_weights(exact[0], exact[1], tfidf_texts(rows.texts, rows.pairs), labels, classes,
                         probabilities, k)


def exact_parts(features: str, tfidf: Any, head: Any, has_extras: bool) -> tuple[Any, Any] | None:
    """(TF-IDF part, head) when the model is TF-IDF alone under a linear head: explained exactly."""
    if features == "tfidf" and tfidf is not None and not has_extras and linear_scores(head) is not None:
        return tfidf, head
    return None


def label_direction(head: Any, label: int, proba: np.ndarray) -> np.ndarray | None:
    """The direction in the head's input along which ``label``'s log-odds grow, for a linear
    head (None for others): a binary logistic regression's row (negated for the first class), a
    label's own row where each label has its sigmoid, else the gradient of log p(label),
    W[label] - p @ W."""
    if getattr(head, "name", None) not in ("logreg", "svm", "linear"):
        return None
    W = head.tensors["weight"]
    if head.multilabel:
        return W[label]
    if W.shape[0] == 1:
        return W[0] if label == 1 else -W[0]
    return W[label] - proba @ W


def token_words(text: str, token_spans: Sequence[tuple[int, int]], token_weights: np.ndarray,
                term_weights: dict[str, float], k: int, label: str, probability: float,
                cut: bool) -> Explanation:
    """An ``Explanation`` from per-token weights (each word the sum of its WordPiece tokens') and
    exact TF-IDF n-gram weights (each n-gram's split evenly over its words' occurrences)."""
    spans = word_spans(text)
    weights = np.zeros(len(spans))
    starts = np.asarray([a for a, _ in spans])
    for (a, _), w in zip(token_spans, token_weights, strict=True):
        at = np.searchsorted(starts, a, side="right") - 1
        if at >= 0 and a < spans[at][1]:
            weights[at] += w
    if term_weights:
        where: dict[str, list[int]] = {}
        for i, (a, b) in enumerate(spans):
            where.setdefault(text[a:b].lower(), []).append(i)
        for term, w in term_weights.items():
            parts = term.split()
            for part in parts:
                found = where.get(part, [])
                for i in found:
                    weights[i] += w / len(parts) / len(found)
    words = [{"word": text[a:b], "weight": round(float(w), 6), "start": a, "end": b}
             for (a, b), w in zip(spans, weights, strict=True)]
    return _rank(label, probability, words, k, "tokens", cut)


def tfidf_shares(tfidf: Any, text: str, direction: np.ndarray) -> dict[str, float]:
    """Each n-gram of ``text`` the model knows, with its exact share along ``direction`` (the
    head's input, TF-IDF columns first)."""
    names = tfidf.term_names
    indptr, indices, data = tfidf.rows([text])
    return {names[int(c)]: float(v * direction[c]) for c, v in zip(indices, data, strict=True)}
