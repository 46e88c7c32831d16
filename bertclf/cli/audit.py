"""`bertclf audit`: a thin shell over ``bertclf.audit``."""

from __future__ import annotations

from typing import Any

import click

from bertclf.classify.settings import HEADS
from bertclf.cli._common import (
    CONTEXT,
    C_option,
    build_embedder,
    cache_options,
    embedding_options,
    input_file,
    input_options,
    json_option,
    print_json,
    seed_option,
    text_col_option,
)


@click.command(context_settings=CONTEXT, epilog="""\b
Examples:
  bertclf audit examples/support_tickets.csv
  bertclf audit train.csv --label-col intent --out suspects.csv --top 50
  bertclf audit tweets.csv --head svm --out suspects.parquet
  bertclf audit train.csv -C auto --json > suspects.json   # C by cross-validation; JSON on stdout""")
@click.argument("train_path", metavar="TRAIN", callback=input_file)
@text_col_option()
@click.option("--label-col", default="label", show_default=True, help="Column holding the labels.")
@click.option("--out", "-o", "out", default=None, metavar="FILE",
              help="Every row, suspects first: .csv .tsv .jsonl or .parquet.")
@click.option("--top", type=int, default=20, show_default=True, help="Rows shown in the table.")
@click.option("--head", type=click.Choice(HEADS), default="logreg", show_default=True)
@C_option()
@seed_option("Seed of the folds and the head.")
@json_option
@embedding_options
@cache_options
@input_options
def audit(train_path: str, text_col: str, label_col: str, out: str | None, top: int, head: str,
          C: float | str, seed: int, as_json: bool, strict: bool, quiet: bool, **options: Any) -> None:
    """List the training rows whose label looks wrong.

    Every row of TRAIN is predicted by a model that never saw it (5-fold cross-validation on
    frozen embeddings). A row is a likely label issue when another label is predicted with at
    least that label's average confidence (confident learning); flagged rows come first, then
    every row by the probability of its given label, lowest first.
    """

    from bertclf.errors import SpecError
    from bertclf.evaluate.audit import audit_labels
    from bertclf.io.files import TABLE_FORMATS, check_output_path, write_table
    from bertclf.io.labels import read_labelled

    if top < 0:
        raise SpecError(f"--top must be 0 or more, got {top}")
    if out is not None:
        check_output_path(out, tuple(TABLE_FORMATS))
    embedder = build_embedder(options, strict, quiet)
    texts, labels, rows = read_labelled(train_path, text_col, label_col, strict, with_rows=True)
    found = audit_labels(texts, labels, embedder, head, C, seed, rows)
    if out is not None:
        write_table(out, found)
    flagged = int(found["issue"].sum())
    if as_json:
        print_json({"train": train_path, "rows": len(found), "flagged": flagged, "out": out,
                    "top": found.head(top).to_dict(orient="records")})
        return
    from bertclf.render.console import print_audit

    print_audit(found, train_path, top)
    if out is not None and not quiet:
        click.echo(f"wrote {len(found)} rows (suspects first) to {out}", err=True)
