"""Old import paths that the README of bertclf 0.1 taught keep working through 0.3 (gone in 0.4), with a
DeprecationWarning naming the new place (issue 17 moved modules into subpackages)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import import_module
from typing import Any


def moved(old: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old`` that finds each name in its new module and warns."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        new = names[name]
        public = new.rsplit(".", 1)[0]
        warnings.warn(f"{old} is deprecated and goes in bertclf 0.4: import {name} from {public}",
                      DeprecationWarning, stacklevel=2)
        return getattr(import_module(new), name)

    return __getattr__
