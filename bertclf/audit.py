"""Deprecated since 0.2: ``audit_labels`` is in ``bertclf.evaluate``."""

from bertclf._moved import moved

__getattr__ = moved(__name__, {"audit_labels": "bertclf.evaluate.audit"})
