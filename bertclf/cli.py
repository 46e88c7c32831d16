"""The ``bertclf`` command: a thin shell over the Python API.

Bad usage and bad input exit with code 2 and one line on stderr (``error: ...``); repairs made on
the way are reported as ``warning: ...`` lines; results go to stdout or to the --out file.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from typing import Any

import click

from . import __version__
from .cli_audit import audit
from .cli_cache import cache
from .cli_classify import evaluate, predict, report
from .cli_explore import cluster, plot, projector, zero_shot
from .cli_finetune import compare, finetune
from .cli_options import (
    CONTEXT,
    cache_options,
    embedding_options,
    input_options,
    model_option,
    pair_option,
    pop_embedding_options,
    reading_options,
)
from .cli_train import train
from .errors import BertclfError, BertclfWarning, EmptyTextWarning
from .pooling import LAYER_FORMS


class _Group(click.Group):
    """Turns user-facing errors into one stderr line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from .sniff import reading

        warnings.simplefilter("ignore")
        warnings.simplefilter("always", BertclfWarning)
        warnings.showwarning = _WarningPrinter()
        try:
            with reading():  # --encoding/--sep set it for this command alone
                return super().invoke(ctx)
        except BertclfError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as exc:  # fine-tuning says where its checkpoint went
            click.echo(f"interrupted: {exc}" if str(exc) else "interrupted: nothing was written", err=True)
            ctx.exit(130)


class _WarningPrinter:
    """Prints warnings as 'warning: ...' lines. Empty texts are reported once: by the reader of
    the file, with its line numbers, not again by the embedder with list positions."""

    def __init__(self) -> None:
        self.empty_reported = False

    def __call__(self, message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, EmptyTextWarning):
            if self.empty_reported and ", counting from 0)" in str(message):
                return
            self.empty_reported = True
        click.echo(f"warning: {message}", err=True)


@click.group(
    cls=_Group,
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf tokens "The bank raised rates." "And the river bank flooded."
  bertclf embed examples/support_tickets.csv --text-col text --out vectors.npy
  bertclf train examples/support_tickets.csv --out tickets-model
  bertclf finetune train.csv --test test.csv --out tuned-model --epochs 3
  bertclf compare train.csv --test test.csv --plot compare.png
  bertclf cluster examples/support_tickets.csv -k auto --out clusters.csv
  bertclf zero-shot news.csv --categories categories.yaml --out sorted.csv
  bertclf plot examples/support_tickets.csv --color-by label --out map.html
  bertclf report tickets-model test.csv --out report.html
  bertclf audit train.csv --out suspects.csv
  bertclf cache info

Run 'bertclf COMMAND --help' for a command's options.""",
)
@click.version_option(__version__, prog_name="bertclf")
def main() -> None:
    """BERT embeddings for text classification: see how BERT reads text, embed it, train on
    frozen embeddings or fine-tune the encoder, compare both with a TF-IDF baseline, and cluster
    texts that have no labels."""


@main.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf tokens "Tokenization is unaffordable."
  bertclf tokens "The bank raised rates." "And the river bank flooded."
  bertclf tokens "a long sentence that will not fit" --max-length 6 --pad-to 8
  bertclf tokens "Hello world" --json
  bertclf tokens --input qa.csv --text-col question --pair-col answer --row 3""",
)
@click.argument("text", required=False)
@click.argument("pair", required=False)
@click.option("--input", "input_path", default=None, metavar="FILE",
              help="Read TEXT (and PAIR) from row --row of this table instead.")
@click.option("--row", type=int, default=1, show_default=True, help="With --input: the row (1 = first).")
@click.option("--text-col", default="text", show_default=True, help="With --input: the text column.")
@pair_option
@model_option
@click.option("--max-length", type=int, default=None,
              help="Cut the input at this many tokens (pairs: longest side first). [default: model limit]")
@click.option("--pad-to", type=int, default=None, help="Pad on the right to this length, as a batch would.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@reading_options
def tokens(text: str | None, pair: str | None, input_path: str | None, row: int, text_col: str,
           pair_col: str | None, model: str, max_length: int | None, pad_to: int | None,
           as_json: bool) -> None:
    """Show how BERT reads a text or a text pair.

    Prints TEXT (and the optional second segment PAIR) as BERT sees it: WordPiece pieces with ##
    continuations, ids, [CLS]/[SEP], segment ids, positions, attention mask and what --max-length
    cut off.
    """
    from .models import check_max_length, load_tokenizer, resolve
    from .tokenization import explain

    if input_path is not None:
        text, pair = _table_row(input_path, row, text_col, pair_col)
    elif text is None:
        raise click.UsageError("give TEXT (and optionally PAIR), or --input FILE")
    source = resolve(model)
    max_length = check_max_length(source, max_length)
    view = explain(load_tokenizer(source), text, pair, max_length=max_length, pad_to=pad_to)
    if as_json:
        click.echo(json.dumps({"model": model, **view.to_dict()}, ensure_ascii=False, indent=2))
        return
    _print_tokens(view, pair is not None)


def _table_row(path: str, row: int, text_col: str, pair_col: str | None) -> tuple[str, str | None]:
    from .errors import InputError
    from .textio import read_table, table_column

    table = read_table(path)
    if not len(table):
        raise InputError(f"{path} has no rows: nothing to show")
    if not 1 <= row <= len(table):
        raise InputError(f"{path}: --row must be between 1 and {len(table)}, got {row}")
    text = table_column(table, path, text_col, " (choose one with --text-col)")[row - 1]
    pair = table_column(table, path, pair_col, " (choose one with --pair-col)")[row - 1] if pair_col else None
    if pair_col and pair is None:
        raise InputError(f"{path}: row {row} has no second text in column '{pair_col}'")
    return "" if text is None else str(text), None if pair is None else str(pair)


def _print_tokens(view: Any, is_pair: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    real = sum(view.attention_mask)
    table = Table(title=f"{real} tokens (max {view.max_length})", title_justify="left")
    for name in ("pos", "token", "id", "segment", "mask"):
        table.add_column(name, justify="right" if name != "token" else "left")
    rows = zip(view.positions, view.tokens, view.ids, view.segment_ids, view.attention_mask,
               view.special, strict=True)
    for pos, tok, tid, seg, mask, special in rows:
        style = "dim" if not mask else "bold cyan" if special else "yellow" if tok.startswith("##") else ""
        shown = f"[{style}]{escape(tok)}[/]" if style else escape(tok)
        table.add_row(str(pos), shown, str(tid), str(seg), str(mask))
    console.print(table)
    if console.is_terminal:
        console.print("[bold cyan]special tokens[/]  [yellow]##continuation pieces[/]  "
                      "[dim]padding (mask 0)[/]")
    for segment, pieces in enumerate(view.cut):
        if pieces:
            name = ("first", "second")[segment] + " segment" if is_pair else "text"
            shown = " ".join(pieces[:20]) + (" ..." if len(pieces) > 20 else "")
            count = f"{len(pieces)} token{'s' if len(pieces) != 1 else ''}"
            console.print(f"cut off by --max-length {view.max_length} from the {name}: "
                          f"{count}: {escape(shown)}")


@main.command(
    context_settings=CONTEXT,
    epilog=f"""\b
Examples:
  bertclf embed examples/support_tickets.csv --out vectors.npy
  bertclf embed reviews.jsonl --text-col body --out vectors.parquet --normalize
  bertclf embed notes.txt --pooling cls --out cls.csv
  bertclf embed data.csv --layers -4..-1 --layer-agg mean --out last4-mean.npy
  bertclf embed data.csv --layers -4..-1 --layer-agg concat --out last4-concat.npy
  cat notes.txt | bertclf embed - --out vectors.npy
  bertclf embed big.csv --device cpu --threads 2 --batch-size 64 --max-length 128 --out v.npy
  bertclf embed news.csv --long chunk --max-length 512 --stride 256 --out news.npy
  bertclf embed qa.csv --text-col question --pair-col answer --out pairs.npy
  bertclf embed data.csv --backend onnx --out v.npy          # exact fp32 through ONNX Runtime
  bertclf embed data.csv --backend torch --dtype bf16 --out v.npy
  bertclf embed data.csv --no-cache --out v.npy              # neither read nor fill the cache
  bertclf embed big.parquet --engine ray --out v.parquet     # a local Ray cluster
  bertclf embed /shared/big.parquet --engine ray --address auto --out v.parquet

\b
Inputs: .csv .tsv .jsonl .parquet (a column), or any other file with one text per line.
Outputs by extension: .npy, .parquet (column 'embedding'), .csv (dim_0, dim_1, ...);
rows are in input order. Files are read and written in chunks: memory stays flat for any size.
Vectors are cached (see `bertclf cache --help`): a second run on the same texts is instant.
\b
Layer specs: {LAYER_FORMS}.""",
)
@click.argument("input_path", metavar="INPUT")
@click.option("--text-col", default="text", show_default=True,
              help="Column holding the texts (table inputs).")
@click.option("--out", "-o", "out", required=True, help="Output file: .npy, .parquet or .csv.")
@pair_option
@embedding_options
@cache_options
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process, streaming the file in chunks. ray: Ray Data with an actor pool, "
                   "one encoder per actor (pip install 'bertclf[ray]').")
@click.option("--address", default=None, metavar="ADDR",
              help="ray: an existing cluster (ray://head:10001, or auto). [default: start a local one]")
@click.option("--actors", type=int, default=None, metavar="N",
              help="ray: encoders to run at once. [default: the cluster's CPUs / --threads]")
@input_options
def embed(input_path: str, text_col: str, pair_col: str | None, out: str, engine: str, address: str | None,
          actors: int | None, strict: bool, quiet: bool, **options: Any) -> None:
    """Embed texts into vectors, one per text.

    Reads the texts of INPUT, batches them by token length, pools each into one vector and writes
    the vectors to --out in input order.
    """
    from .embedder import Embedder
    from .errors import SpecError
    from .streaming import embed_file
    from .textio import check_output_path, read_texts, write_vectors

    check_output_path(out)
    embedder = Embedder(**pop_embedding_options(options), strict=strict, progress=False if quiet else None)
    settings = embedder.settings()
    if settings.long.mode == "guide":
        raise SpecError("--long guide learns from labels: use it with train or finetune; embed takes "
                        "truncate, head-tail or chunk")
    if engine == "ray":
        from .distributed import embed_with_ray, import_ray

        import_ray()
        if input_path == "-":
            raise SpecError("--engine ray reads a file that every node can see, not stdin")
        from .sniff import current

        if current().encoding or current().sep:
            raise SpecError("--engine ray reads UTF-8 files split as their extension says: leave out "
                            "--encoding and --sep, or use --engine local")
        if actors is not None and actors < 1:
            raise SpecError(f"--actors must be a positive integer, got {actors}")
    elif address or actors:
        raise SpecError("--address and --actors are for --engine ray")
    else:
        embedder.load_encoder()  # not timed: the rate is the encoder's
    start = time.perf_counter()
    if engine == "ray":
        rows, dim = embed_with_ray(embedder, input_path, out, text_col, pair_col, address, actors,
                                   strict=strict)
    elif input_path == "-":  # stdin cannot be read twice: it is read whole
        vectors = embedder.transform(read_texts(input_path, text_col=text_col, strict=strict))
        write_vectors(out, vectors)
        rows, dim = vectors.shape
    else:
        rows, dim = embed_file(embedder, input_path, out, text_col, pair_col, strict=strict)
    seconds = time.perf_counter() - start
    if not quiet:
        rate = rows / seconds if seconds > 0 else float("inf")
        click.echo(
            f"wrote {rows} x {dim} vectors to {out} "
            f"({settings.pooling} pooling, layers {list(settings.layers)} {settings.layer_agg}, "
            f"max {settings.max_length} tokens, {'normalized' if settings.normalize else 'raw'}) "
            f"in {seconds:.1f} s, {rate:,.0f} texts/s",
            err=True,
        )


main.add_command(train)
main.add_command(predict)
main.add_command(evaluate)
main.add_command(report)
main.add_command(finetune)
main.add_command(compare)
main.add_command(cluster)
main.add_command(zero_shot)
main.add_command(projector)
main.add_command(plot)
main.add_command(cache)
main.add_command(audit)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
