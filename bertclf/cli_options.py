"""Options shared by several commands, so `embed`, `train` and friends spell them the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .models import DEFAULT_MODEL

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EMBEDDING_KEYS = ("model", "pooling", "layers", "layer_agg", "max_length", "batch_size", "normalize",
                  "device", "threads")


def stack_options(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def model_option(func: Any) -> Any:
    return click.option(
        "--model", default=DEFAULT_MODEL, show_default=True, metavar="ID|PATH",
        help="Encoder: the bundled all-MiniLM-L6-v2, a Hugging Face id, or a local model folder.",
    )(func)


runtime_options = stack_options(
    click.option("--batch-size", type=int, default=32, show_default=True),
    click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda"),
    click.option("--threads", type=int, default=None, help="CPU threads for torch. [default: all cores]"),
)

embedding_options = stack_options(
    model_option,
    click.option("--pooling", default=None, metavar="cls|mean|max",
                 help="How token vectors become one vector. [default: the model's own, else mean]"),
    click.option("--layers", default="-1", show_default=True, metavar="SPEC",
                 help="Hidden layers to use: -1, -2, -4..-1, all, or a list like -1,-4."),
    click.option("--layer-agg", default="mean", show_default=True, metavar="mean|concat",
                 help="Average the chosen layers, or concatenate them (dim x layers)."),
    click.option("--max-length", type=int, default=None,
                 help="Tokens kept per text. [default: the model's own, at most its limit]"),
    click.option("--normalize/--no-normalize", default=None,
                 help="L2-normalise the vectors. [default: as the model's config says]"),
    runtime_options,
)

split_options = stack_options(  # labelled input, and where its report comes from (train, finetune, compare)
    click.option("--text-col", default="text", show_default=True, help="Column holding the texts."),
    click.option("--label-col", default="label", show_default=True, help="Column holding the labels."),
    click.option("--test", "test_path", default=None, metavar="TEST", help="Labelled file for the report."),
    click.option("--holdout", type=float, default=0.2, show_default=True,
                 help="Share of TRAIN held out for the report when there is no --test; 0: no report."),
)

input_options = stack_options(
    click.option("--strict", is_flag=True,
                 help="Refuse empty or missing texts (and labels), and undecodable bytes."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary."),
)


def pop_embedding_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take the embedding flags out of a command's keyword arguments, as Embedder arguments."""
    return {key: options.pop(key) for key in EMBEDDING_KEYS if key in options}
