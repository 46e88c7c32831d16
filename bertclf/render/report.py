"""One self-contained HTML page about a model on labelled texts: the metrics, per-class F1, the
confusion matrix, a 2-D map of the test embeddings with the mistakes marked, and the most
confidently wrong examples (often label noise worth a look). Pictures are inline SVG; the page
loads nothing from the network.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from bertclf.evaluate.metrics import evaluate_model, evaluate_proba
from bertclf.explore.reduction import project_2d
from bertclf.render.console import ECE_MEANING, ece_hint
from bertclf.render.figures import confusion_figure, figure_svg, label_scores_figure, reliability_figure
from bertclf.render.maps import html_page, map_svg

MAP_SAMPLE = 3000  # t-SNE on more points takes minutes on a small CPU; a seeded sample is drawn
WRONG_SHOWN = 20


def build_report(model: Any, X: Any, y: Any, title: str, seed: int = 13) -> tuple[str, dict[str, Any]]:
    """(the HTML page, the metrics report) for ``model`` on (X, y)."""
    if model.task == "multi-label":
        report = evaluate_model(model, X, y)
        return html_page("\n".join(_summary(report)), title), report
    proba = model.predict_proba(X)  # once: the metrics, the map's crosses and the table share it
    report = evaluate_proba(model, proba, y)
    sections = _summary(report) + ["<h2>Confusion matrix</h2>", figure_svg(confusion_figure(report)),
                                   "<h2>Calibration</h2>", f"<p class='note'>{html.escape(ECE_MEANING)}</p>",
                                   figure_svg(reliability_figure(report["calibration"]))]
    return html_page("\n".join(sections + _map_and_mistakes(model, X, y, proba, seed)), title), report


def _summary(report: dict[str, Any]) -> list[str]:
    return [_metrics_table(report), "<h2>Scores per class</h2>", figure_svg(label_scores_figure(report))]


def _metrics_table(report: dict[str, Any]) -> str:
    keys = [k for k in ("n", "accuracy", "macro_f1", "weighted_f1", "micro_f1", "mean_roc_auc",
                        "subset_accuracy", "hamming_loss", "ece") if report.get(k) is not None]
    cells = "".join(f"<tr><th class='text'>{'ECE' if k == 'ece' else k.replace('_', ' ')}</th><td>"
                    f"{report[k] if k == 'n' else f'{report[k]:.4f}'}</td>"
                    f"{_ece_note(report) if k == 'ece' else ''}</tr>" for k in keys)
    unseen = report.get("unseen_labels") or {}
    note = (f"<p class='note'>Test labels the model never saw (always counted wrong): "
            f"{html.escape(', '.join(f'{k} ({v})' for k, v in unseen.items()))}</p>") if unseen else ""
    return f"<h2>Metrics</h2><table>{cells}</table>{note}"


def _ece_note(report: dict[str, Any]) -> str:
    return f"<td class='text note'>{html.escape(ece_hint(report))}</td>"


def _map_and_mistakes(model: Any, X: Any, y: Any, proba: np.ndarray, seed: int) -> list[str]:
    texts = model.input_texts(X)
    truth = np.asarray([str(v) for v in y])
    classes = np.asarray([str(c) for c in model.classes_])
    predicted = classes[proba.argmax(axis=1)]
    wrong = predicted != truth
    rows = np.arange(len(texts))
    note = ""
    if len(rows) > MAP_SAMPLE:
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), MAP_SAMPLE, replace=False))
        note = f"<p class='note'>A seeded sample of {MAP_SAMPLE:,} of the {len(texts):,} texts.</p>"
    out = []
    if len(rows) >= 3:
        coords, method = project_2d(model.transform(_take(X, rows)), seed)
        out += ["<h2>Map of the test embeddings</h2>",
                f"<p class='note'>Coloured by true label ({method}); crosses are misclassified texts.</p>",
                note, map_svg(coords, truth[rows].tolist(), [texts[i] for i in rows], method, "true label",
                              wrong[rows])]
    index = {c: j for j, c in enumerate(classes)}
    confidence = proba.max(axis=1)
    order = [i for i in np.argsort(-confidence, kind="stable") if wrong[i]][:WRONG_SHOWN]
    reasons = _reasons(model, _take(X, np.asarray(order, dtype=int)) if order else [])
    lines = ["<tr><th class='text'>text (the words behind the prediction marked)</th><th>true</th>"
             "<th>predicted</th><th>confidence</th><th>p(true)</th></tr>"]
    for i, why in zip(order, reasons or [None] * len(order), strict=True):
        p_true = f"{proba[i, index[truth[i]]]:.3f}" if truth[i] in index else "unseen"
        lines.append(f"<tr><td class='text'>{marked(texts[i][:400], why)}</td>"
                     f"<td>{html.escape(truth[i])}</td><td>{html.escape(predicted[i])}</td>"
                     f"<td>{confidence[i]:.3f}</td><td>{p_true}</td></tr>")
    if not wrong.any():
        return [*out, "<h2>Mistakes</h2>",
                f"<p>No mistakes: all {len(texts):,} texts got their true label.</p>"]
    out += [f"<h2>The most confidently wrong ({len(order)} of {int(wrong.sum())} mistakes)</h2>",
            "<p class='note'>Texts the model got wrong while most sure of itself: often a wrong or "
            "ambiguous label rather than a model error.</p>", f"<table>{''.join(lines)}</table>"]
    return out


def _reasons(model: Any, X: Any) -> list[Any] | None:
    """Each text's explanation of its predicted label (``explain``), or None where the model
    has none (joined vectors): the report then shows the texts alone."""
    from bertclf.errors import SpecError

    if not len(X) or not hasattr(model, "explain"):
        return None
    try:
        return [found[0] for found in model.explain(X, k=3)]
    except SpecError:
        return None


def marked(text: str, why: Any) -> str:
    """``text`` as HTML with the explanation's words marked: green toward the predicted label,
    red against it, the weight on hover."""
    if why is None:
        return html.escape(text)
    words = sorted((w for w in why.toward + why.against if w.get("end", len(text) + 1) <= len(text)
                    and w.get("side", "text") == "text"), key=lambda w: w["start"])
    out, at = [], 0
    for w in words:
        if w["start"] < at:
            continue
        side = "toward" if w["weight"] > 0 else "against"
        out += [html.escape(text[at:w["start"]]),
                f"<mark class='{side}' title='{w['weight']:+.3f} {side} {html.escape(why.label)}'>"
                f"{html.escape(text[w['start']:w['end']])}</mark>"]
        at = w["end"]
    return "".join([*out, html.escape(text[at:])])


def _take(X: Any, rows: np.ndarray) -> Any:
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    return [X[i] for i in rows]
