"""Small helpers shared by the figures (confusion matrix, label scores, reliability diagram)."""

from __future__ import annotations


def wrap_title(title: str, width_inches: float) -> str:
    """A long title broken between words (at ' on ' first), never inside a file name."""
    import textwrap

    chars = max(30, int(width_inches * 9))
    if len(title) <= chars:
        return title
    head, sep, tail = title.partition(" on ")
    if sep and len(head) <= chars and len(tail) + 3 <= chars:
        return f"{head}\non {tail}"
    return "\n".join(textwrap.wrap(title, chars, break_long_words=False, break_on_hyphens=False))
