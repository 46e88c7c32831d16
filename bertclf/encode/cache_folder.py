"""Where bertclf keeps what it can rebuild: ONNX exports and the embedding cache.

``--cache DIR`` beats ``BERTCLF_CACHE``, which beats ``$XDG_CACHE_HOME/bertclf`` and then
``~/.cache/bertclf``. A folder that cannot be written is not an error: callers run without the
cache and the user is warned once per folder.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

from bertclf.errors import BertclfWarning

ENV = "BERTCLF_CACHE"
_warned: set[str] = set()


def root(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bertclf"


def writable_root(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The cache folder, created if need be, or None (warned once) when it cannot be written."""
    folder = root(explicit)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe."):
            pass
        return folder
    except OSError as exc:
        if str(folder) not in _warned:
            _warned.add(str(folder))
            warnings.warn(f"the cache folder {folder} cannot be written ({exc.strerror or exc}): "
                          f"running without the cache", BertclfWarning, stacklevel=3)
        return None
