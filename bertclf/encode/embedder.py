"""``Embedder``: texts in, one float32 vector per text out, as a scikit-learn transformer.

Only settings are estimator parameters; the encoder itself is loaded lazily from a per-process
cache (see ``backends``), so ``clone``, ``GridSearchCV`` and pickling never copy weights.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from bertclf.encode import sources as models
from bertclf.encode.backends import EncoderBackend, get_backend, resolve_backend
from bertclf.encode.disk_cache import open_cache, setting_id, text_keys
from bertclf.encode.inputs import as_inputs, as_text_list, clean_pairs, split_inputs  # noqa: F401 - API
from bertclf.encode.pipeline import Settings, embed_rows
from bertclf.encode.pooling import LayerSpec, check_layer_agg, check_pooling, resolve_layers
from bertclf.encode.tokenization import check_long, report_cut
from bertclf.errors import SpecError
from bertclf.io.files import clean_texts
from bertclf.progress import Advance, progress_bar

BLOCK = 4096  # texts embedded (and cached) at a time
DEFAULT_POOLING = "mean"  # for models without a sentence-transformers config (Reimers & Gurevych)


class Embedder(TransformerMixin, BaseEstimator):
    """Embed texts with a BERT-family encoder.

    Parameters
    ----------
    model: bundled all-MiniLM-L6-v2 by default; any Hugging Face id or local model folder.
    pooling: "cls", "mean" or "max"; None follows the model's sentence-transformers config
        (mean when it has none). Padding never counts.
    layers: which hidden states to use: -1, "-4..-1", "all", [0, 6], ... (0 = embedding output).
    layer_agg: "mean" averages the layers, "concat" joins them (dim × number of layers).
    max_length: tokens kept per text; None follows the model (its sentence-transformers
        max_seq_length, else its position limit).
    normalize: L2-normalise the vectors; None follows the model's config.
    long: texts longer than max_length: "truncate" (keep the start, warn with the count),
        "head-tail" (the first ``head_tokens`` and the rest of the budget from the end),
        "chunk" (windows every ``stride`` tokens, pooled, then combined by ``chunk_agg``: mean
        or max), or "guide" (informative sentences, learned from labels by TextClassifier).
    head_tokens: head-tail's start; None is a quarter of the budget (128 + 382 at 512 tokens).
    stride: chunk's step between windows; None is half a window.
    batch_size: texts per encoder call; None: 16 with ONNX Runtime (measured faster than 32 on a
        CPU: activations stay in cache), 32 with torch.
    device: "auto", "cpu" or "cuda".
    backend: "auto" (onnx-int8 on a CPU when ONNX Runtime is installed, else torch), "torch",
        "onnx" (ONNX Runtime fp32, same vectors to 1e-6) or "onnx-int8" (smoothed dynamic int8, one
        text per call: fastest, the same vector in any batch, cosine to fp32 0.995); see
        docs/performance.md for the measurements behind "auto".
    dtype: "fp32" or "bf16" (torch autocast; on a CPU with AVX-512 BF16 or a GPU).
    threads: CPU threads (torch's are process-wide; onnx-int8 runs this many texts side by side);
        None keeps the runtime's default (every core).
    cache: keep vectors on disk and reuse them: False (the default in Python), True (the cache
        folder: $BERTCLF_CACHE or ~/.cache/bertclf) or a folder. See ``encode.disk_cache``.
    strict: refuse empty or missing texts instead of embedding them as "".
    progress: show a progress bar; None shows one only when stderr is a terminal.
    """

    def __init__(
        self,
        model: str = models.DEFAULT_MODEL,
        pooling: str | None = None,
        layers: LayerSpec = -1,
        layer_agg: str = "mean",
        max_length: int | None = None,
        batch_size: int | None = None,
        normalize: bool | None = None,
        long: str = "truncate",
        head_tokens: int | None = None,
        stride: int | None = None,
        chunk_agg: str = "mean",
        device: str = "auto",
        backend: str = "auto",
        dtype: str = "fp32",
        threads: int | None = None,
        cache: bool | str = False,
        strict: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.model = model
        self.pooling = pooling
        self.layers = layers
        self.layer_agg = layer_agg
        self.max_length = max_length
        self.batch_size = batch_size
        self.normalize = normalize
        self.long = long
        self.head_tokens = head_tokens
        self.stride = stride
        self.chunk_agg = chunk_agg
        self.device = device
        self.backend = backend
        self.dtype = dtype
        self.threads = threads
        self.cache = cache
        self.strict = strict
        self.progress = progress

    def settings(self) -> Settings:
        """Check every parameter against the model (config only, no weights) and resolve defaults."""
        source = models.resolve(self.model)
        config = models.load_config(source)
        defaults = models.model_defaults(source)
        pooling = check_pooling(self.pooling or defaults.pooling or DEFAULT_POOLING)
        layer_agg = check_layer_agg(self.layer_agg)
        num_layers = int(config.num_hidden_layers)
        layers = tuple(resolve_layers(self.layers, num_layers))
        max_length = models.check_max_length(source, self.max_length, defaults.max_length)
        for name in ("batch_size", "threads"):
            value = getattr(self, name)
            if value is not None and not _positive_int(value):
                raise SpecError(f"{name} must be a positive integer, got {value!r}")
        normalize = defaults.normalize if self.normalize is None else bool(self.normalize)
        resolve_backend(self.backend, self.device, self.dtype)
        if not isinstance(self.cache, (bool, str, os.PathLike)):
            raise SpecError(f"cache must be True, False or a folder, got {self.cache!r}")
        long = check_long(self.long, max_length, self.head_tokens, self.stride, self.chunk_agg)
        return Settings(source, pooling, layers, layer_agg, max_length, normalize,
                        num_layers, int(config.hidden_size), long)

    def fit(self, X: Any = None, y: Any = None) -> Embedder:
        """Nothing to learn; checks the parameters so mistakes surface before a long run."""
        self.settings()
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embed texts (list, array, Series or one-column DataFrame), or sentence pairs (a list
        of (a, b) tuples or a two-column DataFrame), into (n, dim) float32."""
        texts, pairs = as_inputs(X)
        texts = clean_texts(texts, strict=self.strict)
        return self.encode_texts(texts, None if pairs is None else clean_pairs(pairs))

    def encode_texts(self, texts: list[str], pairs: list[str] | None = None,
                     advance: Advance | None = None) -> np.ndarray:
        """Embed strings already checked by ``clean_texts`` (no second report of empty ones);
        with ``cache`` on, only texts the cache lacks reach the encoder. ``advance`` drives a
        caller's progress bar instead of a bar of its own."""
        s = self.settings()
        if s.long.mode == "guide":
            raise SpecError("--long guide learns which sentences matter from labelled texts: use it "
                            "with train or finetune (TextClassifier / FineTuner), not on its own")
        out = np.empty((len(texts), s.dim), dtype=np.float32)
        if not texts:
            return out
        store = open_cache(None if self.cache is True else self.cache) if self.cache else None
        todo = np.arange(len(texts))
        own_bar = progress_bar(len(texts), "embedding", self.progress)
        with own_bar if advance is None else nullcontext(advance) as advance:
            if store is not None:
                description = self.cache_setting(s)
                setting = setting_id(description)
                keys = text_keys(setting, texts, pairs)
                found = store.get_many(keys, s.dim)
                todo = np.asarray([i for i, key in enumerate(keys) if key not in found], dtype=np.int64)
                for i, key in enumerate(keys):
                    if key in found:
                        out[i] = found[key]
                advance(len(texts) - len(todo))
            cut = 0
            for start in range(0, len(todo), BLOCK):  # blocks: an interrupted run keeps its work
                rows = todo[start:start + BLOCK]
                block, truncated = self._embed(s, [texts[i] for i in rows],
                                               None if pairs is None else [pairs[i] for i in rows], advance)
                out[rows] = block
                cut += truncated
                if store is not None:
                    store.put_many(setting, description, [keys[i] for i in rows], block)
        report_cut(cut, len(texts), s.max_length, s.long.mode, pairs is not None)
        return out

    def _embed(self, s: Settings, texts: list[str], pairs: list[str] | None,
               advance: Any) -> tuple[np.ndarray, int]:
        """(vectors, texts cut) for texts through the encoder: token-sorted batches, pooled."""
        encoder = self.load_encoder()
        return embed_rows(s, models.load_tokenizer(s.source), encoder, texts, pairs,
                          self.batch_size or default_batch_size(encoder.name), advance)

    def cache_setting(self, s: Settings | None = None) -> dict[str, Any]:
        """What a cached vector depends on besides its text: the encoder's weights and every
        setting that changes the numbers (not batch size, threads or progress)."""
        s = s or self.settings()
        backend = resolve_backend(self.backend, self.device, self.dtype)
        # onnx-int8 vectors before bertclf 0.3 came from batched runs (they moved with their batch),
        # on CPUs without VNNI from saturating int8 products, and before 0.5 from sessions that
        # fused each residual Add and LayerNorm (up to 0.013 apart): naming the scheme keeps those
        # apart from today's.
        scheme = ({"int8_runs": "one text per call, exact products, unfused layer norms"}
                  if backend == "onnx-int8" else {})
        return {"model": s.source.spec, "weights": models.weights_digest(s.source), **scheme,
                "backend": backend, "dtype": self.dtype,
                "pooling": s.pooling, "layers": list(s.layers), "layer_agg": s.layer_agg,
                "max_length": s.max_length, "normalize": s.normalize, "long": asdict(s.long)}

    def load_encoder(self) -> EncoderBackend:
        """Load the encoder now (it is shared per process) instead of at the first transform."""
        backend = resolve_backend(self.backend, self.device, self.dtype)
        if self.threads and backend == "torch":
            import torch

            torch.set_num_threads(int(self.threads))
        return get_backend(backend, models.resolve(self.model), self.device, self.dtype, self.threads)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"emb{i}" for i in range(self.settings().dim)], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags


def default_batch_size(backend: str) -> int:
    return 16 if backend.startswith("onnx") else 32


def _positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1
