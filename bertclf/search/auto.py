"""``train --auto``: TF-IDF, frozen embeddings or both, chosen by cross-validation on TRAIN.

Which approach wins is a property of the data set (TF-IDF wins on spam and news, embeddings on
intents and tweets), so the search scores a small, measured space of candidates (``searchspace``:
TF-IDF, frozen embeddings and hybrids, then the SVM head and another pooling; a fine-tuned encoder
only when asked, scored on one fold) by stratified k-fold cross-validation on the training rows
only, within a time budget.

Successive halving keeps it cheap: every candidate is first scored on one fold, and only the
best few go on to the others. Each text is embedded once per embedder setting (through this
process's memo and the embedding cache); unsupervised steps (TF-IDF vocabularies, the
standardisation) see TRAIN's texts but never their labels. The winner is refitted on all of TRAIN
as an ordinary ``TextClassifier`` (or ``FineTuner``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.errors import BertclfWarning, InputError, SpecError
from bertclf.search.space import DEFAULT_BUDGET, DEFAULT_FOLDS, Candidate, parse_budget, search_space

FINALISTS = 4  # candidates scored on every fold after the one-fold screen


@dataclass
class SearchResult:
    candidates: list[Candidate]
    winner: Candidate | None
    folds: int
    budget_seconds: float
    seconds: float
    note: str | None = None

    def leaderboard(self) -> list[dict[str, Any]]:
        """Scored candidates best first (more folds before fewer), then those not run."""
        scored = [c for c in self.candidates if c.scores]
        scored.sort(key=lambda c: (-len(c.scores) if c.features != "finetune" else -self.folds, -c.score))
        return [c.row() for c in scored] + [c.row() for c in self.candidates if not c.scores]

    def summary(self) -> dict[str, Any]:
        return {"folds": self.folds, "budget_seconds": self.budget_seconds, "seconds": round(self.seconds, 1),
                "chosen": self.winner.name if self.winner else None, "note": self.note,
                "leaderboard": self.leaderboard()}


def cv_folds(target: np.ndarray, wanted: int, log: Callable[[str], None]) -> int:
    """``wanted`` folds, or fewer when the smallest class has fewer texts (said once)."""
    smallest = int(np.bincount(target).min())
    if smallest < 2:
        raise InputError("--auto needs at least 2 training texts of every label to cross-validate; "
                         "add texts to the rarest label or train without --auto")
    if smallest < wanted:
        log(f"the rarest label has {smallest} training texts: cross-validating with {smallest} folds, "
            f"not {wanted}")
        return smallest
    return wanted


class Search:
    """Runs the screen and the finals over ``search_space`` for one training set."""

    def __init__(self, texts: list[str], target: np.ndarray, n_classes: int, base: Any,
                 budget_seconds: float, folds: int, seed: int, log: Callable[[str], None],
                 finetuner: Any = None) -> None:
        from sklearn.model_selection import StratifiedKFold

        self.texts, self.target, self.n_classes, self.base = texts, target, n_classes, base
        self.budget, self.seed, self.log, self.finetuner = budget_seconds, seed, log, finetuner
        self.start = time.perf_counter()
        self.k = cv_folds(target, folds, log)
        self.splits = list(StratifiedKFold(self.k, shuffle=True, random_state=seed)
                           .split(np.zeros(len(target)), target))
        self._matrices: dict[tuple[Any, ...], Any] = {}
        self._vectors: dict[Any, np.ndarray] = {}
        self._tfidf: dict[str, Any] = {}

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    # -- features --------------------------------------------------------------------------------

    def vectors(self, c: Candidate) -> np.ndarray:
        """Raw (unnormalised) embeddings of every training text for ``c``'s embedder setting."""
        if c.setting not in self._vectors:
            from bertclf.encode.memo import memo

            embedder = candidate_embedder(self.base.embedder_, c)
            self._vectors[c.setting] = memo.embed(embedder, self.texts, None)
        return self._vectors[c.setting]

    def matrix(self, c: Candidate) -> Any:
        """Every training text's features for ``c``, assembled as the refitted model will do it."""
        key = (c.features, c.tfidf, c.pooling, c.layers, c.scaling)
        if key not in self._matrices:
            from bertclf.classify.assembly import assemble, fit_scaler
            from bertclf.classify.tfidf import TfidfFeatures

            words = None
            if c.features in ("tfidf", "hybrid"):
                if c.tfidf not in self._tfidf:
                    self._tfidf[c.tfidf] = TfidfFeatures.fit(c.tfidf, self.texts).transform(self.texts)
                words = self._tfidf[c.tfidf]
            vectors = self.vectors(c) if c.features in ("embedding", "hybrid") else None
            self._matrices[key] = assemble(words, vectors, fit_scaler(vectors, c.features, c.scaling),
                                           c.scaling)
        return self._matrices[key]

    def embedding_cost(self, c: Candidate) -> float:
        """Seconds a first embedding pass for ``c`` would take, from timing a small sample (0 when
        done)."""
        if c.setting in self._vectors:
            return 0.0
        return self._pass_seconds(candidate_embedder(self.base.embedder_, c).set_params(progress=False))

    def _pass_seconds(self, embedder: Any) -> float:
        """Seconds ``embedder`` would take over all the texts, timed on 64 of them (memoised, so
        the timed vectors are not computed again)."""
        from bertclf.encode.memo import memo

        sample = self.texts[:: max(1, len(self.texts) // 64)][:64]
        start = time.perf_counter()
        memo.embed(embedder, sample, None)
        return (time.perf_counter() - start) * len(self.texts) / max(1, len(sample))

    # -- scoring ---------------------------------------------------------------------------------

    def score_fold(self, c: Candidate, fold: int) -> None:
        from bertclf.classify.heads import fit_head

        X = self.matrix(c)
        train, test = self.splits[fold]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head = fit_head(c.head, X[train], self.target[train], self.n_classes, C=c.C,
                            class_weight=self.base.class_weight, random_state=self.seed)
        c.fit_seconds.append(time.perf_counter() - start)
        c.scores.append(float((head.predict_proba(X[test]).argmax(axis=1) == self.target[test]).mean()))

    def affordable(self, c: Candidate, folds: int) -> bool:
        """Whether ``folds`` more fits of ``c`` (and any embedding pass it needs) fit the budget."""
        if c.features in ("embedding", "hybrid"):
            cost = self.embedding_cost(c)
            if cost > self.left():
                c.status = f"skipped: embedding would take ~{cost:.0f} s"
                return False
        def kind(x: Candidate) -> tuple[Any, ...]:
            return x.features, x.tfidf, x.setting, x.head

        similar = [s for s in self._done if kind(s) == kind(c)]
        per_fit = float(np.mean([t for s in similar for t in s.fit_seconds])) if similar else 0.0
        if per_fit * folds > self.left() or self.left() <= 0:
            c.status = "skipped: over budget"
            return False
        return True

    def run(self, space: list[Candidate]) -> SearchResult:
        self._done: list[Candidate] = []
        self.log(f"searching {len(space)} candidates by {self.k}-fold cross-validation on "
                 f"{len(self.texts)} texts, budget {self.budget:.0f} s")
        for c in space:
            if c.features == "finetune":
                continue
            if not self.affordable(c, 1):
                continue
            self.matrix(c)
            if self.left() <= 0:
                c.status = "skipped: over budget"
                continue
            self.score_fold(c, 0)
            c.status = "screened on 1 fold"
            self._done.append(c)
            self.log(f"  {c.name}: fold 1 accuracy {c.scores[0]:.4f}")
        finalists = sorted(self._done, key=lambda c: -c.score)[:FINALISTS]
        for c in finalists:
            if not self.affordable(c, self.k - 1):
                c.status = "screened on 1 fold (no budget for the rest)"
                continue
            for fold in range(1, self.k):
                self.score_fold(c, fold)
            c.status = f"{self.k}-fold"
            self.log(f"  {c.name}: {self.k}-fold accuracy {c.score:.4f} ± {c.spread:.4f}")
        for c in space:
            if c.features == "finetune":
                self.finetune(c)
        full = [c for c in self._done if len(c.scores) == self.k]
        pool = full or self._done
        winner = max(pool, key=lambda c: c.score) if pool else None
        tuned = next((c for c in space if c.features == "finetune" and c.scores), None)
        if tuned is not None and (winner is None or tuned.score > winner.scores[0]):
            winner = tuned  # compared on the fold both were scored on
        return SearchResult(space, winner, self.k, self.budget, time.perf_counter() - self.start)

    def finetune(self, c: Candidate) -> None:
        """Fine-tune on the first fold's training rows and score on its test rows: one fold, as
        a CPU cannot afford k (its time is estimated from an embedding pass, times 3 per epoch)."""
        model = default_finetuner(self.base, self.finetuner)
        train, test = self.splits[0]
        estimate = 3 * model.epochs * self.embedding_cost_any() * len(train) / len(self.texts)
        if estimate > self.left():
            c.status = f"skipped: fine-tuning would take ~{estimate:.0f} s"
            return
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BertclfWarning)
            model.fit([self.texts[i] for i in train], self.target[train])
        c.fit_seconds.append(time.perf_counter() - start)
        predicted = model.predict([self.texts[i] for i in test])
        c.scores.append(float((np.asarray(predicted) == self.target[test]).mean()))
        c.status = "1 fold"
        self.log(f"  {c.name}: fold 1 accuracy {c.scores[0]:.4f}")

    def embedding_cost_any(self) -> float:
        """Seconds for one forward pass over TRAIN, timed on a sample with the torch backend."""
        return self._pass_seconds(clone(self.base.embedder_).set_params(backend="torch", progress=False))


def default_finetuner(base: Any, finetuner: Any = None) -> Any:
    """The given ``FineTuner`` (unfitted copy), or one starting from the base's encoder."""
    from bertclf.finetune.finetuner import FineTuner

    if finetuner is not None:
        return clone(finetuner)
    embedder = base.embedder_
    return FineTuner(model=embedder.model, max_length=embedder.max_length, device=embedder.device,
                     seed=base.random_state if base.random_state is not None else 13,
                     progress=embedder.progress)


def candidate_embedder(embedder: Any, c: Candidate) -> Any:
    """A copy of ``embedder`` reading ``c``'s layers (and pooling), unnormalised: the search
    scales the vectors itself, so the winner must read them the same way."""
    settings = {"layers": c.layers, "normalize": False}
    if c.pooling is not None:
        settings["pooling"] = c.pooling
    return clone(embedder).set_params(**settings)


def winner_model(winner: Candidate, base: Any, finetuner: Any = None) -> Any:
    """An unfitted model configured as the winning candidate: a ``TextClassifier`` with the
    base's embedder and columns, or a ``FineTuner``."""
    if winner.features == "finetune":
        return default_finetuner(base, finetuner)
    embedder = candidate_embedder(base.embedder_ if hasattr(base, "embedder_") else base.embedder, winner)
    return clone(base).set_params(embedder=embedder, features=winner.features, tfidf=winner.tfidf,
                                  scaling=winner.scaling,
                                  head=winner.head, C=winner.C)


def auto_train(texts: list[Any], labels: list[Any], base: Any = None, budget: str | float = DEFAULT_BUDGET,
               folds: int = DEFAULT_FOLDS, finetune: bool = False, finetuner: Any = None,
               log: Callable[[str], None] | None = None) -> tuple[Any, SearchResult]:
    """Search, then refit the winner on all the texts: (fitted model, search result).

    ``base`` is a ``TextClassifier`` whose embedder, columns and seed the candidates share. With a
    budget too small for even one candidate, the default model is trained instead (and said so).
    """
    from bertclf.classify.classifier import TextClassifier
    from bertclf.encode.embedder import Embedder
    from bertclf.io.labels import encode_labels, is_multilabel

    log = log or (lambda message: None)
    base = base if base is not None else TextClassifier()
    if is_multilabel(labels):
        raise SpecError("--auto is for one label per text; multi-label models are trained without it")
    if base.meta_cols or base.extra_embeddings is not None or base.pair_col:
        raise SpecError("--auto searches single texts; train without it for pairs, metadata or extra "
                        "embeddings")
    seconds = parse_budget(budget)
    probe = clone(base)
    probe.embedder_ = clone(base.embedder) if base.embedder is not None else Embedder()
    own = probe.embedder_.settings()
    if probe.embedder_.long == "guide":
        raise SpecError("--auto does not search with --long guide; use truncate, head-tail or chunk")
    inputs = probe._inputs(texts, "training data")
    _, target = encode_labels(labels)
    search = Search(inputs.texts, target, int(target.max()) + 1, probe, seconds, folds,
                    base.random_state if base.random_state is not None else 0, log, finetuner)
    result = search.run(search_space(finetune, own.pooling))
    if result.winner is None:
        result.note = (f"the budget of {seconds:g} s is too small for even one candidate; "
                       f"trained the default model instead")
        warnings.warn(result.note, BertclfWarning, stacklevel=2)
        model = clone(base)
    else:
        model = winner_model(result.winner, probe, finetuner)
    model.fit(texts, labels)
    return model, result
