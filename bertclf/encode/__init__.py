"""Text to vectors: where an encoder comes from, WordPiece tokenization and long-text strategies,
pooling, the runtimes (torch, ONNX Runtime fp32 and int8) with the ONNX export, the ``Embedder``,
the in-process memo and the persistent embedding cache, streaming files of any size, and Ray."""

from bertclf._lazy import lazy_exports

_EXPORTS = {
    "Embedder": "embedder", "embed_file": "streaming", "embed_with_ray": "ray_embed",
    "DEFAULT_MODEL": "sources", "load_tokenizer": "sources", "explain": "tokenization",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
