"""Label-noise finder: the training rows whose given label a cross-validated model finds least
likely, in the manner of confident learning (Northcutt et al., 2021).

Each row's probabilities come from a head that never saw it (5-fold out-of-fold, frozen
embeddings). A row is flagged as a likely label issue when another label is predicted with at
least that label's own average confidence (its per-class threshold). Rows are listed flagged
first, then by how unlikely their given label is: the rows worth a human look.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bertclf.classify.calibration import out_of_fold_proba
from bertclf.classify.heads import fit_head
from bertclf.encode.embedder import Embedder
from bertclf.encode.memory_cache import memo
from bertclf.errors import SpecError
from bertclf.io.files import clean_texts
from bertclf.io.labels import encode_labels


def audit_labels(texts: list[Any], labels: list[Any], embedder: Embedder | None = None, head: str = "logreg",
                 C: float | str = 1.0, random_state: int | None = 13, rows: list[int] | None = None) -> Any:
    """A DataFrame, one row per text: row (1-based, or ``rows`` + 1), text, given, suggested,
    p_given, p_suggested and issue, flagged rows first, then by p_given, lowest first."""
    import pandas as pd

    if any(isinstance(v, (list, tuple, set)) for v in labels):
        raise SpecError("audit reads one label per text; multi-label sets are not supported yet")
    classes, target = encode_labels(labels)
    embedder = embedder or Embedder()
    features = memo.embed(embedder, clean_texts(list(texts)))
    if C == "auto":
        from bertclf.classify.auto_c import choose_C

        C = choose_C(head, features, target, len(classes), seed=random_state)
    proba = out_of_fold_proba(
        lambda f, t: fit_head(head, f, t, len(classes), C=C, random_state=random_state),
        features, target, len(classes), random_state, "the audit", "give it more rows of each label")
    everyone = np.arange(len(target))
    thresholds = np.array([proba[target == c, c].mean() for c in range(len(classes))])
    suggested = proba.argmax(axis=1)
    issue = (suggested != target) & (proba[everyone, suggested] >= thresholds[suggested])
    frame = pd.DataFrame({
        "row": (np.asarray(rows) if rows is not None else everyone) + 1,
        "text": list(texts), "given": classes[target], "suggested": classes[suggested],
        "p_given": proba[everyone, target].round(6), "p_suggested": proba[everyone, suggested].round(6),
        "issue": issue})
    frame = frame.sort_values(["issue", "p_given"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)
