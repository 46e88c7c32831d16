"""The candidates ``train --auto`` scores, how they are named on its leaderboard, and the
search's result.

Each ``Candidate`` is one point of a small space chosen by measurement (docs/results.md): TF-IDF,
frozen embeddings and hybrids of the two over layers, scaling and C, then, screened last, the
linear SVM head and one other pooling; where most texts are longer than the encoder's window
(``beyond_window``), candidates that read them another way. ``auto`` runs the search over it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertclf.errors import SpecError

DEFAULT_FOLDS = 5  # train --auto's cross-validation
DEFAULT_BUDGET = "10m"
LAYER_SETTINGS = (("last", -1), ("last4", "-4..-1"))  # short names for the leaderboard


@dataclass
class Candidate:
    """One point of the search space and what cross-validation made of it."""

    features: str  # "tfidf", "embedding", "hybrid", "fewshot", "finetune" or "vote"
    tfidf: str = "word"
    layers: Any = -1
    pooling: str | None = None  # None: the model's own pooling
    scaling: str = "none"
    C: float = 1.0
    head: str = "logreg"
    long: str | None = None  # texts over the window: None keeps the embedder's way (truncate)
    scores: list[float] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)
    status: str = "not run"
    check: float | None = None  # score on the check rows (the winner and the fine-tuned one)
    interval: tuple[float, float] | None = None  # the check score's 95% interval
    members: list[Candidate] = field(default_factory=list)  # a vote's candidates
    oof: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # fold -> log-probabilities

    @property
    def name(self) -> str:
        """Short enough for an 80-column leaderboard: 'hybrid word + last, C=10'."""
        layers = dict((v, k) for k, v in LAYER_SETTINGS).get(self.layers, f"layers {self.layers}")
        if self.pooling is not None:
            layers = f"{self.pooling} {layers}"
        head = "" if self.head == "logreg" else f" {self.head}"
        if self.long is not None:
            layers = f"{layers} ({LONG_NAMES[self.long]})"
        if self.features == "finetune":
            return "fine-tuned encoder"
        if self.features == "fewshot":
            return "few-shot tuned encoder"
        if self.features == "vote":
            return "vote: " + " + ".join(m.name for m in self.members)
        if self.features == "tfidf":
            return f"TF-IDF {self.tfidf},{head} C={self.C:g}"
        if self.features == "hybrid":
            return f"hybrid {self.tfidf} + {layers},{head} C={self.C:g}"
        return f"frozen {layers}, {_SCALING_NAMES[self.scaling]},{head} C={self.C:g}"

    @property
    def setting(self) -> tuple[Any, Any, Any]:
        """What the embedding pass depends on: candidates sharing it share the vectors."""
        return self.pooling, self.layers, self.long

    @property
    def score(self) -> float:
        return float(np.mean(self.scores)) if self.scores else float("nan")

    @property
    def spread(self) -> float:
        return float(np.std(self.scores)) if len(self.scores) > 1 else float("nan")

    def row(self) -> dict[str, Any]:
        return {"candidate": self.name, "features": self.features, "tfidf": self.tfidf,
                "layers": self.layers, "pooling": self.pooling, "scaling": self.scaling,
                "head": self.head, "C": self.C, "long": self.long,
                "cv_score": round(self.score, 4) if self.scores else None,
                "spread": round(self.spread, 4) if len(self.scores) > 1 else None,
                "check_score": round(self.check, 4) if self.check is not None else None,
                "folds": len(self.scores), "fit_seconds": round(float(np.mean(self.fit_seconds)), 2)
                if self.fit_seconds else None, "status": self.status}


@dataclass
class SearchResult:
    candidates: list[Candidate]
    winner: Candidate | None
    folds: int
    budget_seconds: float
    seconds: float
    note: str | None = None
    estimate: dict[str, Any] | None = None  # the winner on the check rows (``settle.check``)
    overlapping: int = 0  # texts that repeat or sit inside another
    metric: str = "accuracy"  # or "micro-F1", for several labels per text
    thresholds: dict[str, float] | None = None  # several labels: the winner's out-of-fold cut-offs
    guarded: str | None = None  # why a baseline was kept over the top candidate (``settle.guard``)
    finalists: int = 4  # candidates scored on every fold after the one-fold screen
    baselines: tuple[str, ...] = ()  # candidates always scored on every fold

    def leaderboard(self) -> list[dict[str, Any]]:
        """Scored candidates best first (more folds before fewer), then those not run."""
        scored = [c for c in self.candidates if c.scores]
        scored.sort(key=lambda c: (-len(c.scores) if c.features != "finetune" else -self.folds, -c.score))
        return [c.row() for c in scored] + [c.row() for c in self.candidates if not c.scores]

    def summary(self) -> dict[str, Any]:
        return {"metric": self.metric, "folds": self.folds, "budget_seconds": self.budget_seconds,
                "seconds": round(self.seconds, 1),
                "chosen": self.winner.name if self.winner else None, "note": self.note,
                "estimate": self.estimate, "overlapping_texts": self.overlapping,
                "thresholds": "out of fold" if self.thresholds else None, "guarded": self.guarded,
                "leaderboard": self.leaderboard()}


_SCALING_NAMES = {"l2": "L2", "standard": "std", "none": "raw"}


OTHER_POOLING = {"mean": "cls", "cls": "mean", "max": "mean"}  # the one alternative searched
LONG_NAMES = {"head-tail": "head+tail", "chunk": "chunks"}
LONG_SHARE = 0.5  # texts beyond the encoder's window, from which the search scores head+tail and chunks
LONG_SAMPLE = 500  # texts tokenised to tell


def search_space(finetune: bool = False, pooling: str = "mean", few_shot: bool = False,
                 long_texts: bool = False) -> list[Candidate]:
    """The candidates in screening order: cheap and often-best first, so a short budget still
    sees one of each family. The C values are those that won somewhere on our sets. ``pooling``
    is the model's own; one other pooling and the linear SVM come last, as they rarely won
    (docs/results.md) and the other pooling costs a further embedding pass. Few-shot tuning
    (``few_shot``), screened after them, is scored only when TRAIN is small (``search.fewshot_trial``).
    ``long_texts`` (most texts longer than the encoder's window): the frozen and hybrid candidates
    also read each text's start and end (head+tail, the price of one pass) and, later, every
    window of it, pooled (chunks, a pass per window)."""
    space = [Candidate("tfidf", "word", C=10.0)]
    space += [Candidate("embedding", layers=-1, scaling="standard", C=c) for c in (0.1, 1.0)]
    space += [Candidate("hybrid", "word", layers=-1, C=c) for c in (1.0, 10.0)]
    if long_texts:
        space += [Candidate("embedding", layers=-1, scaling="standard", C=1.0, long="head-tail"),
                  Candidate("hybrid", "word", layers=-1, C=10.0, long="head-tail")]
    space += [Candidate("embedding", layers=-1, scaling="l2", C=c) for c in (1.0, 10.0)]
    space += [Candidate("tfidf", "word+char", C=c) for c in (10.0, 100.0)]
    space += [Candidate("tfidf", "word", C=100.0)]
    space += [Candidate("embedding", layers=-1, scaling="standard", C=0.01)]
    space += [Candidate("hybrid", "word+char", layers=-1, C=10.0)]
    if long_texts:
        space += [Candidate("embedding", layers=-1, scaling="standard", C=1.0, long="chunk"),
                  Candidate("hybrid", "word", layers=-1, C=10.0, long="chunk")]
    space += [Candidate("embedding", layers="-4..-1", scaling="standard", C=c) for c in (0.1, 1.0)]
    space += [Candidate("hybrid", "word", layers="-4..-1", C=10.0)]
    space += [Candidate("hybrid", "word", layers=-1, head="svm", C=0.1),
              Candidate("embedding", layers=-1, scaling="l2", head="svm", C=1.0)]
    other = OTHER_POOLING[pooling]
    space += [Candidate("embedding", layers=-1, pooling=other, scaling="standard", C=0.1),
              Candidate("hybrid", "word", layers=-1, pooling=other, C=1.0)]
    if few_shot:
        space.append(Candidate("fewshot"))
    if finetune:
        space.append(Candidate("finetune", head="linear"))
    return space


def beyond_window(embedder: Any, texts: list[str], log: Callable[[str], None]) -> bool:
    """Whether at least ``LONG_SHARE`` of the texts (a seeded sample of ``LONG_SAMPLE``) are longer
    than the encoder's window; if so, says so and that the search scores the other ways too."""
    from bertclf.encode import sources
    from bertclf.encode.tokenization import encode

    s = embedder.settings()
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.permutation(len(texts))[:LONG_SAMPLE]]
    if not sample:
        return False
    share = encode(sources.load_tokenizer(s.source), sample, s.max_length).truncated / len(sample)
    if share < LONG_SHARE:
        return False
    log(f"{share:.0%} of the training texts are longer than the encoder's window of {s.max_length} tokens: "
        f"the search scores reading their start and end (head+tail) and every window, pooled (chunks), "
        f"beside their first {s.max_length} tokens")
    return True


def parse_budget(text: str | float | int, option: str = "--budget") -> float:
    """Seconds from '90s', '10m', '1.5h' or a plain number of seconds (``option`` names it in errors)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text).lower())
        if not match:
            raise SpecError(f"{option} must be a duration such as 90s, 10m or 1h, got {text!r}")
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if not seconds > 0:
        raise SpecError(f"{option} must be positive, got {text!r}")
    return seconds
