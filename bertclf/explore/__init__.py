"""Texts without labels: clustering, zero-shot categories from keywords, the Embedding Projector
export, and 2-D projections for maps."""

from bertclf._lazy import lazy_exports

_EXPORTS = {
    "cluster": "clustering", "ZeroShot": "zeroshot", "read_categories": "zeroshot",
    "write_projector": "tensorboard", "project_2d": "reduction",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
