"""What the commands share: options spelled the same everywhere (as decorators), the cheap checks
made while the arguments are parsed, and how flags become the library's arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from bertclf.encode.sources import DEFAULT_MODEL

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


EMBEDDING_KEYS = ("model", "pooling", "layers", "layer_agg", "max_length", "batch_size", "normalize",
                  "device", "backend", "dtype", "threads", "long", "head_tokens", "stride", "chunk_agg")


COLUMN_KEYS = ("text_col", "label_col", "label_cols", "label_sep", "pair_col", "meta_cols", "join_on")


def input_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Cheap checks first: a missing or wrong input file is named while the arguments are parsed,
    before a command imports its stack (torch alone takes seconds); '-' is stdin."""
    from bertclf.io.files import check_input_file

    if value is not None:
        check_input_file(value)
    return value


def given(*names: str) -> list[str]:
    """Which of these parameters the command line set (not their defaults)."""
    context = click.get_current_context()
    return [n for n in names if (source := context.get_parameter_source(n)) is not None
            and source.name == "COMMANDLINE"]


def refuse_unless(active: bool, flags: dict[str, str], where: str) -> None:
    """Options that belong to another way of running are refused, never ignored in silence:
    ``flags`` maps each parameter's name to its flag, ``where`` says when they apply."""
    from bertclf.errors import SpecError

    stray = [flags[name] for name in given(*flags)]
    if stray and not active:
        one = len(stray) == 1
        raise SpecError(f"{', '.join(stray)} {'applies' if one else 'apply'} {where}: drop "
                        f"{'it' if one else 'them'}")


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


slim_option = click.option(
    "--slim", is_flag=True,
    help="Leave the encoder out of the folder (kilobytes instead of ~60 MB); it then predicts only where "
         "the full install and the encoder are. [default: self-contained]")


engine_options = stack_options(
    click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="local: this process, reading the file in chunks. ray: Ray Data with an actor pool, "
                      "one encoder (or model) per actor (pip install 'bertclf[ray]')."),
    click.option("--address", default=None, metavar="ADDR",
                 help="ray: an existing cluster (ray://head:10001, or auto). [default: start a local one]"),
    click.option("--actors", type=int, default=None, metavar="N",
                 help="ray: actors to run at once. [default: the cluster's CPUs / --threads]"),
)


def check_engine(engine: str, input_path: str, address: str | None, actors: int | None) -> None:
    """--engine ray reads a file every node sees, as its extension says; its flags need it."""
    from bertclf.errors import SpecError

    if engine == "local":
        if address or actors:
            raise SpecError("--address and --actors are for --engine ray")
        return
    from bertclf.io.ray_data import import_ray
    from bertclf.io.sniff import current

    import_ray()
    if input_path == "-":
        raise SpecError("--engine ray reads a file that every node can see, not stdin")
    if current().encoding or current().sep:
        raise SpecError("--engine ray reads UTF-8 files split as their extension says: leave out "
                        "--encoding and --sep, or use --engine local")
    if actors is not None and actors < 1:
        raise SpecError(f"--actors must be a positive integer, got {actors}")


def seed_option(help_text: str = "Seed of the split, the folds and the head.") -> Callable[[Any], Any]:
    return click.option("--seed", type=int, default=13, show_default=True, help=help_text)


def text_col_option(default: str | None = "text",
                    help_text: str = "Column holding the texts.") -> Callable[[Any], Any]:
    """--text-col; ``default=None`` means the model's own column (commands that read a model)."""
    if default is None:
        return click.option("--text-col", default=None, help=f"{help_text} [default: the model's]")
    return click.option("--text-col", default=default, show_default=True, help=help_text)


def C_option(help_text: str = "Regularisation of logreg and svm (the mlp's L2 penalty is 1e-4 / C): a "
             "number, or auto for a quick cross-validation.") -> Callable[[Any], Any]:
    return click.option("-C", "--C", "C", type=str, default="1.0", show_default=True, metavar="auto|C",
                        callback=lambda ctx, param, value: parse_C(value), help=help_text)


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")

threads_option = click.option("--threads", type=int, default=None, help="CPU threads. [default: all cores]")

pooling_option = click.option(
    "--pooling", default=None, metavar="cls|mean|max",
    help="How token vectors become one vector. [default: the model's own, else mean]")

runtime_options = stack_options(
    click.option("--batch-size", type=int, default=None,
                 help="Texts per encoder call. [default: 16 with ONNX Runtime, 32 with torch]"),
    click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda"),
    click.option("--backend", type=click.Choice(["auto", "torch", "onnx", "onnx-int8"]), default="auto",
                 show_default=True,
                 help="Encoder runtime. auto: onnx-int8 on a CPU (fastest within 0.5 accuracy point, see "
                      "docs/performance.md), torch on a GPU. The ONNX export is made once and cached."),
    click.option("--dtype", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
                 help="torch backend only: bf16 autocast (CPUs with AVX-512 BF16 or AMX, GPUs; elsewhere "
                      "emulated and slower, with a warning)."),
    threads_option,
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
    pooling_option,
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
    text_col_option(),
    click.option("--label-col", default="label", show_default=True, help="Column holding the labels."),
    click.option("--label-cols", default=None, metavar="A,B,...",
                 help="Several 0/1 columns, one per label: a multi-label task."),
    click.option("--label-sep", default=None, metavar="SEP",
                 help="--label-col holds sets of labels separated by SEP (e.g. ';'): a multi-label task."),
    pair_option,
    click.option("--test", "test_path", default=None, metavar="TEST", callback=input_file,
                 help="Labelled file for the report."),
    click.option("--holdout", type=float, default=0.2, show_default=True,
                 help="Share of TRAIN held out for the report when there is no --test; 0: no report."),
)


def _set_reading(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--encoding and --sep hold for every file the command reads (bertclf.sniff)."""
    from bertclf.io.sniff import current, set_reading

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


def build_embedder(options: dict[str, Any], strict: bool, quiet: bool) -> Any:
    """The Embedder a command's embedding flags describe (taken out of ``options``), its settings
    checked before any file is read."""
    from bertclf.encode.embedder import Embedder

    embedder = Embedder(**pop_embedding_options(options), strict=strict, progress=_progress(quiet))
    embedder.settings()
    return embedder


def print_json(document: Any) -> None:
    """One JSON document on stdout, for --json."""
    import json

    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def comma_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()


def pop_columns(options: dict[str, Any]) -> Any:
    """Take the column flags out of a command's keyword arguments, as one ``Columns``."""
    from bertclf.errors import SpecError
    from bertclf.io.labels import Columns

    found = {key: options.pop(key, None) for key in COLUMN_KEYS}
    if found["label_cols"] and found["label_sep"]:
        raise SpecError("give --label-cols (0/1 columns) or --label-sep (one column of label sets), not both")
    if found["label_sep"] == "":
        raise SpecError("--label-sep must not be empty")
    return Columns(text=found["text_col"] or "text", label=found["label_col"] or "label",
                   labels=comma_list(found["label_cols"]), label_sep=found["label_sep"],
                   pair=found["pair_col"], meta=comma_list(found["meta_cols"]), join_on=found["join_on"])


def save_trained(trained: Any, out: str, columns: Any, slim: bool, as_json: bool, quiet: bool) -> None:
    """How train and finetune end: the hold-out report (on stderr under --json), the model folder
    with its figures, the --json summary, and the line saying what was saved where."""
    from bertclf.render.console import print_holdout, saved_line

    if trained.holdout is not None:
        print_holdout(trained.holdout, to_stderr=as_json)
    trained.save(out, label_columns(columns), self_contained=not slim)
    if as_json:
        print_json(trained.summary(out))
    if not quiet:
        _stderr(saved_line(trained, out))


def label_columns(columns: Any) -> dict[str, Any]:
    """Where the training file kept its labels, for the model folder (evaluate's defaults)."""
    return {"label_col": columns.label, "label_cols": list(columns.labels), "label_sep": columns.label_sep}


def _progress(quiet: bool) -> bool | None:
    return False if quiet else None


def _stderr(message: str) -> None:
    click.echo(message, err=True)


def parse_C(text: str | float) -> str | float:
    """-C's value: 'auto' or a positive number (one error line otherwise)."""
    from bertclf.errors import SpecError

    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise SpecError(f"-C must be 'auto' or a positive number, got {text!r}")
    return value


# CLI option -> FineTuner parameter, for the options that shape the run (recorded in checkpoints).
TUNER_OPTIONS = ("model", "pooling", "max_length", "epochs", "lr", "batch_size", "warmup", "weight_decay",
                 "val_fraction", "early_stopping", "grad_accum", "precision", "seed", "long", "head_tokens",
                 "freeze_layers", "schedule")


FILE_OPTIONS = ("train_path", "test_path", "text_col", "label_col", "label_cols", "label_sep", "pair_col",
                "holdout")


tuning_options = stack_options(
    click.option("--epochs", type=int, default=3, show_default=True, help="Passes over the training texts."),
    click.option("--lr", type=float, default=5e-5, show_default=True, help="Peak learning rate (AdamW)."),
    click.option("--batch-size", type=int, default=32, show_default=True, help="Texts per micro-batch."),
    click.option("--max-length", type=int, default=None,
                 help="Tokens kept per text. [default: 128, or the model's limit if lower]"),
    click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda",
                 help="Where to run; auto picks a GPU when torch sees one."),
)


def check_address(host: str, port: int) -> None:
    """`serve` and `label`: bind the address as uvicorn will (SO_REUSEADDR, so a socket left in
    TIME_WAIT is no obstacle), then let it go: a port in use is an error before anything is
    announced."""
    import errno
    import socket

    from bertclf.errors import InputError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            why = (exc.strerror or str(exc)).lower()
            busy = exc.errno == errno.EADDRINUSE
            hint = ": another program listens there; choose another --port" if busy else ""
            raise InputError(f"cannot listen on {host}:{port} ({why}){hint}") from None
