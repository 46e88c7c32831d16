"""`bertclf tokens`: how BERT reads a text or a pair."""

from __future__ import annotations

import click

from bertclf.cli._common import (
    CONTEXT,
    input_file,
    model_option,
    pair_option,
    print_json,
    reading_options,
    text_col_option,
)


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf tokens "Tokenization is unaffordable."
  bertclf tokens "The bank raised rates." "And the river bank flooded."
  bertclf tokens "a long sentence that will not fit" --max-length 6 --pad-to 8
  bertclf tokens "Hello world" --json
  bertclf tokens --input qa.csv --text-col question --pair-col answer --row 3
  bertclf tokens "where is my parcel" --model tickets-model   # as a trained model folder reads it""",
)
@click.argument("text", required=False)
@click.argument("pair", required=False)
@click.option("--input", "input_path", default=None, metavar="FILE", callback=input_file,
              help="Read TEXT (and PAIR) from row --row of this table instead.")
@click.option("--row", type=int, default=1, show_default=True, help="With --input: the row (1 = first).")
@text_col_option(help_text="With --input: the text column.")
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
    import transformers  # noqa: F401 - the training stack: a runtime install is told so, not about the network

    from bertclf.encode.sources import check_max_length, load_tokenizer, resolve
    from bertclf.encode.tokenization import explain

    if input_path is not None:
        text, pair = _table_row(input_path, row, text_col, pair_col)
    elif text is None:
        raise click.UsageError("give TEXT (and optionally PAIR), or --input FILE")
    encoder, trained_length = _encoder_of(model)
    source = resolve(encoder)
    max_length = check_max_length(source, max_length, trained_length)
    view = explain(load_tokenizer(source), text, pair, max_length=max_length, pad_to=pad_to)
    if as_json:
        print_json({"model": model, **view.to_dict()})
        return
    from bertclf.render.console import print_tokens

    print_tokens(view, pair is not None)


def _encoder_of(model: str) -> tuple[str, int | None]:
    """The encoder to tokenize with, and the length it was trained to read: a bertclf model folder
    (what `train` writes) reads texts through its encoder, as many tokens as it was trained on."""
    import json
    from pathlib import Path

    from bertclf.io.modelio import FORMAT

    config = Path(model).expanduser() / "config.json"
    try:
        found = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    except (OSError, ValueError):
        return model, None
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        return model, None
    embedder, encoder = found.get("embedder") or {}, found.get("encoder") or {}
    name = str(Path(model) / encoder["folder"]) if "folder" in encoder else embedder.get("model", model)
    return name, embedder.get("max_length")


def _table_row(path: str, row: int, text_col: str, pair_col: str | None) -> tuple[str, str | None]:
    from bertclf.errors import InputError
    from bertclf.io.files import read_table, table_column

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


