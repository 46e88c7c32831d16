"""Fine-tuning the encoder end to end: ``FineTuner`` (a scikit-learn classifier), its training
loop, and checkpoints for --resume."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"FineTuner": "finetuner"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
