"""The import paths of bertclf 0.1, removed in 0.4 after two releases of DeprecationWarnings: an
import of one fails with an ``ImportError`` that names where its names live now, instead of
Python's bare "No module named"."""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

REMOVED = {
    "bertclf.autosearch": "auto_train from bertclf.search, print_leaderboard from bertclf.render",
    "bertclf.compare": "compare from bertclf.search, print_comparison and plot_comparison from "
                       "bertclf.render",
    "bertclf.streaming": "embed_file from bertclf.encode",
    "bertclf.audit": "audit_labels from bertclf.evaluate",
}


class RemovedPaths(importlib.abc.MetaPathFinder):
    """Consulted after the ordinary finders, so it only speaks for modules that no longer exist."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname in REMOVED:
            raise ImportError(f"{fullname} was removed in bertclf 0.4: import {REMOVED[fullname]}",
                              name=fullname)
        return None


def install() -> None:
    if not any(isinstance(finder, RemovedPaths) for finder in sys.meta_path):
        sys.meta_path.append(RemovedPaths())
