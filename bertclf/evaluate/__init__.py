"""How good a model is, as numbers: single- and multi-label metrics, reliability and ECE, and the
label audit. Nothing here prints or draws (that is ``render``)."""

from bertclf._lazy import lazy_exports

_EXPORTS = {
    "evaluate_model": "metrics", "evaluate_predictions": "metrics", "evaluate_multilabel": "multilabel",
    "reliability": "ece", "audit_labels": "audit",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
