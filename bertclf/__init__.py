"""bertclf: BERT embeddings and the classifiers built on them."""

__version__ = "0.1.0"

from .classifier import TextClassifier  # noqa: E402 - needs __version__
from .embedder import Embedder  # noqa: E402
from .errors import BertclfError, BertclfWarning  # noqa: E402

__all__ = ["BertclfError", "BertclfWarning", "Embedder", "FineTuner", "TextClassifier", "__version__"]


def __getattr__(name: str) -> object:
    """``FineTuner`` imports torch at once; load it on first use so ``import bertclf`` stays light."""
    if name == "FineTuner":
        from .finetune import FineTuner

        return FineTuner
    raise AttributeError(f"module 'bertclf' has no attribute {name!r}")
