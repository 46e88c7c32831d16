"""Labelling with the model in the loop: `bertclf label` keeps answers in a SQLite database
(``io.label_db``), a logistic regression on the pool's embeddings refits in the background and
picks the texts it is least sure of (``strategy``), and a local page asks about them one at a time."""

from bertclf._lazy import lazy_exports

_EXPORTS = {"LabelStore": "store", "start_session": "session", "create_label_app": "app",
            "next_batch": "strategy", "Learner": "learner"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
