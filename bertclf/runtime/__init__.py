"""Predicting with a self-contained model folder and nothing of the training stack: numpy, ONNX
Runtime and tokenizers (``pip install bertclf``); ``bertclf[train]`` adds what training needs."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"Model": "model", "load": "model", "open_model": "model", "is_self_contained": "model",
            "predict_with_ray": "ray_predict"}
__all__ = sorted(_EXPORTS)
# export needs the training stack, so 0.4 moved it to the training side; the old name still works.
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, moved={"export": "bertclf.classify"})
