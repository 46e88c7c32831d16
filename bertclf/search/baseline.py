"""The TF-IDF + logistic regression baseline, shown beside every BERT result.

Word uni- and bigrams, sublinear term frequency, terms seen in at least 2 texts, C = 10: the
strongest of the simple settings we measured on the shared sets (sms_spam 99.0, sst2 82.8), so
the comparison is with a fair baseline rather than a straw man.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from bertclf.io.files import clean_texts


def tfidf_logreg(random_state: int | None = 13) -> Pipeline:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    return Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
        ("logreg", LogisticRegression(C=10.0, max_iter=2000, random_state=random_state)),
    ])


def quiet_clean(texts: list[Any]) -> list[str]:
    """``clean_texts`` without its warnings: the caller has checked and reported these texts."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clean_texts(texts)


def fit_baseline(texts: list[Any], labels: list[Any], random_state: int | None = 13) -> Pipeline:
    """The baseline fitted on ``texts``; labels become text, so it predicts strings."""
    return tfidf_logreg(random_state).fit(quiet_clean(texts), [str(v) for v in labels])


def baseline_scores(train_texts: list[Any], train_labels: list[Any], test_texts: list[Any],
                    test_labels: list[Any], random_state: int | None = 13) -> dict[str, float]:
    """Fit the baseline on one split and score it on the other: accuracy, macro-F1, seconds.
    Labels are compared as text, as in ``evaluation``."""
    from sklearn.metrics import accuracy_score, f1_score

    test = quiet_clean(test_texts)
    truth = [str(v) for v in test_labels]
    start = time.perf_counter()
    model = fit_baseline(train_texts, train_labels, random_state)
    fitted = time.perf_counter()
    pred = model.predict(test)
    predicted = time.perf_counter()
    return {
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
        "train_seconds": round(fitted - start, 3),
        "predict_texts_per_second": round(len(test) / max(predicted - fitted, 1e-9), 1),
    }


def multilabel_baseline_scores(train_texts: list[Any], train_y: Any, test_texts: list[Any], test_y: Any,
                               random_state: int | None = 13) -> dict[str, Any]:
    """TF-IDF + one-vs-rest logistic regression at a 0.5 cut-off: micro/macro-F1 and the
    threshold-free mean ROC-AUC, the fair number to compare."""
    from sklearn.multiclass import OneVsRestClassifier

    from bertclf.evaluate.multilabel import evaluate_multilabel
    from bertclf.io.labels import encode_multilabel, truth_matrix

    classes, train = encode_multilabel(train_y)
    keep = train.min(axis=0) != train.max(axis=0)  # a label that never varies has nothing to learn
    start = time.perf_counter()
    pipeline = tfidf_logreg(random_state)
    pipeline.steps[-1] = ("logreg", OneVsRestClassifier(pipeline.steps[-1][1]))
    pipeline.fit(quiet_clean(train_texts), train[:, keep])
    fitted = time.perf_counter()
    proba = np.tile(train.mean(axis=0), (len(test_texts), 1)).astype(float)
    proba[:, keep] = pipeline.predict_proba(quiet_clean(test_texts))
    truth, unseen = truth_matrix(test_y, classes)
    report = evaluate_multilabel(truth, (proba >= 0.5).astype(int), proba, classes, unseen)
    return {"micro_f1": report["micro_f1"], "macro_f1": report["macro_f1"],
            "mean_roc_auc": report["mean_roc_auc"], "train_seconds": round(fitted - start, 3)}


def baseline_texts(X: Any, text_col: str = "text", pair_col: str | None = None) -> list[Any]:
    """What TF-IDF reads of a row: its text, and its pair's text after it."""
    if not hasattr(X, "columns"):
        return list(X)
    texts = X[text_col].tolist()
    if pair_col:
        pairs = quiet_clean(X[pair_col].tolist())
        return [f"{a} {b}" for a, b in zip(quiet_clean(texts), pairs, strict=True)]
    return texts
