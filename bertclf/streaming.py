"""Deprecated since 0.2: ``embed_file`` is in ``bertclf.encode``."""

from bertclf._moved import moved

__getattr__ = moved(__name__, {"embed_file": "bertclf.encode.streaming"})
