"""Checking a tuner's settings before any work, so a mistake fails in a second, not after the
data is read and tokenised."""

from __future__ import annotations

import numbers
from typing import Any

from bertclf.errors import SpecError


def check_number(name: str, value: Any, integer: bool = False, low: float | None = None,
                  high: float | None = None, open_low: bool = False) -> None:
    """A SpecError naming ``name`` unless ``value`` is a number (an integer with ``integer``) in
    the range; shared by ``FineTuner`` and ``FewShot``, whose settings fail before any work."""
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value < high
    if not ok:
        what = "an integer" if integer else "a number"
        bounds = []
        if low is not None:
            bounds.append(f"{'above' if open_low else 'at least'} {low:g}")
        if high is not None:
            bounds.append(f"below {high:g}")
        raise SpecError(f"{name} must be {what} {' and '.join(bounds)}, got {value!r}")
