"""bertclf: BERT embeddings and the classifiers built on them."""

from .embedder import Embedder
from .errors import BertclfError, BertclfWarning

__version__ = "0.1.0"
__all__ = ["BertclfError", "BertclfWarning", "Embedder", "__version__"]
