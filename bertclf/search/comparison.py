"""TF-IDF, frozen embeddings and fine-tuning, on one split, in one table.

Which approach a dataset needs is an empirical question: frozen embeddings lose to TF-IDF on
about half of our real sets, and fine-tuning costs minutes to hours on a CPU. ``compare`` fits
each approach on the same training texts, scores it on the same test texts, and reports
accuracy, macro-F1, train time, predict texts/s and the model's size on disk. Frozen and
fine-tuned models are saved and loaded back before they predict, so the figures are those of
the model a user would ship.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bertclf.errors import SpecError

APPROACHES = ("tfidf", "frozen", "finetune")


DESCRIPTIONS = {  # short enough for an 80-column table
    "tfidf": "TF-IDF + logreg",
    "frozen": "frozen + {head}",
    "finetune": "fine-tuned",
}


def parse_approaches(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    unknown = [n for n in names if n not in APPROACHES]
    if unknown or not names:
        raise SpecError(f"unknown approach {', '.join(map(repr, unknown)) or '(none)'}: "
                        f"use a comma list of {', '.join(APPROACHES)}")
    return list(dict.fromkeys(names))


def compare(
    train_texts: list[Any],
    train_labels: list[Any],
    test_texts: list[Any],
    test_labels: list[Any],
    approaches: str | list[str] | tuple[str, ...] = APPROACHES,
    classifier: Any = None,
    finetuner: Any = None,
    seed: int = 13,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One result row per approach, in the order asked for.

    ``classifier`` (a ``TextClassifier``) and ``finetuner`` (a ``FineTuner``) set how the frozen
    and fine-tuned approaches are configured; None uses their defaults.
    """
    from bertclf.evaluate.metrics import evaluate_predictions

    rows = []
    for approach in parse_approaches(approaches):
        if log:
            log(f"{approach}: training on {len(train_texts)} texts")
        with tempfile.TemporaryDirectory(prefix="bertclf-compare-") as tmp:
            start = time.perf_counter()
            predict, size, shared, description, details = _FIT[approach](
                train_texts, train_labels, Path(tmp) / "model", classifier, finetuner, seed)
            train_seconds = time.perf_counter() - start
            start = time.perf_counter()
            predicted = predict(test_texts)
            predict_seconds = time.perf_counter() - start
        report = evaluate_predictions(test_labels, predicted, sorted({str(v) for v in train_labels}))
        rows.append({
            "approach": approach, "description": description,
            "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
            "train_seconds": round(train_seconds, 2) or float(f"{train_seconds:.2g}"),  # never 0
            "predict_texts_per_second": round(len(test_texts) / max(predict_seconds, 1e-9), 1),
            "size_bytes": size, "shared_encoder_bytes": shared, "details": details,
        })
        if log:
            log(f"{approach}: accuracy {report['accuracy']:.4f} in {train_seconds:.1f} s")
    return rows


def _fit_tfidf(texts, labels, folder, classifier, finetuner, seed):
    from bertclf.search.baseline import fit_baseline, quiet_clean

    model = fit_baseline(texts, labels, seed)
    return (lambda X: model.predict(quiet_clean(X))), _tfidf_size(model), 0, DESCRIPTIONS["tfidf"], {}


def _fit_frozen(texts, labels, folder, classifier, finetuner, seed):
    from sklearn.base import clone

    from bertclf.classify.classifier import TextClassifier

    model = clone(classifier) if classifier is not None else \
        TextClassifier(random_state=seed, features="embedding")
    model.set_params(reuse_embeddings=False)  # time the real work, not this process's memo
    model.fit(texts, labels)
    model.save(folder, self_contained=False)  # the size column counts the shared encoder once, apart
    return _loaded(folder), folder_bytes(folder), _encoder_bytes(model), \
        DESCRIPTIONS["frozen"].format(head=model.head), model.training_


def _fit_finetune(texts, labels, folder, classifier, finetuner, seed):
    from sklearn.base import clone

    from bertclf.finetune.finetuner import FineTuner

    model = clone(finetuner) if finetuner is not None else FineTuner(seed=seed)
    model.fit(texts, labels)
    model.save(folder)
    return _loaded(folder), folder_bytes(folder), 0, DESCRIPTIONS["finetune"], model.training_


def _loaded(folder: Path) -> Callable[[list[Any]], np.ndarray]:
    """Predict through the saved folder, as a user would; the encoder loads before timing."""
    from bertclf.classify.classifier import TextClassifier

    model = TextClassifier.load(folder, progress=False)
    model.reuse_embeddings = False
    model.embedder_.load_encoder()
    return lambda X: np.asarray([str(v) for v in model.predict(X)])


def folder_bytes(folder: str | os.PathLike[str]) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _encoder_bytes(model: Any) -> int:
    """The frozen encoder a frozen model refers to (shared, not copied into its folder)."""
    location = Path(model.embedder_.settings().source.location)
    return sum(p.stat().st_size for p in location.glob("*.safetensors")) if location.is_dir() else 0


def _tfidf_size(model: Any) -> int:
    """Bytes the baseline takes when stored safely: vocabulary as JSON, weights as safetensors."""
    import json

    from safetensors.numpy import save

    tfidf, logreg = model.named_steps["tfidf"], model.named_steps["logreg"]
    vocabulary = json.dumps({k: int(v) for k, v in tfidf.vocabulary_.items()}).encode()
    weights = save({"idf": tfidf.idf_, "coef": np.ascontiguousarray(logreg.coef_),
                    "intercept": logreg.intercept_})
    return len(vocabulary) + len(weights)


_FIT = {"tfidf": _fit_tfidf, "frozen": _fit_frozen, "finetune": _fit_finetune}
