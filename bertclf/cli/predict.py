"""`bertclf predict`: label texts with a saved model."""

from __future__ import annotations

import time
from typing import Any

import click

from bertclf.cli._common import (
    CONTEXT,
    _progress,
    _stderr,
    check_engine,
    engine_options,
    input_file,
    input_options,
    json_option,
    print_json,
    runtime_options,
    text_col_option,
)


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf predict tickets-model new_tickets.csv --out predictions.csv
  bertclf predict tickets-model new_tickets.jsonl --text-col body --top-k 2 --out top2.jsonl
  echo "I was charged twice this month" | bertclf predict tickets-model
  bertclf predict tickets-model export.csv --encoding latin-1 --sep ';' --out p.csv
  bertclf predict tickets-model new.csv --json   # predictions and load/predict seconds as JSON
  bertclf predict tickets-model notes.txt --out predictions.parquet
  bertclf predict tickets-model new.csv --explain 3 --out why.csv   # the 3 words behind each label
  bertclf predict tuned-model new.csv --backend torch --out p.csv   # finetune's own numbers
  bertclf predict toxic-model comments.csv --label-sep "|" --out labels.csv   # multi-label sets
  bertclf predict qa-model qa.csv --out answers.csv    # pairs, metadata: the model's own columns
  bertclf predict tickets-model big.parquet --engine ray --out p.parquet   # a local Ray cluster
  bertclf predict /shared/model /shared/big.csv --engine ray --address auto --out /shared/p.csv

\b
Multi-label models write 'labels' (the labels over their thresholds, joined by --label-sep) and a
p_<label> per label. Table inputs keep all their columns; plain-text inputs (one text per line,
'-' for stdin) get a 'text' column. Added: 'label' and one 'p_<class>' column per class, or with
--top-k K the label's probability 'p_label' and the next best labels (top_2, p_top_2, ... top_K).
--explain adds 'explain_for' and 'explain_against' ('refund +0.310; charged +0.120': how much the
label's probability falls without the word); JSONL and --json get the full 'explanation' instead.
Without --out, CSV goes to stdout. Empty input writes the header alone.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("input_path", metavar="INPUT", default="-", callback=input_file)
@text_col_option(None)
@click.option("--out", "-o", default=None,
              help="Output: .csv .tsv .jsonl .parquet. [default: CSV on stdout]")
@click.option("--top-k", type=int, default=None, metavar="K",
              help="Write the K best labels instead of every p_<class>.")
@click.option("--label-sep", default=";", show_default=True, metavar="SEP",
              help="Multi-label models: separator of the predicted label sets.")
@click.option("--explain", type=int, is_flag=False, flag_value=5, default=None, metavar="[K]",
              help="Add the K words (default 5) that pushed each text most toward its label and "
                   "the K most against it, with signed weights.")
@runtime_options
@engine_options
@json_option
@input_options
def predict(model_path: str, input_path: str, text_col: str | None, out: str | None, top_k: int | None,
            label_sep: str, explain: int | None, engine: str, address: str | None, actors: int | None,
            as_json: bool, strict: bool, quiet: bool, **options: Any) -> None:
    """Label texts with a trained model.

    MODEL is a folder written by `bertclf train`; INPUT a table (.csv .tsv .jsonl .parquet, with
    the columns the model was trained on) or a file with one text per line; without INPUT,
    texts are read from stdin.
    """
    began = time.perf_counter()  # loading counts the imports it needs too: that is what a user waits for
    from bertclf.errors import SpecError
    from bertclf.io.files import TABLE_FORMATS, check_output_path, write_table
    from bertclf.io.predictions import add_explanations, prediction_table
    from bertclf.io.table import csv_text
    from bertclf.runtime.model import open_model

    if out is not None:
        check_output_path(out, tuple(TABLE_FORMATS))
    check_engine(engine, input_path, address, actors)
    if explain is not None and explain < 1:
        raise SpecError(f"--explain needs a number of words of at least 1, got {explain}")
    if engine == "ray":
        if explain:
            raise SpecError("--explain runs in this process: leave out --engine ray (or explain a sample)")
        if out is None:
            raise SpecError("--engine ray writes a file: give --out (.csv .tsv .jsonl .parquet)")
        return predict_on_ray(model_path, input_path, out, text_col, top_k, label_sep, address, actors,
                              as_json, quiet, options, began)
    model = open_model(model_path, strict=strict, progress=_progress(quiet), **options)
    if text_col:
        model.text_col = text_col
    if top_k is not None and not 1 <= top_k <= len(model.classes_):
        raise SpecError(f"--top-k must be between 1 and {len(model.classes_)} (the model's labels), "
                        f"got {top_k}")
    X, table = _read_inputs(model, input_path, strict)
    if len(X):
        model.load_encoder()  # so the rate below is about predicting, not loading
    start = time.perf_counter()
    proba = model.predict_proba(X)
    seconds = time.perf_counter() - start
    result = prediction_table(table, model.classes_, proba, top_k,
                              model.thresholds_ if model.task == "multi-label" else None, label_sep)
    if explain:  # after the timing above: explaining is more calls of the model
        full = as_json and out is None or out is not None and out.lower().endswith(".jsonl")
        result = add_explanations(result, model.explain(X, explain), full)
    if out is not None:
        write_table(out, result)
    if as_json:  # one document: the timings, and the predictions themselves without --out
        print_json({"model": model_path, "out": out, "texts": len(proba),
                    "load_seconds": round(start - began, 3), "predict_seconds": round(seconds, 4),
                    "predictions": None if out else result.to_dict(orient="records")})
        return
    if out is None:
        click.echo(csv_text(result), nl=False)
    if not quiet:
        _stderr(prediction_summary(len(proba), out, start - began, seconds))


def _read_inputs(model: Any, input_path: str, strict: bool) -> tuple[Any, Any]:
    """What the model reads from INPUT (texts, or a table with its columns), and the table its
    predictions are added to."""
    from bertclf.errors import InputError
    from bertclf.io.files import check_texts, is_table_path, read_table, read_texts, table_column
    from bertclf.io.table import Table

    needed = model.input_columns()
    if is_table_path(input_path):
        table = read_table(input_path, strict, lean=True)
        X = model.table_inputs(table, input_path)
        check_texts(table_column(table, input_path, needed[0]), table.attrs["source"], strict=strict)
        return X, table
    if len(needed) > 1:
        raise InputError(f"this model reads columns {', '.join(needed)}: give a table file, not plain text")
    if input_path == "-" and click.get_text_stream("stdin").isatty():
        _stderr("reading texts from stdin, one per line (Ctrl-D to end)")
    X = read_texts(input_path, strict=strict)
    return X, Table({"text": X})


def predict_on_ray(model_path: str, input_path: str, out: str, text_col: str | None, top_k: int | None,
                   label_sep: str, address: str | None, actors: int | None, as_json: bool, quiet: bool,
                   options: dict[str, Any], began: float) -> None:
    from bertclf.runtime.ray_predict import predict_with_ray

    rows = predict_with_ray(model_path, input_path, out, options, text_col, top_k, label_sep, address, actors,
                            progress=_progress(quiet))
    seconds = time.perf_counter() - began
    if as_json:
        print_json({"model": model_path, "out": out, "texts": rows, "engine": "ray",
                    "seconds": round(seconds, 3)})
    elif not quiet:
        _stderr(f"predicted {rows} texts to {out} on Ray in {seconds:.1f} s, starting the cluster included")


def prediction_summary(n: int, out: str | None, load_seconds: float, predict_seconds: float) -> str:
    """What `predict` did and where the time went: loading (imports, model, encoder) apart from
    predicting, since a user who waits 5 s for one text should see why."""
    where = f" to {out}" if out else ""
    if n == 0:
        return f"0 texts in the input: wrote the header only{where} (loading took {load_seconds:.1f} s)"
    rate = f", {n / predict_seconds:,.0f} texts/s" if predict_seconds > 0 else ""
    return (f"predicted {n} text{'s' if n != 1 else ''}{where} in {_seconds(predict_seconds)}{rate}, "
            f"after {load_seconds:.1f} s loading the model")


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"
