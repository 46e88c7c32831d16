"""Classifiers on frozen features: ``TextClassifier`` and its heads, TF-IDF and the hybrid, scaling,
metadata and joined vectors, the long-text guide, calibration, multi-label thresholds, choosing C,
explanations, and the one feature assembly that training and the --auto search share."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"TextClassifier": "classifier", "Calibrator": "calibration", "assemble": "assembly",
            "export": "self_contained", "why_unsupported": "compatibility", "Explanation": "explain"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
