"""Predicting with a self-contained model folder and nothing of the training stack: numpy, ONNX
Runtime and tokenizers (``pip install bertclf``); ``bertclf[train]`` adds what training needs."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"Model": "model", "load": "model", "open_model": "model", "is_self_contained": "model",
            "export": "export", "predict_with_ray": "distributed"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
