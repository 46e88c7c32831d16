"""`bertclf evaluate` and `report`: a saved model scored on labelled texts, as a table or a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bertclf.cli._common import (
    CONTEXT,
    _progress,
    _stderr,
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
  bertclf evaluate tickets-model test.csv
  bertclf evaluate tickets-model test.csv --plot confusion.png   # and confusion-reliability.png
  bertclf evaluate tickets-model test.jsonl --text-col body --label-col topic --json > report.json
  bertclf evaluate toxic-model test.csv --plot per-label.png     # multi-label: the model's label columns
  bertclf evaluate tags-model test.csv --label-col tags --label-sep ";"

\b
Test labels the model never saw are listed and counted as errors, not a crash.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("test_path", metavar="TEST", callback=input_file)
@text_col_option(None)
@click.option("--label-col", default=None, help="Column holding the true labels. [default: the model's]")
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
    from bertclf.classify.classifier import TextClassifier
    from bertclf.evaluate.metrics import evaluate_model
    from bertclf.io.files import check_output_path
    from bertclf.io.labels import read_rows
    from bertclf.render.console import print_report
    from bertclf.render.figures import PLOT_FORMATS, plot_confusion, plot_label_scores

    if plot is not None:
        check_output_path(plot, PLOT_FORMATS)
    model = TextClassifier.load(model_path, strict=strict, progress=_progress(quiet),
                                **{k: v for k, v in options.items() if k not in COLUMN_FLAGS})
    X, labels = read_rows(test_path, _test_columns(model, options), strict)
    report = evaluate_model(model, X, labels)
    if as_json:
        report = {"model": model_path, "test": test_path, **report}
        print_json(report)
    else:
        print_report(report, title=f"{model_path} on {test_path}")
    if plot is not None:
        multilabel = model.task == "multi-label"
        draw = plot_label_scores if multilabel else plot_confusion
        draw(report, plot, title=f"{model_path} on {test_path}")
        if not quiet:
            _stderr(f"wrote the {'per-label scores' if multilabel else 'confusion matrix'} to {plot}")
        if "calibration" in report:
            from bertclf.render.figures import reliability_figure, save_figure

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
  bertclf report tickets-model test.csv --out report.html --json   # the headline numbers as JSON

\b
One self-contained page (inline SVG, no script or network): the metrics, per-class precision,
recall and F1 as bars, the confusion matrix as a heat map, a 2-D map of the test embeddings
coloured by true label with the mistakes marked (hover a point to read its text; at most 3,000
points), and the 20 most confidently wrong texts, where label noise tends to hide.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("test_path", metavar="TEST", callback=input_file)
@click.option("--out", "-o", required=True, metavar="FILE.html", help="The page to write.")
@text_col_option(None)
@click.option("--label-col", default=None, help="Column holding the true labels. [default: the model's]")
@click.option("--label-cols", default=None, metavar="A,B,...",
              help="Multi-label: the 0/1 label columns. [default: the model's labels]")
@click.option("--label-sep", default=None, metavar="SEP", help="Multi-label: --label-col holds label sets.")
@runtime_options
@json_option
@input_options
def report(model_path: str, test_path: str, out: str, as_json: bool, strict: bool, quiet: bool,
           **options: Any) -> None:
    """Score a trained model on TEST and write the report as one HTML page."""
    from bertclf.classify.classifier import TextClassifier
    from bertclf.io.files import atomic_path, check_output_path
    from bertclf.io.labels import read_rows
    from bertclf.render.report import build_report

    check_output_path(out, (".html",))
    model = TextClassifier.load(model_path, strict=strict, progress=_progress(quiet),
                                **{k: v for k, v in options.items() if k not in COLUMN_FLAGS})
    X, labels = read_rows(test_path, _test_columns(model, options), strict)
    page, result = build_report(model, X, labels, title=f"{model_path} on {test_path}")
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    if as_json:
        from bertclf.evaluate.metrics import headline

        print_json({"model": model_path, "test": test_path, "out": out, **headline(result)})
    elif not quiet:
        score = f"accuracy {result['accuracy']:.4f}" if "accuracy" in result \
            else f"micro-F1 {result['micro_f1']:.4f}"
        _stderr(f"wrote the report on {result['n']} texts ({score}) to {out}")


def _test_columns(model: Any, options: dict[str, Any]) -> Any:
    """The columns of a labelled test file for ``model``: its inputs, and the label flags given,
    else where its training file kept its labels (else 'label', or a multi-label model's own
    label columns)."""
    from bertclf.cli._common import comma_list

    trained = getattr(model, "label_columns_", None) or {}
    if options["label_col"] is None and options["label_cols"] is None and options["label_sep"] is None:
        options["label_sep"] = trained.get("label_sep")
        options["label_cols"] = ",".join(map(str, trained.get("label_cols") or ())) or None
        if model.task == "multi-label" and not options["label_cols"] and not options["label_sep"]:
            options["label_cols"] = ",".join(map(str, model.classes_))
    label = options["label_col"] or trained.get("label_col") or "label"
    return model.columns(text=options["text_col"], label=label,
                         labels=comma_list(options["label_cols"]), label_sep=options["label_sep"])
