"""The settings a ``TextClassifier`` takes and their defaults, in one place that both the
classifier and its model folder (``persist``) read."""

from __future__ import annotations

HEADS = ("logreg", "svm", "xgboost", "mlp")  # fitted on frozen embeddings
TFIDF_KINDS = ("word", "word+char")
FEATURES = ("embedding", "tfidf", "hybrid")
# Measured on seven real sets (benchmarks/defaults.py, docs/results.md): the hybrid beat frozen
# embeddings on all seven and TF-IDF on six; C = 10 averaged 0.16 points more but lost 1.2 on one.
DEFAULT_FEATURES = "hybrid"
DEFAULT_C: float | str = 1.0
DEFAULT_SCALING = "none"
SCALINGS = ("none", "l2", "standard")
APPROACH = {"embedding": "frozen", "tfidf": "tfidf", "hybrid": "hybrid"}  # config.json's "approach"
EMBEDDER_KEYS = ("model", "pooling", "layers", "layer_agg", "max_length", "normalize", "long", "head_tokens",
                 "stride", "chunk_agg")
