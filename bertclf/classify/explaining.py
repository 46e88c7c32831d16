"""How a fitted ``TextClassifier`` explains its predictions (``TextClassifier.explain``): word
occlusion through its own ``predict_proba``, or exact TF-IDF weights, by ``classify.explain``'s
shared logic; the reading windows come from its encoder's tokenizer."""

from __future__ import annotations

import warnings
from typing import Any

from bertclf.classify.explain import (
    Explanation,
    Rows,
    check_explain_method,
    exact_parts,
    explain_rows,
    refuse_joined,
)
from bertclf.errors import BertclfWarning, SpecError


def explain_classifier(model: Any, X: Any, k: int, method: str) -> list[list[Explanation]]:
    """``TextClassifier.explain``: see there."""
    if check_explain_method(method) not in ("auto", "occlusion"):
        raise SpecError(f"method {method!r} reads the runtime's encoder: explain with "
                        f"bertclf.runtime.load(folder) after saving the model")
    inputs = model._inputs(X)
    if model.extra_ is not None:
        refuse_joined()
    exact = exact_parts(model.features, model.tfidf_, model.head_, model.meta_ is not None)
    reach = None
    if model.features != "tfidf" and model.guide_ is None:
        from bertclf.encode import sources
        from bertclf.encode.tokenization import read_windows

        s = model.embedder_.settings()
        tokenizer = sources.load_tokenizer(s.source)
        reach = lambda t, p: read_windows(tokenizer, t, s.max_length, s.long, p)  # noqa: E731
    rows = Rows(inputs.texts, inputs.pairs, inputs.table if model.meta_ is not None else None,
                model.text_col, model.pair_col, tuple(model.meta_cols or ()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BertclfWarning)  # the occluded texts' cut warnings
        return explain_rows(model.predict_proba, rows, model.classes_, k,
                            bool(getattr(model, "multilabel_", False)), getattr(model, "thresholds_", None),
                            exact, reach)
