"""`bertclf predict`, `evaluate` and `report`: thin shells over a saved model and the reports."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .cli_options import (
    CONTEXT,
    _progress,
    _stderr,
    input_options,
    runtime_options,
)


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf predict tickets-model new_tickets.csv --out predictions.csv
  bertclf predict tickets-model new_tickets.jsonl --text-col body --top-k 2 --out top2.jsonl
  echo "I was charged twice this month" | bertclf predict tickets-model
  bertclf predict tickets-model notes.txt --out predictions.parquet
  bertclf predict tuned-model new.csv --backend torch --out p.csv   # finetune's own numbers
  bertclf predict toxic-model comments.csv --label-sep "|" --out labels.csv   # multi-label sets
  bertclf predict qa-model qa.csv --out answers.csv    # pairs, metadata: the model's own columns

\b
Multi-label models write 'labels' (the labels over their thresholds, joined by --label-sep) and a
p_<label> per label. Table inputs keep all their columns; plain-text inputs (one text per line,
'-' for stdin) get a 'text' column. Added: 'label' and one 'p_<class>' column per class, or with
--top-k K the label's probability 'p_label' and the next best labels (top_2, p_top_2, ... top_K).
Without --out, CSV goes to stdout. Empty input writes the header alone.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("input_path", metavar="INPUT", default="-")
@click.option("--text-col", default=None, help="Column holding the texts. [default: the model's]")
@click.option("--out", "-o", default=None,
              help="Output: .csv .tsv .jsonl .parquet. [default: CSV on stdout]")
@click.option("--top-k", type=int, default=None, metavar="K",
              help="Write the K best labels instead of every p_<class>.")
@click.option("--label-sep", default=";", show_default=True, metavar="SEP",
              help="Multi-label models: separator of the predicted label sets.")
@runtime_options
@input_options
def predict(model_path: str, input_path: str, text_col: str | None, out: str | None, top_k: int | None,
            label_sep: str, strict: bool, quiet: bool, **options: Any) -> None:
    """Label texts with a trained model.

    MODEL is a folder written by `bertclf train`; INPUT a table (.csv .tsv .jsonl .parquet, with
    the columns the model was trained on) or a file with one text per line; without INPUT,
    texts are read from stdin.
    """
    began = time.perf_counter()  # loading counts the imports it needs too: that is what a user waits for
    import pandas as pd

    from .classifier import TextClassifier
    from .errors import InputError, SpecError
    from .predictions import prediction_table
    from .textio import TABLE_FORMATS, check_output_path, is_table_path, read_table, read_texts, write_table

    if out is not None:
        check_output_path(out, tuple(TABLE_FORMATS))
    model = TextClassifier.load(model_path, strict=strict, progress=_progress(quiet), **options)
    if text_col:
        model.text_col = text_col
    if top_k is not None and not 1 <= top_k <= len(model.classes_):
        raise SpecError(f"--top-k must be between 1 and {len(model.classes_)} (the model's labels), "
                        f"got {top_k}")
    needed = model.input_columns()
    if is_table_path(input_path):
        table = read_table(input_path, strict)
        X = model.table_inputs(table, input_path)
    else:
        if len(needed) > 1:
            raise InputError(f"this model reads columns {', '.join(needed)}: give a table file, "
                             f"not plain text")
        if input_path == "-" and click.get_text_stream("stdin").isatty():
            _stderr("reading texts from stdin, one per line (Ctrl-D to end)")
        X = read_texts(input_path, strict=strict)
        table = pd.DataFrame({"text": X})
    if model.features != "tfidf" and len(X):  # a TF-IDF model never needs the encoder
        model.embedder_.load_encoder()  # so the rate below is about predicting, not loading
    start = time.perf_counter()
    proba = model.predict_proba(X)
    seconds = time.perf_counter() - start
    result = prediction_table(table, model.classes_, proba, top_k,
                              model.thresholds_ if model.multilabel_ else None, label_sep)
    if out is None:
        click.echo(result.to_csv(index=False, float_format="%.6g"), nl=False)
    else:
        write_table(out, result)
    if not quiet:
        _stderr(prediction_summary(len(proba), out, start - began, seconds))


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


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf evaluate tickets-model test.csv
  bertclf evaluate tickets-model test.csv --plot confusion.png   # and confusion-reliability.png
  bertclf evaluate tickets-model test.jsonl --text-col body --label-col topic --json > report.json
  bertclf evaluate toxic-model test.csv --plot per-label.png     # multi-label: the model's label columns
  bertclf evaluate tags-model test.csv --label-col tags --label-sep ";"

\b
Test labels the model never saw are listed and counted as errors, not a crash.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("test_path", metavar="TEST")
@click.option("--text-col", default=None, help="Column holding the texts. [default: the model's]")
@click.option("--label-col", default="label", show_default=True, help="Column holding the true labels.")
@click.option("--label-cols", default=None, metavar="A,B,...",
              help="Multi-label: the 0/1 label columns. [default: the model's labels]")
@click.option("--label-sep", default=None, metavar="SEP",
              help="Multi-label: --label-col holds label sets separated by SEP.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", default=None, metavar="FILE",
              help="Write the confusion matrix (per-label scores for multi-label) as .png, .svg or .pdf, "
                   "and the reliability diagram beside it as FILE-reliability.png.")
@runtime_options
@input_options
def evaluate(model_path: str, test_path: str, as_json: bool, plot: str | None, strict: bool, quiet: bool,
             **options: Any) -> None:
    """Score a trained model on labelled texts.

    Prints accuracy, macro-F1, per-class precision, recall, F1 and support, and the confusion
    matrix: as a table, as JSON with --json, and as a picture with --plot. Multi-label models get
    micro and macro F1, per-label scores, mean ROC-AUC, subset accuracy and Hamming loss.
    """
    from .classifier import TextClassifier
    from .data import read_rows
    from .evaluation import PLOT_FORMATS, evaluate_model, plot_confusion, plot_label_scores, print_report
    from .textio import check_output_path

    if plot is not None:
        check_output_path(plot, PLOT_FORMATS)
    model = TextClassifier.load(model_path, strict=strict, progress=_progress(quiet),
                                **{k: v for k, v in options.items() if k not in COLUMN_FLAGS})
    X, labels = read_rows(test_path, _test_columns(model, options), strict)
    report = evaluate_model(model, X, labels)
    if as_json:
        report = {"model": model_path, "test": test_path, **report}
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report, title=f"{model_path} on {test_path}")
    if plot is not None:
        draw = plot_label_scores if model.multilabel_ else plot_confusion
        draw(report, plot, title=f"{model_path} on {test_path}")
        if not quiet:
            _stderr(f"wrote the {'per-label scores' if model.multilabel_ else 'confusion matrix'} to {plot}")
        if "calibration" in report:
            from .calibration import reliability_figure
            from .evaluation import save_figure

            beside = Path(plot).with_name(f"{Path(plot).stem}-reliability{Path(plot).suffix}")
            save_figure(reliability_figure(report["calibration"], f"{model_path} on {test_path}"), beside)
            if not quiet:
                _stderr(f"wrote the reliability diagram (ECE {report['ece']:.4f}) to {beside}")


COLUMN_FLAGS = ("text_col", "label_col", "label_cols", "label_sep")


@click.command(
    short_help="Write one HTML page about a model on labelled texts.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf report tickets-model test.csv --out report.html
  bertclf report news-model test.jsonl --label-col topic --out report.html

\b
One self-contained page (inline SVG, no script or network): the metrics, per-class precision,
recall and F1 as bars, the confusion matrix as a heat map, a 2-D map of the test embeddings
coloured by true label with the mistakes marked (hover a point to read its text; at most 3,000
points), and the 20 most confidently wrong texts, where label noise tends to hide.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("test_path", metavar="TEST")
@click.option("--out", "-o", required=True, metavar="FILE.html", help="The page to write.")
@click.option("--text-col", default=None, help="Column holding the texts. [default: the model's]")
@click.option("--label-col", default="label", show_default=True, help="Column holding the true labels.")
@click.option("--label-cols", default=None, metavar="A,B,...",
              help="Multi-label: the 0/1 label columns. [default: the model's labels]")
@click.option("--label-sep", default=None, metavar="SEP", help="Multi-label: --label-col holds label sets.")
@runtime_options
@input_options
def report(model_path: str, test_path: str, out: str, strict: bool, quiet: bool, **options: Any) -> None:
    """Score a trained model on TEST and write the report as one HTML page."""
    from .classifier import TextClassifier
    from .data import read_rows
    from .report import build_report
    from .textio import atomic_path, check_output_path

    check_output_path(out, (".html",))
    model = TextClassifier.load(model_path, strict=strict, progress=_progress(quiet),
                                **{k: v for k, v in options.items() if k not in COLUMN_FLAGS})
    X, labels = read_rows(test_path, _test_columns(model, options), strict)
    page, result = build_report(model, X, labels, title=f"{model_path} on {test_path}")
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    if not quiet:
        score = f"accuracy {result['accuracy']:.4f}" if "accuracy" in result \
            else f"micro-F1 {result['micro_f1']:.4f}"
        _stderr(f"wrote the report on {result['n']} texts ({score}) to {out}")


def _test_columns(model: Any, options: dict[str, Any]) -> Any:
    """The columns of a labelled test file for ``model``: its inputs, and the label flags given
    (a multi-label model's own label columns when none are)."""
    from .cli_options import comma_list

    if options["label_cols"] is None and options["label_sep"] is None and model.multilabel_:
        options["label_cols"] = ",".join(map(str, model.classes_))
    return model.columns(text=options["text_col"], label=options["label_col"],
                         labels=comma_list(options["label_cols"]), label_sep=options["label_sep"])
