"""Figures for people: the confusion matrix, per-label scores, the reliability diagram and the
comparison chart (matplotlib), saved to a file or inlined as SVG."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from bertclf.io.files import atomic_path


def reliability_figure(calibration: dict[str, Any], title: str = "") -> Any:
    """Accuracy against confidence per bin (a calibrated model sits on the diagonal), with how
    many predictions each bin holds below it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = calibration["bins"]
    mids = [(r["low"] + r["high"]) / 2 for r in rows]
    width = rows[0]["high"] - rows[0]["low"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6.2), dpi=110, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    top.bar(mids, [r["accuracy"] for r in rows], width=width * 0.95, color="#4c72b0",
            label="accuracy in the bin")
    top.plot([0, 1], [0, 1], "--", color="#555555", label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.legend(loc="upper left", frameon=False)
    head = f"ECE {calibration['ece']:.4f}"
    top.set_title(f"{wrap_title(title, fig.get_figwidth())}\n{head}" if title else head, fontsize=10)
    bottom.bar(mids, [r["count"] for r in rows], width=width * 0.95, color="#999999")
    bottom.set_xlabel("confidence (the top label's probability)")
    bottom.set_ylabel("texts")
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    return fig


PLOT_FORMATS = (".png", ".svg", ".pdf")


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


def plot_comparison(rows: list[dict[str, Any]], path: str | os.PathLike[str], title: str = "") -> None:
    """Three panels: accuracy and macro-F1, train time (log scale), predict texts/s (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    names = [r["description"] for r in rows]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 3, figsize=(13, 1.1 * len(rows) + 1.8), sharey=True)
    ax = axes[0]
    ax.barh(y - 0.2, [r["accuracy"] for r in rows], height=0.4, label="accuracy", color="#3b75af")
    ax.barh(y + 0.2, [r["macro_f1"] for r in rows], height=0.4, label="macro-F1", color="#9ecae1")
    low = min(min(r["accuracy"], r["macro_f1"]) for r in rows)
    ax.set_xlim(max(0.0, low - 0.1), 1.0)
    for i, r in enumerate(rows):
        ax.text(r["accuracy"], i - 0.2, f" {r['accuracy']:.3f}", va="center", fontsize=8)
        ax.text(r["macro_f1"], i + 0.2, f" {r['macro_f1']:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("score on the test texts")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    for ax, key, label in ((axes[1], "train_seconds", "train time (s, log scale)"),
                           (axes[2], "predict_texts_per_second", "predict texts/s (log scale)")):
        values = [max(r[key], 1e-3) for r in rows]
        ax.barh(y, values, height=0.5, color="#e6550d" if key == "train_seconds" else "#31a354")
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 3, max(values) * 8)
        for i, value in enumerate(values):
            text = f"{value:,.0f}" if key != "train_seconds" else f"{value:.2g} s" if value < 10 \
                else f"{value:,.0f} s"
            ax.text(value, i, " " + text, va="center", fontsize=8)
        ax.set_xlabel(label)
    if title:
        fig.suptitle(title, fontsize=11)
    save_figure(fig, path)


def wrap_title(title: str, width_inches: float) -> str:
    """A long title broken between words (at ' on ' first), never inside a file name."""
    import textwrap

    chars = max(30, int(width_inches * 9))
    if len(title) <= chars:
        return title
    head, sep, tail = title.partition(" on ")
    if sep and len(head) <= chars and len(tail) + 3 <= chars:
        return f"{head}\non {tail}"
    return "\n".join(textwrap.wrap(title, chars, break_long_words=False, break_on_hyphens=False))
