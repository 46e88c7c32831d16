"""bertclf: BERT embeddings and the classifiers built on them."""

from bertclf._version import __version__
from bertclf.classify.classifier import TextClassifier
from bertclf.encode.embedder import Embedder
from bertclf.errors import BertclfError, BertclfWarning

__all__ = ["BertclfError", "BertclfWarning", "Embedder", "FineTuner", "TextClassifier", "__version__"]


def __getattr__(name: str) -> object:
    """``FineTuner`` imports torch at once; load it on first use so ``import bertclf`` stays light."""
    if name == "FineTuner":
        from bertclf.finetune.finetuner import FineTuner

        return FineTuner
    raise AttributeError(f"module 'bertclf' has no attribute {name!r}")
