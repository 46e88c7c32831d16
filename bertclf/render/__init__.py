"""Everything for human eyes: console reports, figures (confusion matrix, reliability diagram,
comparison), 2-D maps as pictures or SVG, and the one-page HTML report."""

from bertclf._lazy import lazy_exports

_EXPORTS = {
    "print_report": "console", "print_holdout": "console", "print_leaderboard": "console",
    "print_comparison": "console",
    "save_figure": "figures", "confusion_figure": "figures", "plot_comparison": "figures",
    "plot_map": "maps", "build_report": "report",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
