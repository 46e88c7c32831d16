"""What a labelling database holds, read without a server: `label status` (counts, the
cross-validated estimate and the learning curve as answers arrived), `label export` (the labelled
texts as a table, or Label Studio tasks with the model's predictions as pre-annotations) and
`label import` (a Label Studio export's answers)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import numpy as np

from bertclf.io.table import Table
from bertclf.label.store import LabelStore

CURVE_STEPS = (20, 50, 100, 200, 500, 1000, 2000, 5000)


def encoder_of(store: LabelStore) -> Any:
    """The encoder the session embedded with (recorded in the database), else the bundled one."""
    from bertclf.encode.embedder import Embedder

    return Embedder(store.model, progress=False) if store.model else Embedder(progress=False)


def answers_table(db: str | os.PathLike[str], label_sep: str = ";") -> Table:
    """text, label (several joined by ``label_sep``), annotator, at (UTC, ISO 8601): one row per
    labelled text, its current answer."""
    store = LabelStore.open(db)
    try:
        latest: dict[int, dict[str, Any]] = {}
        for row in store.history():
            if not row["undone"] and not row["skipped"]:
                latest[row["text_id"]] = row
        texts = store.texts(list(latest))
    finally:
        store.close()
    rows = list(latest.values())
    return Table({"text": [texts[r["text_id"]] for r in rows],
                  "label": [label_sep.join(r["labels"]) for r in rows],
                  "annotator": [r["annotator"] for r in rows],
                  "at": [datetime.fromtimestamp(r["at"], timezone.utc).isoformat(timespec="seconds")
                         for r in rows]})


def database_status(db: str | os.PathLike[str], embedder: Any = None) -> dict[str, Any]:
    """Counts, the estimate (cross-validated on the labels so far) and the learning curve
    (the estimate on the first N answers, N in ``CURVE_STEPS``), from the database alone."""
    from bertclf.label.app import status_of
    from bertclf.label.learner import cross_validate, curve_sentence, targets, unit_vectors
    from bertclf.label.tuning import last_run

    store = LabelStore.open(db)
    try:
        figures = status_of(store, None)
        answered = store.answered()
        order = [row["text_id"] for row in store.history() if not row["undone"] and not row["skipped"]]
        order = list(dict.fromkeys(reversed(order)))[::-1]  # each text where its answer last came
        if len(answered) >= 10:
            texts = store.texts(order)
            vectors = unit_vectors([texts[i] for i in order], embedder or encoder_of(store))
            target = targets([answered[i] for i in order], store.labels, store.multi_label)
            steps = [n for n in CURVE_STEPS if n < len(order)] + [len(order)]
            curve = []
            for n in steps:
                estimate, _ = cross_validate(vectors[:n], target[:n], store.multi_label, len(store.labels))
                if estimate is not None:
                    curve.append({"labels": n, "score": estimate["score"]})
                    figures["estimate"] = estimate
            figures["curve"], figures["curve_sentence"] = curve, curve_sentence(curve)
        figures["tuning"] = last_run(db)
    finally:
        store.close()
    return figures


def label_studio_tasks(db: str | os.PathLike[str], embedder: Any = None) -> list[dict[str, Any]]:
    """Every text of DB as a Label Studio task (``data.text``): its current answer as an
    annotation, and the model's suggestion (a logistic regression on the labelled texts'
    embeddings, as the page shows it) as a prediction with its probability, for a labelling
    config of ``<Choices name="label" toName="text">``."""
    from bertclf.label.learner import fit_head, fittable, probabilities, targets, unit_vectors

    store = LabelStore.open(db)
    try:
        answered, ids = store.answered(), list(store.ids)
        texts = store.texts(ids)
        labels, multi = store.labels, store.multi_label
        proba = None
        if len(answered) >= 2:
            vectors = unit_vectors([texts[i] for i in ids], embedder or encoder_of(store))
            row = {text_id: r for r, text_id in enumerate(ids)}
            kept = [i for i in answered if i in row]
            target = targets([answered[i] for i in kept], labels, multi)
            if fittable(target, multi):
                proba = probabilities(fit_head(vectors[[row[i] for i in kept]], target, multi), vectors,
                                      len(labels))
    finally:
        store.close()
    tasks = []
    for r, text_id in enumerate(ids):
        task: dict[str, Any] = {"id": text_id, "data": {"text": texts[text_id]}}
        if text_id in answered:
            task["annotations"] = [{"result": [_choices(answered[text_id])]}]
        if proba is not None:
            chosen = ([labels[k] for k in np.flatnonzero(proba[r] >= 0.5)] if multi
                      else [labels[int(proba[r].argmax())]])
            task["predictions"] = [{"model_version": "bertclf-label", "result": [_choices(chosen)],
                                    "score": round(float(proba[r].max()), 4)}]
        tasks.append(task)
    return tasks


def _choices(labels: list[str]) -> dict[str, Any]:
    return {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": list(labels)}}


def import_label_studio(db: str | os.PathLike[str], tasks: list[dict[str, Any]]) -> dict[str, int]:
    """Answers from a Label Studio JSON export (tasks with ``data.text`` and ``annotations``, each
    ``result`` of type ``choices``) into DB, as the annotator ``label-studio:<who>``; texts DB does
    not hold yet are added. Counts: imported, already there, without a choice."""
    from bertclf.errors import InputError

    store = LabelStore.open(db)
    counts = {"imported": 0, "unchanged": 0, "unlabelled": 0}
    try:
        answered = store.answered()
        for n, task in enumerate(tasks):
            text = (task.get("data") or {}).get("text") if isinstance(task, dict) else None
            if not isinstance(text, str):
                raise InputError(f"task {n + 1} of the Label Studio export has no data.text")
            choices = [c for a in task.get("annotations") or [] if not a.get("was_cancelled")
                       for r in a.get("result") or [] if r.get("type") == "choices"
                       for c in (r.get("value") or {}).get("choices") or []]
            if not choices:
                counts["unlabelled"] += 1
                continue
            unknown = [c for c in choices if c not in store.labels]
            if unknown:
                raise InputError(f"task {n + 1} of the Label Studio export has the label {unknown[0]!r}, "
                                 f"which {os.fspath(db)} does not know (its labels: "
                                 f"{', '.join(store.labels)})")
            text_id = store.add_text(text)
            if answered.get(text_id) == sorted(set(choices)):
                counts["unchanged"] += 1
                continue
            who = (task.get("annotations") or [{}])[0].get("completed_by")
            store.answer(text_id, sorted(set(choices)) if store.multi_label else choices[:1],
                         f"label-studio:{who}" if who is not None else "label-studio")
            counts["imported"] += 1
    finally:
        store.close()
    return counts
