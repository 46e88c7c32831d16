"""User-facing errors and warnings.

Anything the user can fix (a missing file, a bad flag value, a model that cannot be had) is raised
as a ``BertclfError``: the CLI prints its message as one line and exits with code 2, the Python
API lets it propagate. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class BertclfError(Exception):
    """A problem with the user's input or setup, explained in one line."""


class InputError(BertclfError, ValueError):
    """Bad data: missing file or column, empty or undecodable text in strict mode."""


class SpecError(BertclfError, ValueError):
    """A malformed option value, such as a pooling or layer spec."""


class ModelLoadError(BertclfError, OSError):
    """The encoder or its tokenizer cannot be loaded."""


class ExportError(BertclfError):
    """The encoder cannot be turned into an ONNX graph (an unsupported architecture)."""


class BertclfWarning(UserWarning):
    """Something was repaired on the way (empty text, replaced bytes, truncation)."""


class EmptyTextWarning(BertclfWarning):
    """Empty or missing texts, embedded as empty strings, named by the lines of their file."""


class EmptyTextByPosition(EmptyTextWarning):
    """The same, named by list position: what the embedder says of texts that came from no file.
    The CLI, whose readers already named the lines, drops it."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (libraries' messages run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
