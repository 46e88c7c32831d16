"""``train --auto``: TF-IDF, frozen embeddings or both, chosen by cross-validation on TRAIN.

Which approach wins is a property of the data set (TF-IDF wins on spam and news, embeddings on
intents and tweets), so the search scores a small, measured space of candidates (``searchspace``:
TF-IDF, frozen embeddings and hybrids, then the SVM head and another pooling; a fine-tuned encoder
when the budget allows an epoch, scored on the check rows; few-shot tuning when TRAIN is small) by
stratified k-fold cross-validation on the training rows only, within a time budget.

Successive halving keeps it cheap: every candidate is first scored on one fold, and only the
best few go on to the others. Each text is embedded once per embedder setting (through this
process's memo and the embedding cache); unsupervised steps (TF-IDF vocabularies, the
standardisation) see TRAIN's texts but never their labels. The winner is refitted on all of TRAIN
as an ordinary ``TextClassifier`` (or ``FineTuner``).

Two things keep the winner's score honest. Texts that repeat or sit inside others stay on one
side of every split (``groups``). And a seeded share of TRAIN (``check_rows``) is set aside
before the search: the winner, fitted on the rest, is scored there once, a figure the choice
among candidates cannot have inflated. The budget covers the refit (and what the caller reserves
for after it) as well as the search. The fine-tuned candidate is in ``finetune_trial``, the
few-shot one in ``fewshot_trial``, the guard and the check in ``settle``, the vote of the finalists in
``voting``, the splits in ``splits``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.classify.compatibility import why_unsupported
from bertclf.errors import BertclfWarning, SpecError
from bertclf.evaluate.intervals import micro_f1
from bertclf.search.fewshot_trial import few_shot_learner, few_shot_proba, fold_seconds, why_not
from bertclf.search.finetune_trial import default_finetuner, fine_tuning_share, finetune_candidate
from bertclf.search.groups import overlap_groups
from bertclf.search.settle import BASELINES, check, guard, oof_thresholds
from bertclf.search.space import (
    DEFAULT_BUDGET,
    DEFAULT_FOLDS,
    Candidate,
    SearchResult,
    beyond_window,
    parse_budget,
    search_space,
)
from bertclf.search.splits import check_rows, check_rows_line, cv_folds, grouped_folds, strata_of
from bertclf.search.voting import best_vote, log_proba

FINALISTS = 4  # candidates scored on every fold after the one-fold screen
SAVE_SECONDS = 5.0  # reserved for writing the model folder


class Search:
    """Runs the screen and the finals over ``search_space`` for one training set."""

    def __init__(self, texts: list[str], target: np.ndarray, n_classes: int, base: Any,
                 budget_seconds: float, folds: int, seed: int, log: Callable[[str], None],
                 finetuner: Any = None, groups: np.ndarray | None = None, check: bool = False,
                 after_texts: int = 0, classes: np.ndarray | None = None, order: Any = None) -> None:
        """Features are computed for every text; cross-validation reads the search rows only.
        ``groups``: rows that must stay together (``overlap_groups``); ``check``: set check rows
        aside; ``after_texts``: texts the caller will embed once the model is saved (a report),
        whose time the budget keeps back; ``classes``: the label of each class number, which a
        fine-tuned model (kept as it is) must predict; ``order``: each row's time, where the
        check rows are the latest (``splits.check_rows``)."""
        self.classes = np.arange(n_classes) if classes is None else np.asarray(classes)
        self.texts, self.target, self.n_classes, self.base = texts, target, n_classes, base
        self.votes = why_unsupported("vote", base, target.ndim == 2) is None
        self.budget, self.seed, self.log, self.finetuner = budget_seconds, seed, log, finetuner
        self.start = time.perf_counter()
        self.multilabel = target.ndim == 2  # an (n, L) 0/1 matrix: scored by micro-F1
        self.metric = "micro-F1" if self.multilabel else "accuracy"
        strata = strata_of(target)
        self.rows, self.check_rows = (check_rows(strata, groups, seed, self.multilabel, order) if check
                                      else (np.arange(len(target)), np.arange(0)))
        self.k = cv_folds(strata[self.rows], folds, log, self.multilabel)
        inner = grouped_folds(strata[self.rows], None if groups is None else groups[self.rows], self.k, seed)
        self.splits = [(self.rows[a], self.rows[b]) for a, b in inner]
        self.after_texts, self.reserve, self.tune_reserve = after_texts, SAVE_SECONDS, 0.0
        self.tune_forward: dict[str, float] = {}  # the fine-tuner's seconds a text forward, by precision
        self._matrices: dict[tuple[Any, ...], Any] = {}
        self._vectors, self._costs, self._tfidf = {}, {}, {}  # by embedding setting; TF-IDF by kind
        self._per_text = 0.0  # seconds to embed one text, once timed
        self.guarded: str | None = None  # why a baseline was kept over the top candidate
        self.scored: list[Candidate] = []  # candidates screened on the first fold, in order

    def left(self) -> float:
        """Seconds of the budget left for searching: the refit, saving and the caller's later
        embedding pass are kept back."""
        return self.budget - (time.perf_counter() - self.start) - self.reserve - self.tune_reserve

    def refit_seconds(self, c: Candidate, checked: bool = False) -> float:
        """What finishing with ``c`` costs: a fit on the search rows for the check (none once
        ``checked``), one on every row, each scaled from its fold fits (fits grow a little faster
        than the rows; 1.5× covers it), saving, and the caller's embedding pass. With several
        labels per text each fit is two (the cut-offs are tuned on a model fitted to four fifths
        first) unless they come out of fold, and the report's TF-IDF baseline is one more: on
        goemotions a reserve of two fits let the command run 757 s of a 600 s budget."""
        pair = self.multilabel and self.base.thresholds != "tune"
        fits = (1 + 2 * (1 + pair) if self.multilabel else 2) - (checked * (1 + pair))
        share = len(self.texts) / max(1, len(self.splits[0][0]))
        refit = fits * 1.5 * share * float(np.mean(c.fit_seconds or [0.0]))
        return SAVE_SECONDS + refit + self._per_text * self.after_texts

    def keep_back(self, c: Candidate) -> None:  # the reserve: what finishing with ``c`` would cost
        if c.fit_seconds:
            self.reserve = max(self.reserve, self.refit_seconds(c))

    # -- features --------------------------------------------------------------------------------

    def vectors(self, c: Candidate) -> np.ndarray:
        """Raw (unnormalised) embeddings of every training text for ``c``'s embedder setting."""
        if c.setting not in self._vectors:
            from bertclf.encode.memory_cache import memo

            embedder = candidate_embedder(self.base.embedder_, c)
            self._vectors[c.setting] = memo.embed(embedder, self.texts, None)
        return self._vectors[c.setting]

    def matrix(self, c: Candidate) -> Any:
        """Every training text's features for ``c``, assembled as the refitted model will do it."""
        key = (c.features, c.tfidf, c.pooling, c.layers, c.long, c.scaling)
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
        if c.setting not in self._costs:  # timed once: timed again, the memoised sample looks free
            self._costs[c.setting] = self._pass_seconds(candidate_embedder(self.base.embedder_, c)
                                                        .set_params(progress=False))
        return self._costs[c.setting]

    def _pass_seconds(self, embedder: Any) -> float:
        """Seconds ``embedder`` would take over all the texts (memoised, so the timed vectors are
        not computed again)."""
        from bertclf.encode.memory_cache import memo

        per_text = self.seconds_per_text(lambda texts: memo.embed(embedder, texts, None))
        self._per_text = max(self._per_text, per_text)
        return per_text * len(self.texts)

    def seconds_per_text(self, embed: Callable[[list[str]], Any]) -> float:
        """``embed``'s seconds a text, timed on 64 texts spread over TRAIN after one untimed text
        has loaded the model (counting the load once per text made estimates several times
        too high)."""
        sample = self.texts[:: max(1, len(self.texts) // 65)][:65]
        embed(sample[:1])
        start = time.perf_counter()
        embed(sample[1:])
        return (time.perf_counter() - start) / max(1, len(sample) - 1)

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

    def proba(self, c: Candidate, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        """``c`` fitted on ``train`` rows: its probabilities for ``test`` rows."""
        if c.features == "fewshot":
            return few_shot_proba(self, train, test)
        return self.fit(c, train).predict_proba(self.matrix(c)[test])

    def score_fold(self, c: Candidate, fold: int) -> None:
        train, test = self.splits[fold]
        start = time.perf_counter()
        proba = self.proba(c, train, test)  # the few-shot candidate's time is mostly tuning
        c.fit_seconds.append(time.perf_counter() - start)
        c.scores.append(self.measure(test, proba))
        # for a vote of the finalists, or the cut-offs of several labels per text
        c.oof[fold] = proba if self.multilabel else log_proba(proba)

    def affordable(self, c: Candidate, folds: int) -> bool:
        """Whether ``folds`` more fits of ``c`` (and any embedding pass it needs) fit the budget."""
        if c.features == "fewshot" and not c.fit_seconds:
            reason = why_not(self)
            cost = fold_seconds(self) if reason is None else 0.0
            if reason is None and cost > self.left():
                reason = f"a fold would take ~{cost:.0f} s, {max(self.left(), 0):.0f} s left"
            if reason is not None:
                c.status = f"skipped: {reason}"
                self.log(f"  few-shot tuning {c.status}")
                return False
        if c.features in ("embedding", "hybrid"):
            cost = self.embedding_cost(c)
            if cost > self.left():
                c.status = f"skipped: embedding would take ~{cost:.0f} s"
                return False
        def kind(x: Candidate) -> tuple[Any, ...]:
            return x.features, x.tfidf, x.setting, x.head

        similar = [s for s in self.scored if kind(s) == kind(c)]
        per_fit = float(np.mean([t for s in similar for t in s.fit_seconds])) if similar else 0.0
        if per_fit * folds > self.left() or self.left() <= 0:
            c.status = "skipped: over budget"
            return False
        return True

    def run(self, space: list[Candidate]) -> SearchResult:
        self.scored = []
        self.tune_reserve = fine_tuning_share(self, space)
        self.log(f"searching {len(space)} candidates by {self.k}-fold cross-validation on "
                 f"{len(self.texts)} texts, budget {self.budget:.0f} s")
        for c in space:
            if c.features == "finetune":
                continue
            if not self.affordable(c, 1):
                continue
            if c.features != "fewshot":
                self.matrix(c)
            if self.left() <= 0:
                c.status = "skipped: over budget"
                continue
            self.score_fold(c, 0)
            c.status = "screened on 1 fold"
            self.scored.append(c)
            self.keep_back(c)
            self.log(f"  {c.name}: fold 1 {self.metric} {c.scores[0]:.4f}")
        finalists = sorted(self.scored, key=lambda c: -c.score)[:FINALISTS]
        # the baselines, and few-shot tuning, whose first fold (a few texts per class) says little
        finalists += [c for c in self.scored
                      if (c.name in BASELINES or c.features == "fewshot") and c not in finalists]
        for c in finalists:
            if not self.affordable(c, self.k - 1):
                c.status = "screened on 1 fold (no budget for the rest)"
                continue
            for fold in range(1, self.k):
                self.score_fold(c, fold)
            c.status = f"{self.k}-fold"
            self.log(f"  {c.name}: {self.k}-fold {self.metric} {c.score:.4f} ± {c.spread:.4f}")
        full = [c for c in self.scored if len(c.scores) == self.k]
        vote = best_vote(full, self.splits, self.target) if self.votes else None
        if vote is not None:
            space.append(vote)
            full.append(vote)
            self.keep_back(vote)
            self.log(f"  {vote.name}: {self.k}-fold {self.metric} {vote.score:.4f} ± {vote.spread:.4f}")
        pool = full or self.scored
        winner = max(pool, key=lambda c: c.score) if pool else None
        if winner is not None:
            winner = guard(self, winner, full)
        if winner is not None and len(self.check_rows):
            check(self, winner)
        tuned = next((c for c in space if c.features == "finetune"), None)
        if tuned is not None:
            self.tuned = finetune_candidate(self, tuned, winner)
            if tuned.scores and (winner is None or tuned.check > self.rival_score(winner)):
                winner = tuned  # compared on the same rows: the check rows, or the first fold
        estimate = None
        if winner is not None and winner.interval is not None and len(self.check_rows):
            low, high = winner.interval
            estimate = {"metric": self.metric, "score": round(winner.check, 4),
                        "interval": [round(low, 4), round(high, 4)], "texts": len(self.check_rows),
                        "cv_score": round(winner.score, 4)}
            if tuned is not None and tuned.scores:
                estimate["chosen_on_check_rows"] = True  # between the CV winner and fine-tuning
        cuts = oof_thresholds(self, winner) if winner is not None else None
        return SearchResult(space, winner, self.k, self.budget, time.perf_counter() - self.start,
                            estimate=estimate, metric=self.metric, guarded=self.guarded,
                            finalists=FINALISTS, baselines=BASELINES,
                            thresholds=None if cuts is None else {str(label): round(float(cut), 6)
                                                                  for label, cut in zip(self.classes, cuts,
                                                                                        strict=True)})

    def rival_score(self, c: Candidate) -> float:
        """What the fine-tuned candidate must beat: ``c`` on the check rows, or on the first fold."""
        return c.check if c.check is not None else c.scores[0]

def candidate_embedder(embedder: Any, c: Candidate) -> Any:
    """A copy of ``embedder`` reading ``c``'s layers (and pooling, and way with long texts),
    unnormalised: the search scales the vectors itself, so the winner must read them the same way."""
    settings = {"layers": c.layers, "normalize": False}
    if c.pooling is not None:
        settings["pooling"] = c.pooling
    if c.long is not None:
        settings["long"] = c.long
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
               few_shot: bool = True, log: Callable[[str], None] | None = None, check: bool = True,
               after_texts: int = 0, order: Any = None) -> tuple[Any, SearchResult]:
    """Search, then refit the winner on all the texts: (fitted model, search result).

    ``base`` is a ``TextClassifier`` whose embedder, columns and seed the candidates share. With a
    budget too small for even one candidate, the default model is trained instead (and said so).
    ``finetune``: fine-tune the encoder too, when the budget allows an epoch (its own
    ``finetuner``, or the base's encoder with ``FineTuner``'s defaults); ``few_shot``: consider
    few-shot tuning (``FewShot``) when TRAIN is small (``search.fewshot_trial.MAX_PER_CLASS``);
    ``check``: score the winner on rows set aside before the search (``SearchResult.estimate``);
    ``after_texts``: texts the caller will embed after training (a report), kept in the budget;
    ``order``: each text's time (numbers that sort as the times do: ``--time-col``), where the
    check rows are the latest texts rather than a shuffled draw.
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
                    classes=classes, order=order)
    said = check_rows_line(len(search.check_rows), order is not None) if check else None
    if said:
        log(said)
    long_texts = own.long.mode == "truncate" and beyond_window(probe.embedder_, inputs.texts, log)
    result = search.run(search_space(finetune, own.pooling, few_shot, long_texts))
    result.overlapping = overlapping
    if result.winner is None:
        result.note = (f"the budget of {seconds:g} s is too small for even one candidate; "
                       f"trained the default model instead")
        warnings.warn(result.note, BertclfWarning, stacklevel=2)
        model = clone(base)
    elif result.winner.features == "finetune":
        return search.tuned, result  # kept as trained on the search rows: a CPU cannot afford a refit
    elif result.winner.features == "fewshot":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BertclfWarning)
            return few_shot_learner(probe, search.seed).fit(texts, labels).classifier_, result
    elif result.winner.features == "vote":
        from bertclf.classify.vote import merge

        members = [winner_model(m, probe).fit(texts, labels) for m in result.winner.members]
        return merge(members, names=[m.name for m in result.winner.members]), result
    else:
        model = winner_model(result.winner, probe, finetuner)
        if result.thresholds is not None:
            model.set_params(thresholds=result.thresholds)
    model.fit(texts, labels)
    return model, result
