"""Deprecated since 0.2: ``compare`` is in ``bertclf.search``."""

from bertclf._moved import moved

__getattr__ = moved(__name__, {"compare": "bertclf.search.comparison",
                               "print_comparison": "bertclf.render.console",
                               "plot_comparison": "bertclf.render.figures"})
