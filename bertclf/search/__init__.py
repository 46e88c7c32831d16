"""Choosing an approach by measurement: ``train --auto``'s space and search, ``compare``, and the
TF-IDF baseline printed beside every report."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"auto_train": "auto", "search_space": "space", "compare": "comparison",
            "baseline_scores": "baseline"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
