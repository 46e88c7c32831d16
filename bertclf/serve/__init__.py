"""``bertclf serve``: trained model folders behind an HTTP API (FastAPI under uvicorn)."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"create_app": "app", "load_models": "catalog"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
