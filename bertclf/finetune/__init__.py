"""Fine-tuning the encoder: end to end with ``FineTuner`` (a scikit-learn classifier), its training
loop and checkpoints for --resume; contrastively for a few texts per class with ``FewShot``."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"FineTuner": "finetuner", "FewShot": "fewshot"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
