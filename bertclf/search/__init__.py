"""Training as the commands do it (``train_model``, ``finetune_model``: the library calls behind
`train` and `finetune`, with their hold-out report), and choosing an approach by measurement:
``train --auto``'s space and search, ``compare``, and the TF-IDF baseline beside every report."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"auto_train": "auto", "search_space": "space", "compare": "comparison",
            "baseline_scores": "baseline", "train_model": "training", "finetune_model": "training",
            "Trained": "training", "HoldoutReport": "training", "check_way": "training"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
