"""bertclf: BERT embeddings and the classifiers built on them.

The public API. Names load on first use (PEP 562), so ``import bertclf`` and ``bertclf --help``
import neither torch nor scikit-learn."""

from bertclf import _removed
from bertclf._lazy import lazy_exports
from bertclf._version import __version__

_EXPORTS = {
    "TextClassifier": "classify.classifier", "Embedder": "encode.embedder", "FineTuner": "finetune.finetuner",
    "FewShot": "finetune.fewshot", "train_model": "search.training",
    "BertclfError": "errors", "BertclfWarning": "errors",
}
__all__ = [*sorted(_EXPORTS), "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
_removed.install()
