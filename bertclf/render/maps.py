"""2-D maps of the embedding space: a static PNG (matplotlib) and a self-contained HTML page
(inline SVG: hovering a point shows its text; no script, no CDN, works offline).

The projection is UMAP when umap-learn is installed; otherwise PCA to 50 dimensions, then t-SNE,
scikit-learn's standard recipe for text embeddings.
"""

from __future__ import annotations

import html
import os
from typing import Any

import numpy as np

MAP_FORMATS = (".png", ".svg", ".pdf", ".html")


MAX_LEGEND = 20  # groups shown by name; the rest are drawn grey as 'other'


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5"]


def _groups(values: list[Any]) -> tuple[list[str], list[str], dict[str, str]]:
    """Group name per point, the legend order (largest first), and a colour per group."""
    names = ["(none)" if v is None else str(v) for v in values]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    order = sorted(counts, key=lambda n: (-counts[n], n))
    shown = order[:MAX_LEGEND]
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(shown)}
    if len(order) > MAX_LEGEND:
        names = [n if n in colours else f"other ({len(order) - MAX_LEGEND} groups)" for n in names]
        colours[f"other ({len(order) - MAX_LEGEND} groups)"] = "#bbbbbb"
        shown.append(f"other ({len(order) - MAX_LEGEND} groups)")
    return names, shown, colours


def plot_map(coords: np.ndarray, groups: list[Any], texts: list[Any], path: str | os.PathLike[str],
             title: str = "", method: str = "", colour_by: str = "group",
             mistakes: np.ndarray | None = None) -> None:
    """A PNG/SVG/PDF scatter, or with a .html suffix the hoverable page; ``mistakes`` (booleans)
    are drawn as crosses."""
    if str(path).lower().endswith(".html"):
        from bertclf.io.files import atomic_path

        page = html_page(map_svg(coords, groups, texts, method, colour_by, mistakes), title)
        with atomic_path(path) as tmp:
            tmp.write_text(page, encoding="utf-8")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bertclf.render.figures import save_figure

    names, shown, colours = _groups(groups)
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    size = 14 if len(coords) <= 2000 else 5
    labels = np.asarray(names)
    wrong = np.zeros(len(coords), bool) if mistakes is None else np.asarray(mistakes, bool)
    for name in shown:
        rows = (labels == name) & ~wrong
        ax.scatter(coords[rows, 0], coords[rows, 1], s=size, c=colours[name], alpha=0.75, linewidths=0,
                   label=f"{name} ({int((labels == name).sum())})")
    if wrong.any():
        ax.scatter(coords[wrong, 0], coords[wrong, 1], s=size * 2.5, c=[colours[n] for n in labels[wrong]],
                   marker="x", linewidths=1.2, label=f"misclassified ({int(wrong.sum())})")
    ax.set_xlabel(f"{method} 1" if method else "dimension 1")
    ax.set_ylabel(f"{method} 2" if method else "dimension 2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(title=colour_by, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title_fontsize=9,
              markerscale=1.5, frameon=False)
    ax.set_title(title or f"{len(coords)} texts, {method}", fontsize=11)
    save_figure(fig, path)


def map_svg(coords: np.ndarray, groups: list[Any], texts: list[Any], method: str = "",
            colour_by: str = "group", mistakes: np.ndarray | None = None, width: int = 900,
            height: int = 620) -> str:
    """An inline SVG scatter with a legend; each point's <title> (its group and text) shows on hover."""
    names, shown, colours = _groups(groups)
    plot_w, pad = width - 230, 30
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    xy = pad + (coords - low) / span * np.array([plot_w - 2 * pad, height - 2 * pad])
    wrong = np.zeros(len(coords), bool) if mistakes is None else np.asarray(mistakes, bool)
    radius = 3.5 if len(coords) <= 2000 else 2.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" font-family="sans-serif" font-size="12">',
             f'<rect x="0" y="0" width="{plot_w}" height="{height}" fill="#fafafa" stroke="#ddd"/>']
    for i, ((x, y), name) in enumerate(zip(xy, names, strict=True)):
        text = "" if texts[i] is None else str(texts[i])
        tip = html.escape(f"{name}{' (misclassified)' if wrong[i] else ''}: {text[:300]}")
        y = height - y
        if wrong[i]:
            d = radius * 1.6
            parts.append(f'<path d="M{x - d:.1f},{y - d:.1f}L{x + d:.1f},{y + d:.1f}M{x - d:.1f},'
                         f'{y + d:.1f}L{x + d:.1f},{y - d:.1f}" stroke="{colours[name]}" stroke-width="2">'
                         f'<title>{tip}</title></path>')
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colours[name]}" '
                         f'fill-opacity="0.75"><title>{tip}</title></circle>')
    parts.append(f'<text x="{plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle" fill="#555">'
                 f'{html.escape(method or "dimension")} 1</text>')
    parts.append(f'<text x="12" y="{height / 2:.0f}" text-anchor="middle" fill="#555" '
                 f'transform="rotate(-90 12 {height / 2:.0f})">{html.escape(method or "dimension")} 2</text>')
    parts.append(f'<text x="{plot_w + 15}" y="24" font-weight="bold">{html.escape(colour_by)}</text>')
    counts = {n: names.count(n) for n in shown}
    for j, name in enumerate(shown):
        y = 46 + 20 * j
        parts.append(f'<circle cx="{plot_w + 22}" cy="{y - 4}" r="5" fill="{colours[name]}"/>'
                     f'<text x="{plot_w + 34}" y="{y}">{html.escape(name[:26])} ({counts[name]})</text>')
    if wrong.any():
        y = 46 + 20 * len(shown)
        parts.append(f'<path d="M{plot_w + 17},{y - 9}l10,10m-10,0l10,-10" stroke="#333" stroke-width="2"/>'
                     f'<text x="{plot_w + 34}" y="{y}">misclassified ({int(wrong.sum())})</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def html_page(body: str, title: str) -> str:
    """A self-contained page (inline CSS, no external resources)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #ddd; padding: 4px 8px; text-align: right; }}
td.text, th.text {{ text-align: left; max-width: 640px; }}
.note {{ color: #666; font-size: 0.9em; }}
mark {{ border-radius: 3px; padding: 0 1px; color: inherit; }}
mark.toward {{ background: rgba(18, 183, 106, .35); }} mark.against {{ background: rgba(240, 68, 56, .3); }}
circle:hover, path:hover {{ stroke: #000; stroke-width: 1.5; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Hover a point to read its text. Made by bertclf; this page needs no network.</p>
{body}
</body></html>
"""
