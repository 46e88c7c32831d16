"""Subpackages name their public API in ``__all__`` but import a module only when one of its
names is first used (PEP 562), so ``import bertclf.io`` does not load torch or scikit-learn."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str], moved: dict[str, str] | None = None,
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name of ``exports`` comes from the
    submodule it maps to; each name of ``moved`` from the public package it moved to, with a
    ``DeprecationWarning`` that names it (the name goes in the release after next)."""
    moved = moved or {}

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(import_module(f"{package}.{exports[name]}"), name)
        if name in moved:
            warnings.warn(f"{package}.{name} moved in bertclf 0.4: import {name} from {moved[name]}",
                          DeprecationWarning, stacklevel=2)
            return getattr(import_module(moved[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
