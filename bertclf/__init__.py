"""bertclf: BERT embeddings and the classifiers built on them."""

__version__ = "0.1.0"

from .classifier import TextClassifier  # noqa: E402 - needs __version__
from .embedder import Embedder  # noqa: E402
from .errors import BertclfError, BertclfWarning  # noqa: E402

__all__ = ["BertclfError", "BertclfWarning", "Embedder", "TextClassifier", "__version__"]
