"""Evaluation reports: the numbers (accuracy, macro-F1, per-class scores, confusion matrix), a
readable table, JSON, and a confusion-matrix picture.

Labels are compared by their text, so a model trained on the labels 0/1 from JSON scores
correctly on the "0"/"1" of a CSV file. Test labels the model never saw are kept: they appear in
the table and the matrix (always wrong, by necessity) and are listed, rather than crashing.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np

from .figures import wrap_title
from .textio import atomic_path

PLOT_FORMATS = (".png", ".svg", ".pdf")


def evaluate_predictions(y_true: Any, y_pred: Any, classes: Any,
                         macro_over_truth: bool = False) -> dict[str, Any]:
    """A JSON-ready report of predictions ``y_pred`` against ``y_true`` for a model with ``classes``.

    ``macro_over_truth`` averages macro-F1 over the labels the truth has: for a predicted-only
    class such as zero-shot's 'other', whose F1 is 0 by definition and says nothing new."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    known = [str(c) for c in classes]
    truth = [str(v) for v in y_true]
    pred = [str(v) for v in y_pred]
    known_set = set(known)
    unseen = Counter(t for t in truth if t not in known_set)
    present = set(truth) | set(pred)
    labels = [c for c in known if c in present] + sorted(unseen)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=labels, zero_division=0)
    return {
        "n": len(truth),
        "accuracy": float(accuracy_score(truth, pred)),
        "macro_f1": float(np.mean(f1[support > 0] if macro_over_truth else f1)) if support.sum() else 0.0,
        "weighted_f1": float(np.average(f1, weights=support)) if support.sum() else 0.0,
        "per_class": [
            {"label": label, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ],
        "confusion_matrix": {"labels": labels,
                             "matrix": confusion_matrix(truth, pred, labels=labels).tolist()},
        "unseen_labels": dict(unseen.most_common()),
    }


def evaluate_model(model: Any, X: Any, y: Any) -> dict[str, Any]:
    """The report of a fitted model on (X, y), single- or multi-label as the model is."""
    if not getattr(model, "multilabel_", False):
        from .calibration import reliability

        proba = model.predict_proba(X)
        report = evaluate_predictions(y, model.classes_[np.argmax(proba, axis=1)], model.classes_)
        index = {str(c): i for i, c in enumerate(model.classes_)}
        report["calibration"] = reliability(proba, np.array([index.get(str(v), -1) for v in y]))
        report["ece"] = report["calibration"]["ece"]
        report["calibrated"] = getattr(model, "calibrate", None)
        return report
    from .multilabel import evaluate_multilabel, truth_matrix

    truth, unseen = truth_matrix(y, model.classes_)
    proba = model.predict_proba(X)
    return evaluate_multilabel(truth, (proba >= model.thresholds_).astype(int), proba, model.classes_, unseen)


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a model folder keeps from a report."""
    keys = ("n", "micro_f1", "macro_f1", "mean_roc_auc", "subset_accuracy", "hamming_loss") \
        if report.get("task") == "multi-label" else ("n", "accuracy", "macro_f1", "weighted_f1", "ece")
    return {k: report[k] for k in keys if k in report}


def print_report(report: dict[str, Any], title: str = "evaluation", console: Any = None) -> None:
    """Summary line, per-class table and (for up to 12 classes) the confusion matrix, via rich."""
    if report.get("task") == "multi-label":
        from .multilabel import print_multilabel_report

        return print_multilabel_report(report, title, console)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console(highlight=False)
    ece = f", ECE {report['ece']:.4f}" if "ece" in report else ""
    console.print(f"[bold]{escape(title)}[/]: {report['n']} texts, accuracy {report['accuracy']:.4f}, "
                  f"macro-F1 {report['macro_f1']:.4f}{ece}", soft_wrap=True)
    table = Table(title_justify="left")
    for name in ("label", "precision", "recall", "f1", "support"):
        table.add_column(name, justify="left" if name == "label" else "right")
    for row in report["per_class"]:
        unseen = row["label"] in report["unseen_labels"]
        table.add_row(escape(row["label"]) + (" [dim](unseen)[/]" if unseen else ""),
                      f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                      str(row["support"]))
    if "ece" in report:
        from .calibration import ECE_MEANING, ece_hint

        console.print(f"[dim]{ECE_MEANING}\nECE {report['ece']:.4f}: "
                      f"{ece_hint(report.get('calibrated'))}[/]", soft_wrap=True)
    console.print(table)
    labels, matrix = report["confusion_matrix"]["labels"], report["confusion_matrix"]["matrix"]
    if len(labels) <= 12:
        # the title is a line of its own: as a table title it would wrap at the narrow table's width
        console.print("confusion matrix (rows: true, columns: predicted)", soft_wrap=True)
        cm = Table()
        cm.add_column("")
        for label in labels:
            cm.add_column(escape(label[:12]), justify="right")
        for i, (label, row) in enumerate(zip(labels, matrix, strict=True)):
            cells = [f"[bold]{v}[/]" if i == j and v else str(v) if v else "[dim]0[/]"
                     for j, v in enumerate(row)]
            cm.add_row(escape(label[:20]), *cells)
        console.print(cm)
    else:
        console.print(f"[dim]confusion matrix: {len(labels)} classes; see --json or --plot[/]")
    if report["unseen_labels"]:
        shown = ", ".join(f"{escape(k)} ({v})" for k, v in list(report["unseen_labels"].items())[:10])
        total = sum(report["unseen_labels"].values())
        console.print(f"[yellow]{total} test rows have labels the model never saw: {shown}; "
                      f"they count as errors[/]", soft_wrap=True)


def plot_confusion(report: dict[str, Any], path: str | os.PathLike[str], title: str = "") -> None:
    """Confusion-matrix heat map: colour is the share of each true class, numbers are counts."""
    save_figure(confusion_figure(report, title), path)


def confusion_figure(report: dict[str, Any], title: str = "") -> Any:
    """The confusion-matrix figure (matplotlib), for a file or an HTML report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = report["confusion_matrix"]["labels"]
    counts = np.asarray(report["confusion_matrix"]["matrix"], dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(labels)
    size = min(max(5.0, 0.38 * n + 2.5), 30.0)
    fig, ax = plt.subplots(figsize=(size + 1.2, size), dpi=110 if n <= 40 else 80)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(n)
    shown = [label if len(label) <= 24 else label[:23] + "…" for label in labels]
    ax.set_xticks(ticks, shown, rotation=45 if n <= 12 else 90, ha="right" if n <= 12 else "center",
                  fontsize=9 if n <= 30 else 6)
    ax.set_yticks(ticks, shown, fontsize=9 if n <= 30 else 6)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")
    heading = f"accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}, n = {report['n']}"
    ax.set_title(f"{wrap_title(title, size)}\n{heading}" if title else heading, fontsize=11)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return fig


def plot_label_scores(report: dict[str, Any], path: str | os.PathLike[str], title: str = "") -> None:
    """Precision, recall and F1 per label (or class) as grouped horizontal bars, support beside."""
    save_figure(label_scores_figure(report, title), path)


def label_scores_figure(report: dict[str, Any], title: str = "") -> Any:
    """The per-label (multi-label) or per-class (single-label) scores figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.get("per_label") or report["per_class"]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.42 * n + 1.6)), dpi=110)
    y = np.arange(n)
    for offset, key, color in ((-0.27, "precision", "#9ecae1"), (0.0, "recall", "#4292c6"),
                               (0.27, "f1", "#08306b")):
        ax.barh(y + offset, [r[key] for r in rows], height=0.26, color=color, label=key)
    ax.set_yticks(y, [f"{r['label'][:28]} (n={r['support']})" for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if report.get("task") == "multi-label":
        auc = report["mean_roc_auc"]
        heading = (f"micro-F1 {report['micro_f1']:.3f}, macro-F1 {report['macro_f1']:.3f}, "
                   f"mean ROC-AUC {'n/a' if auc is None else f'{auc:.3f}'}, n = {report['n']}")
    else:
        heading = f"accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}, n = {report['n']}"
    shown = wrap_title(title, fig.get_figwidth())
    ax.set_title(f"{shown}\n{heading}" if title else heading, fontsize=10)
    return fig


def figure_svg(fig: Any) -> str:
    """A figure as inline SVG text (for self-contained HTML), then closed."""
    import io

    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Lay out, write atomically in the format the suffix names (png, svg, pdf), and close."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    suffix = os.path.splitext(str(path))[1].lower()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix.lstrip("."))
    plt.close(fig)
