"""Deprecated since 0.2: ``auto_train`` is in ``bertclf.search``, ``print_leaderboard`` in
``bertclf.render``."""

from bertclf._moved import moved

__getattr__ = moved(__name__, {"auto_train": "bertclf.search.auto",
                               "print_leaderboard": "bertclf.render.console"})
