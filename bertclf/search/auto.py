"""``train --auto``: TF-IDF, frozen embeddings or both, chosen by cross-validation on TRAIN.

Which approach wins is a property of the data set (TF-IDF wins on spam and news, embeddings on
intents and tweets), so the search scores a small, measured space of candidates (``searchspace``:
TF-IDF, frozen embeddings and hybrids, then the SVM head and another pooling; a fine-tuned encoder
when the budget allows an epoch, scored on the check rows) by stratified k-fold cross-validation on
the training rows only, within a time budget.

Successive halving keeps it cheap: every candidate is first scored on one fold, and only the
best few go on to the others. Each text is embedded once per embedder setting (through this
process's memo and the embedding cache); unsupervised steps (TF-IDF vocabularies, the
standardisation) see TRAIN's texts but never their labels. The winner is refitted on all of TRAIN
as an ordinary ``TextClassifier`` (or ``FineTuner``).

Two things keep the winner's score honest. Texts that repeat or sit inside others stay on one
side of every split (``groups``). And a seeded share of TRAIN (``check_rows``) is set aside
before the search: the winner, fitted on the rest, is scored there once, a figure the choice
among candidates cannot have inflated. The budget covers the refit (and what the caller reserves
for after it) as well as the search.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.errors import BertclfWarning, SpecError
from bertclf.search.groups import overlap_groups
from bertclf.search.space import DEFAULT_BUDGET, DEFAULT_FOLDS, Candidate, parse_budget, search_space
from bertclf.search.splits import (
    CHECK_MIN_PER_LABEL,
    check_rows,
    cv_folds,
    f1_interval,
    grouped_folds,
    interval,
    micro_f1,
    strata_of,
)
from bertclf.search.voting import best_vote

FINALISTS = 4  # candidates scored on every fold after the one-fold screen
SAVE_SECONDS = 5.0  # reserved for writing the model folder
TRAIN_PASSES = 3.0  # an epoch of fine-tuning costs about this many forward passes (docs/results.md)
FINETUNE_SAVE_SECONDS = 30.0  # writing a fine-tuned folder: its encoder, ONNX export and int8 graph


@dataclass
class SearchResult:
    candidates: list[Candidate]
    winner: Candidate | None
    folds: int
    budget_seconds: float
    seconds: float
    note: str | None = None
    estimate: dict[str, Any] | None = None  # the winner on the check rows (``Search.check``)
    overlapping: int = 0  # texts that repeat or sit inside another
    metric: str = "accuracy"  # or "micro-F1", for several labels per text

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
                "leaderboard": self.leaderboard()}


class Search:
    """Runs the screen and the finals over ``search_space`` for one training set."""

    def __init__(self, texts: list[str], target: np.ndarray, n_classes: int, base: Any,
                 budget_seconds: float, folds: int, seed: int, log: Callable[[str], None],
                 finetuner: Any = None, groups: np.ndarray | None = None, check: bool = False,
                 after_texts: int = 0, classes: np.ndarray | None = None) -> None:
        """Features are computed for every text; cross-validation reads the search rows only.
        ``groups``: rows that must stay together (``overlap_groups``); ``check``: set check rows
        aside; ``after_texts``: texts the caller will embed once the model is saved (a report),
        whose time the budget keeps back; ``classes``: the label of each class number, which a
        fine-tuned model (kept as it is) must predict."""
        self.classes = np.arange(n_classes) if classes is None else np.asarray(classes)
        self.votes = not base.calibrate  # a vote merges uncalibrated heads
        self.texts, self.target, self.n_classes, self.base = texts, target, n_classes, base
        self.budget, self.seed, self.log, self.finetuner = budget_seconds, seed, log, finetuner
        self.start = time.perf_counter()
        self.multilabel = target.ndim == 2  # an (n, L) 0/1 matrix: scored by micro-F1
        self.metric = "micro-F1" if self.multilabel else "accuracy"
        strata = strata_of(target)
        self.rows, self.check_rows = (check_rows(strata, groups, seed, self.multilabel) if check
                                      else (np.arange(len(target)), np.arange(0)))
        self.k = cv_folds(strata[self.rows], folds, log, self.multilabel)
        inner = grouped_folds(strata[self.rows], None if groups is None else groups[self.rows], self.k, seed)
        self.splits = [(self.rows[a], self.rows[b]) for a, b in inner]
        self.after_texts, self.reserve = after_texts, SAVE_SECONDS
        self._matrices: dict[tuple[Any, ...], Any] = {}
        self._vectors: dict[Any, np.ndarray] = {}
        self._tfidf: dict[str, Any] = {}
        self._per_text = 0.0  # seconds to embed one text, once timed

    def left(self) -> float:
        """Seconds of the budget left for searching: the refit, saving and the caller's later
        embedding pass are kept back."""
        return self.budget - (time.perf_counter() - self.start) - self.reserve

    def keep_back(self, c: Candidate) -> None:
        """Grow the reserve to what refitting ``c`` would cost: a fit on the search rows for the
        check, one on every row, each scaled from its fold fits (fits grow a little faster than
        the rows; 1.5× covers it). With several labels per text each of those is two fits (the
        cut-offs are tuned on a model fitted to four fifths first), and the report's TF-IDF
        baseline is one more: on goemotions a reserve of two fits let the command run 757 s of
        a 600 s budget."""
        if not c.fit_seconds:
            return
        share = len(self.texts) / max(1, len(self.splits[0][0]))
        fits = 5 if self.multilabel else 2
        refit = fits * 1.5 * share * float(np.mean(c.fit_seconds))
        self.reserve = max(self.reserve, SAVE_SECONDS + refit + self._per_text * self.after_texts)

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
        the timed vectors are not computed again) after one untimed text has loaded the model."""
        from bertclf.encode.memo import memo

        sample = self.texts[:: max(1, len(self.texts) // 65)][:65]
        memo.embed(embedder, sample[:1], None)
        start = time.perf_counter()
        memo.embed(embedder, sample[1:], None)
        per_text = (time.perf_counter() - start) / max(1, len(sample) - 1)
        self._per_text = max(self._per_text, per_text)
        return per_text * len(self.texts)

    # -- scoring ---------------------------------------------------------------------------------

    def fit(self, c: Candidate, rows: np.ndarray) -> Any:
        """``c``'s head fitted on ``rows`` (one-vs-rest for several labels per text)."""
        from bertclf.classify.heads import fit_head, fit_multilabel_head

        X = self.matrix(c)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.multilabel:
                return fit_multilabel_head(c.head, X[rows], self.target[rows], C=c.C,
                                           class_weight=self.base.class_weight, random_state=self.seed)
            return fit_head(c.head, X[rows], self.target[rows], self.n_classes, C=c.C,
                            class_weight=self.base.class_weight, random_state=self.seed)

    def measure(self, rows: np.ndarray, proba: np.ndarray, thresholds: np.ndarray | None = None) -> float:
        """Accuracy, or micro-F1 at ``thresholds`` (None: each label's cut-off tuned on these very
        rows, as ranking candidates needs only the same advantage for all)."""
        if not self.multilabel:
            return float((proba.argmax(axis=1) == self.target[rows]).mean())
        from bertclf.classify.thresholds import tune_thresholds

        truth = self.target[rows]
        cuts = tune_thresholds(truth, proba) if thresholds is None else thresholds
        return micro_f1(truth, (proba >= cuts).astype(truth.dtype))

    def score_fold(self, c: Candidate, fold: int) -> None:
        train, test = self.splits[fold]
        start = time.perf_counter()
        head = self.fit(c, train)
        c.fit_seconds.append(time.perf_counter() - start)
        proba = head.predict_proba(self.matrix(c)[test])
        c.scores.append(self.measure(test, proba))
        if not self.multilabel:  # for a vote of the finalists
            c.oof[fold] = np.log(np.clip(proba, 1e-300, None))

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
            self.keep_back(c)
            self.log(f"  {c.name}: fold 1 {self.metric} {c.scores[0]:.4f}")
        finalists = sorted(self._done, key=lambda c: -c.score)[:FINALISTS]
        for c in finalists:
            if not self.affordable(c, self.k - 1):
                c.status = "screened on 1 fold (no budget for the rest)"
                continue
            for fold in range(1, self.k):
                self.score_fold(c, fold)
            c.status = f"{self.k}-fold"
            self.log(f"  {c.name}: {self.k}-fold {self.metric} {c.score:.4f} ± {c.spread:.4f}")
        full = [c for c in self._done if len(c.scores) == self.k]
        vote = best_vote(full, self.splits, self.target) if self.votes else None
        if vote is not None:
            space.append(vote)
            full.append(vote)
            self.keep_back(vote)
            self.log(f"  {vote.name}: {self.k}-fold {self.metric} {vote.score:.4f} ± {vote.spread:.4f}")
        pool = full or self._done
        winner = max(pool, key=lambda c: c.score) if pool else None
        if winner is not None and len(self.check_rows):
            self.check(winner)
        tuned = next((c for c in space if c.features == "finetune"), None)
        if tuned is not None:
            self.finetune(tuned, winner)
            if tuned.scores and (winner is None or tuned.check > self._rival(winner)):
                winner = tuned  # compared on the same rows: the check rows, or the first fold
        estimate = None
        if winner is not None and winner.check is not None and len(self.check_rows):
            low, high = interval(winner.check, len(self.check_rows)) if winner is tuned else self._interval
            estimate = {"metric": self.metric, "score": round(winner.check, 4),
                        "interval": [round(low, 4), round(high, 4)], "texts": len(self.check_rows),
                        "cv_score": round(winner.score, 4)}
            if tuned is not None and tuned.scores:
                estimate["chosen_on_check_rows"] = True  # between the CV winner and fine-tuning
        return SearchResult(space, winner, self.k, self.budget, time.perf_counter() - self.start,
                            estimate=estimate, metric=self.metric)

    def _rival(self, c: Candidate) -> float:
        """What the fine-tuned candidate must beat: ``c`` on the check rows, or on the first fold."""
        return c.check if c.check is not None else c.scores[0]

    def check(self, c: Candidate) -> None:
        """The winner fitted on the search rows and scored once on the check rows: an estimate
        of its score on new texts that choosing it cannot have inflated. Several labels per text:
        the cut-offs are tuned as the refitted model will tune them, on a fifth of the search
        rows, then the head is fitted on all of them."""
        thresholds = None
        if c.features == "vote":  # the members fitted on the search rows, their log-probabilities averaged
            logs = [np.log(np.clip(self.fit(m, self.rows).predict_proba(self.matrix(m)[self.check_rows]),
                                   1e-300, None)) for m in c.members]
            proba = np.exp(np.mean(logs, axis=0))
            c.check = self.measure(self.check_rows, proba)
            self._interval = interval(c.check, len(self.check_rows))
            self.log(f"  {c.name}: {self.metric} {c.check:.4f} on {len(self.check_rows)} check texts")
            return
        if self.multilabel:
            from bertclf.classify.thresholds import tune_thresholds

            order = np.random.default_rng(self.seed).permutation(self.rows)
            tune, rest = order[:len(order) // 5], order[len(order) // 5:]
            proba = self.fit(c, rest).predict_proba(self.matrix(c)[tune])
            thresholds = tune_thresholds(self.target[tune], proba)
        proba = self.fit(c, self.rows).predict_proba(self.matrix(c)[self.check_rows])
        c.check = self.measure(self.check_rows, proba, thresholds)
        if self.multilabel:
            truth = self.target[self.check_rows]
            self._interval = f1_interval(truth, (proba >= thresholds).astype(truth.dtype), self.seed)
        else:
            self._interval = interval(c.check, len(self.check_rows))
        low, high = self._interval
        self.log(f"  {c.name}: {self.metric} {c.check:.4f} on {len(self.check_rows)} check texts the search "
                 f"never saw (95% interval {low:.4f}-{high:.4f})")

    def finetune(self, c: Candidate, rival: Candidate | None) -> None:
        """Fine-tune on the search rows and score on the check rows (without check rows: the
        first fold's), when the budget allows an epoch. Its cost is estimated before it starts
        from a timed forward pass of this machine (``TRAIN_PASSES`` per epoch); it gets as many
        epochs (up to the tuner's) as fit, a time limit that ends it where the budget does, and
        stops when the epochs left cannot lift it to ``rival``'s score."""
        if self.multilabel or self.base.calibrate:
            c.status = ("skipped: --auto fine-tunes for one label per text only" if self.multilabel
                        else "skipped: --calibrate calibrates frozen heads, not a fine-tuned layer")
            self.log(f"  fine-tuning {c.status}")
            return
        model = default_finetuner(self.base, self.finetuner)
        train, test = (self.rows, self.check_rows) if len(self.check_rows) else self.splits[0]
        forward = self.embedding_cost_any() / len(self.texts)
        val = float(model.val_fraction or 0)
        epoch = forward * len(train) * (TRAIN_PASSES * (1 - val) + val)
        finish = FINETUNE_SAVE_SECONDS + forward * (len(test) + self.after_texts)  # if it wins
        room = self.left() + self.reserve - max(self.reserve if rival is not None else 0.0, finish)
        epochs = min(int(model.epochs), int(room // epoch)) if epoch > 0 else int(model.epochs)
        if epochs < 1:
            c.status = f"skipped: an epoch would take ~{epoch:.0f} s, {max(room, 0):.0f} s left"
            self.log(f"  fine-tuning {c.status}")
            return
        model.set_params(epochs=epochs, time_limit=room)
        goal = self._rival(rival) if rival is not None else None
        n_val = max(1, round(len(train) * val))  # the tuner's own validation texts
        self.log(f"  fine-tuning for {epochs} epoch(s) on {len(train)} texts, ~{epoch * epochs:.0f} s")
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BertclfWarning)
            judge = (lambda history: cannot_reach(history, goal, epochs, n_val)) if goal else None
            model.fit([self.texts[i] for i in train], self.classes[self.target[train]], stop_when=judge)
        c.fit_seconds.append(time.perf_counter() - start)
        predicted = model.predict([self.texts[i] for i in test])
        c.check = float((np.asarray(predicted) == self.classes[self.target[test]]).mean())
        c.scores.append(c.check)
        reason = model.training_.get("stop_reason")
        where = "check texts" if len(self.check_rows) else "texts of fold 1"
        c.status = (f"{model.training_['epochs_run']} epoch(s) in {c.fit_seconds[0]:.0f} s "
                    f"(~{epoch * epochs:.0f} s estimated), scored on the {where}"
                    + (f"; stopped: {reason}" if reason else ""))
        self.tuned = model
        self.log(f"  {c.name}: accuracy {c.check:.4f} on {len(test)} {where} ({c.fit_seconds[0]:.0f} s)")

    def embedding_cost_any(self) -> float:
        """Seconds for one forward pass over TRAIN, timed on a sample with the torch backend, as
        fine-tuning runs it: uncached, as a cache hit would say nothing of training's cost."""
        embedder = clone(self.base.embedder_).set_params(backend="torch", progress=False, cache=False)
        sample = self.texts[:: max(1, len(self.texts) // 65)][:65]
        embedder.encode_texts(sample[:1])  # loads the model
        start = time.perf_counter()
        embedder.encode_texts(sample[1:])
        return (time.perf_counter() - start) / max(1, len(sample) - 1) * len(self.texts)


def cannot_reach(history: list[dict[str, Any]], goal: float, epochs: int, n_val: int) -> str | None:
    """Why fine-tuning should stop: its validation accuracy (on ``n_val`` texts), gaining what the
    last epoch gained for each epoch left, stays below ``goal`` by more than twice its standard
    error (the goal was measured on other texts); None while it might still get there."""
    scores = [h.get("val_accuracy") for h in history]
    if len(scores) < 2 or None in scores:
        return None
    gain, left = max(0.0, scores[-1] - scores[-2]), epochs - len(scores)
    noise = 2 * math.sqrt(max(scores[-1] * (1 - scores[-1]), 0.01) / n_val)
    if scores[-1] + gain * left + noise >= goal:
        return None
    return (f"validation accuracy {scores[-1]:.4f}, gaining {gain:.4f} an epoch, cannot reach {goal:.4f} "
            f"in {left} more")


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
               folds: int = DEFAULT_FOLDS, finetune: bool = True, finetuner: Any = None,
               log: Callable[[str], None] | None = None, check: bool = True,
               after_texts: int = 0) -> tuple[Any, SearchResult]:
    """Search, then refit the winner on all the texts: (fitted model, search result).

    ``base`` is a ``TextClassifier`` whose embedder, columns and seed the candidates share. With a
    budget too small for even one candidate, the default model is trained instead (and said so).
    ``finetune``: fine-tune the encoder too, when the budget allows an epoch (its own
    ``finetuner``, or the base's encoder with ``FineTuner``'s defaults);
    ``check``: score the winner on rows set aside before the search (``SearchResult.estimate``);
    ``after_texts``: texts the caller will embed after training (a report), kept in the budget.
    """
    from bertclf.classify.classifier import TextClassifier
    from bertclf.encode.embedder import Embedder
    from bertclf.io.labels import encode_labels, encode_multilabel, is_multilabel

    log = log or (lambda message: None)
    base = base if base is not None else TextClassifier()
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
    multilabel = is_multilabel(labels)
    classes, target = encode_multilabel(labels) if multilabel else encode_labels(labels)
    groups, overlapping = overlap_groups(inputs.texts)
    if overlapping:
        log(f"{overlapping} training texts repeat or sit inside another: folds and check rows keep "
            f"each such group together")
    n_classes = target.shape[1] if multilabel else int(target.max()) + 1
    search = Search(inputs.texts, target, n_classes, probe, seconds, folds,
                    base.random_state if base.random_state is not None else 0, log, finetuner,
                    groups=groups if overlapping else None, check=check, after_texts=after_texts,
                    classes=classes)
    if check and not len(search.check_rows):
        log(f"too few texts to set rows aside (the rarest label needs {CHECK_MIN_PER_LABEL}): the "
            f"winner's cross-validated score is its only estimate, and it runs high")
    result = search.run(search_space(finetune, own.pooling))
    result.overlapping = overlapping
    if result.winner is None:
        result.note = (f"the budget of {seconds:g} s is too small for even one candidate; "
                       f"trained the default model instead")
        warnings.warn(result.note, BertclfWarning, stacklevel=2)
        model = clone(base)
    elif result.winner.features == "finetune":
        return search.tuned, result  # kept as trained on the search rows: a CPU cannot afford a refit
    elif result.winner.features == "vote":
        from bertclf.classify.vote import merge

        members = [winner_model(m, probe).fit(texts, labels) for m in result.winner.members]
        return merge(members, names=[m.name for m in result.winner.members]), result
    else:
        model = winner_model(result.winner, probe, finetuner)
    model.fit(texts, labels)
    return model, result
