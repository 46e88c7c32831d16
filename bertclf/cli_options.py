"""Options shared by several commands, so `embed`, `train` and friends spell them the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .models import DEFAULT_MODEL

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EMBEDDING_KEYS = ("model", "pooling", "layers", "layer_agg", "max_length", "batch_size", "normalize",
                  "device", "backend", "dtype", "threads", "long", "head_tokens", "stride", "chunk_agg")
COLUMN_KEYS = ("text_col", "label_col", "label_cols", "label_sep", "pair_col", "meta_cols", "join_on")


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
    click.option("--batch-size", type=int, default=None,
                 help="Texts per encoder call. [default: 16 with ONNX Runtime, 32 with torch]"),
    click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda"),
    click.option("--backend", type=click.Choice(["auto", "torch", "onnx", "onnx-int8"]), default="auto",
                 show_default=True,
                 help="Encoder runtime. auto: onnx-int8 on a CPU (fastest within 0.5 accuracy point, see "
                      "docs/performance.md), torch on a GPU. The ONNX export is made once and cached."),
    click.option("--dtype", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
                 help="torch backend only: bf16 autocast (CPUs with AVX-512 BF16, GPUs)."),
    click.option("--threads", type=int, default=None, help="CPU threads. [default: all cores]"),
)

cache_options = stack_options(
    click.option("--cache", "cache_dir", default=None, metavar="DIR",
                 help="Embedding cache folder. [default: $BERTCLF_CACHE, else ~/.cache/bertclf]"),
    click.option("--no-cache", is_flag=True, help="Neither read nor write the embedding cache."),
)

long_options = stack_options(
    click.option("--long", type=click.Choice(["truncate", "head-tail", "chunk", "guide"]), default="truncate",
                 show_default=True,
                 help="Texts over --max-length: keep the start (and count them), the start and end, "
                      "every token in overlapping windows, or the most informative sentences "
                      "(guide: learned from the labels; train and finetune only)."),
    click.option("--head-tokens", type=int, default=None, metavar="N",
                 help="head-tail: tokens from the start; the rest of the budget comes from the end. "
                      "[default: a quarter: 128 + 382 at 512 tokens]"),
    click.option("--stride", type=int, default=None, metavar="N",
                 help="chunk: tokens from one window's start to the next. [default: half a window]"),
    click.option("--chunk-agg", type=click.Choice(["mean", "max"]), default="mean", show_default=True,
                 help="chunk: how the windows' vectors become one."),
)

pair_option = click.option(
    "--pair-col", default=None, metavar="COL",
    help="Column of second texts: each row is read as the pair [CLS] text [SEP] pair [SEP].")

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
    long_options,
    runtime_options,
)

split_options = stack_options(  # labelled input, and where its report comes from (train, finetune, compare)
    click.option("--text-col", default="text", show_default=True, help="Column holding the texts."),
    click.option("--label-col", default="label", show_default=True, help="Column holding the labels."),
    click.option("--label-cols", default=None, metavar="A,B,...",
                 help="Several 0/1 columns, one per label: a multi-label task."),
    click.option("--label-sep", default=None, metavar="SEP",
                 help="--label-col holds sets of labels separated by SEP (e.g. ';'): a multi-label task."),
    pair_option,
    click.option("--test", "test_path", default=None, metavar="TEST", help="Labelled file for the report."),
    click.option("--holdout", type=float, default=0.2, show_default=True,
                 help="Share of TRAIN held out for the report when there is no --test; 0: no report."),
)

def _set_reading(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--encoding and --sep hold for every file the command reads (bertclf.sniff)."""
    from .sniff import current, set_reading

    now = current()
    if param.name == "encoding":
        set_reading(value, now.sep)
    else:
        set_reading(now.encoding, value)


reading_options = stack_options(
    click.option("--encoding", default=None, metavar="NAME", expose_value=False, callback=_set_reading,
                 help="Encoding of the input files (latin-1, cp1252, utf-16, ...). [default: UTF-8]"),
    click.option("--sep", default=None, metavar="CHAR", expose_value=False, callback=_set_reading,
                 help="Field separator of .csv/.tsv inputs (';', tab, '|'). [default: ',' for .csv, "
                      "tab for .tsv]"),
)

input_options = stack_options(
    click.option("--strict", is_flag=True,
                 help="Refuse empty or missing texts (and labels), and undecodable bytes."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary."),
    reading_options,
)


def pop_embedding_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take the embedding flags out of a command's keyword arguments, as Embedder arguments;
    commands with the cache flags cache by default."""
    found = {key: options.pop(key) for key in EMBEDDING_KEYS if key in options}
    if "no_cache" in options:
        no_cache, folder = options.pop("no_cache"), options.pop("cache_dir")
        found["cache"] = False if no_cache else (folder or True)
    return found


def comma_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()


def pop_columns(options: dict[str, Any]) -> Any:
    """Take the column flags out of a command's keyword arguments, as one ``Columns``."""
    from .data import Columns
    from .errors import SpecError

    found = {key: options.pop(key, None) for key in COLUMN_KEYS}
    if found["label_cols"] and found["label_sep"]:
        raise SpecError("give --label-cols (0/1 columns) or --label-sep (one column of label sets), not both")
    if found["label_sep"] == "":
        raise SpecError("--label-sep must not be empty")
    return Columns(text=found["text_col"] or "text", label=found["label_col"] or "label",
                   labels=comma_list(found["label_cols"]), label_sep=found["label_sep"],
                   pair=found["pair_col"], meta=comma_list(found["meta_cols"]), join_on=found["join_on"])


def _progress(quiet: bool) -> bool | None:
    return False if quiet else None


def _stderr(message: str) -> None:
    click.echo(message, err=True)
