"""``train --auto``'s vote: the finalists that can be merged into one model (``classify.vote``),
scored on the folds they were scored on alone, from their out-of-fold probabilities.

A vote joins the leaderboard only when its cross-validated score beats the best single
candidate's; it is then checked and refitted like any other, and saved as one hybrid model.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from bertclf.classify.compatibility import why_not_merged
from bertclf.search.space import Candidate


def mergeable(members: list[Candidate]) -> bool:
    """Whether ``classify.vote.merge`` can make one model of these candidates."""
    return why_not_merged(members) is None


def log_proba(proba: np.ndarray) -> np.ndarray:
    """Log-probabilities, a zero kept finite."""
    return np.log(np.clip(proba, 1e-300, None))


def vote_proba(logs: list[np.ndarray]) -> np.ndarray:
    """The geometric soft vote of members' log-probabilities, renormalised."""
    mean = np.mean(logs, axis=0)
    votes = np.exp(mean - mean.max(axis=1, keepdims=True))
    return votes / votes.sum(axis=1, keepdims=True)


def vote_oof(members: list[Candidate], folds: int) -> dict[int, np.ndarray]:
    """Per fold, the log-probabilities of the members' geometric soft vote (like a single
    candidate's ``oof``)."""
    return {fold: log_proba(vote_proba([m.oof[fold] for m in members])) for fold in range(folds)}


def vote_scores(members: list[Candidate], splits: list[tuple[np.ndarray, np.ndarray]],
                target: np.ndarray) -> list[float]:
    """Per fold, the accuracy of the members' geometric soft vote (``vote_oof``'s answers)."""
    answers = vote_oof(members, len(splits))
    return [float((answers[fold].argmax(axis=1) == target[test]).mean())
            for fold, (_, test) in enumerate(splits)]


def best_vote(full: list[Candidate], splits: list[tuple[np.ndarray, np.ndarray]],
              target: np.ndarray) -> Candidate | None:
    """The best vote of two or more of ``full`` (candidates scored on every fold), if it beats
    the best of them alone; None otherwise."""
    if len(full) < 2 or any(len(c.oof) != len(splits) for c in full):
        return None
    best_single = max(c.score for c in full)
    found = None
    for size in range(2, len(full) + 1):
        for group in combinations(sorted(full, key=lambda c: -c.score), size):
            if not mergeable(list(group)):
                continue
            scores = vote_scores(list(group), splits, target)
            if float(np.mean(scores)) > max(best_single, found.score if found else -1.0):
                found = Candidate("vote", members=list(group), scores=scores,
                                  fit_seconds=[sum(float(np.mean(m.fit_seconds)) for m in group)],
                                  status=f"{len(splits)}-fold vote of {size}")
    if found is not None:  # its out-of-fold answers, as every candidate has (``settle.guard`` reads them)
        found.oof = vote_oof(found.members, len(splits))
    return found
