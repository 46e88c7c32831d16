"""`bertclf train`, `predict` and `evaluate`: thin shells over TextClassifier and the reports."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from .cli_options import (
    CONTEXT,
    embedding_options,
    input_options,
    pop_embedding_options,
    runtime_options,
    split_options,
)
from .heads import HEADS


def _progress(quiet: bool) -> bool | None:
    return False if quiet else None


def _stderr(message: str) -> None:
    click.echo(message, err=True)


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf train examples/support_tickets.csv --out tickets-model
  bertclf train train.csv --test test.csv --out model --head svm --class-weight balanced
  bertclf train reviews.jsonl --text-col body --label-col stars --out model --head xgboost
  bertclf train train.csv --out model --pooling cls --layers -4..-1 --layer-agg concat -C 0.5

\b
Without --test, a stratified, seeded 20% of TRAIN is held out for the report (--holdout,
--seed); the saved model is the one that was evaluated. Beside the report, a TF-IDF + logistic
regression baseline is fitted on the same split (--no-baseline skips it).""",
)
@click.argument("train_path", metavar="TRAIN")
@click.option("--out", "-o", required=True, metavar="DIR",
              help="Model folder to write (an existing model folder there is replaced atomically).")
@split_options
@click.option("--seed", type=int, default=13, show_default=True, help="Seed for the split and the head.")
@click.option("--head", type=click.Choice(HEADS), default="logreg", show_default=True,
              help="Classifier on the embeddings.")
@click.option("-C", "--C", "C", type=float, default=1.0, show_default=True,
              help="Inverse regularisation strength (logreg, svm; mlp penalty 1e-4/C).")
@click.option("--class-weight", type=click.Choice(["none", "balanced"]), default="none",
              show_default=True, help="'balanced' weighs classes inversely to their frequency.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also score TF-IDF + logistic regression on the same split.")
@embedding_options
@input_options
def train(train_path: str, text_col: str, label_col: str, out: str, test_path: str | None,
          holdout: float, seed: int, head: str, C: float, class_weight: str, baseline: bool,
          strict: bool, quiet: bool, **options: Any) -> None:
    """Train a classifier on BERT embeddings and save it as a model folder.

    Reads texts and labels from TRAIN (.csv .tsv .jsonl .parquet), embeds them, fits the head,
    prints accuracy, macro-F1 and per-class scores on the held-out or --test rows, and writes
    config.json plus the head's weights (safetensors or XGBoost JSON; never pickle) to --out.
    """
    from .classifier import TextClassifier
    from .data import read_split
    from .embedder import Embedder
    from .modelio import check_model_target

    check_model_target(out)
    embedder = Embedder(**pop_embedding_options(options), strict=strict, progress=_progress(quiet))
    settings = embedder.settings()
    split = read_split(train_path, test_path, holdout, seed, text_col, label_col, strict)
    model = TextClassifier(embedder, head=head, C=C, random_state=seed,
                           class_weight=None if class_weight == "none" else class_weight)
    start = time.perf_counter()
    model.fit(split.texts, split.labels)
    train_seconds = time.perf_counter() - start
    metrics = report_on_split(model, split, train_seconds, head, baseline, seed)
    model.save(out, metrics=metrics)
    if not quiet:
        _stderr(f"saved {head} model ({len(model.classes_)} labels, {settings.dim}-dim {settings.pooling} "
                f"embeddings of layers {list(settings.layers)}) to {out}; trained on {len(split.texts)} "
                f"texts in {train_seconds:.1f} s")


def report_on_split(model: Any, split: Any, train_seconds: float, name: str, baseline: bool,
                    seed: int) -> dict[str, Any] | None:
    """Print the report (and the TF-IDF baseline) on the split's evaluation rows; the metrics
    to store in the model folder, or None when nothing was held out."""
    from .baseline import baseline_scores
    from .evaluation import evaluate_predictions, print_report

    if split.eval_texts is None:
        return None
    start = time.perf_counter()
    predicted = model.predict(split.eval_texts)
    rate = len(split.eval_texts) / max(time.perf_counter() - start, 1e-9)
    report = evaluate_predictions(split.eval_labels, predicted, model.classes_)
    print_report(report, title=f"{name} on {split.description}")
    metrics = {"evaluated_on": split.description,
               **{k: report[k] for k in ("n", "accuracy", "macro_f1", "weighted_f1")},
               "train_seconds": round(train_seconds, 2), "predict_texts_per_second": round(rate, 1)}
    if baseline:
        scores = baseline_scores(split.texts, split.labels, split.eval_texts, split.eval_labels, seed)
        metrics["tfidf_logreg_baseline"] = scores
        click.echo(f"TF-IDF + logistic regression on the same split: accuracy {scores['accuracy']:.4f}, "
                   f"macro-F1 {scores['macro_f1']:.4f} (trained in {scores['train_seconds']:.1f} s)")
    return metrics


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf predict tickets-model new_tickets.csv --out predictions.csv
  bertclf predict tickets-model new_tickets.jsonl --text-col body --top-k 2 --out top2.jsonl
  echo "I was charged twice this month" | bertclf predict tickets-model
  bertclf predict tickets-model notes.txt --out predictions.parquet

\b
Table inputs keep all their columns; plain-text inputs (one text per line, '-' for stdin) get a
'text' column. Added: 'label' and one 'p_<class>' column per class, or with --top-k K the K best
labels and their probabilities (top_1, p_top_1, ...). Without --out, CSV goes to stdout.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("input_path", metavar="INPUT", default="-")
@click.option("--text-col", default="text", show_default=True, help="Column holding the texts.")
@click.option("--out", "-o", default=None,
              help="Output: .csv .tsv .jsonl .parquet. [default: CSV on stdout]")
@click.option("--top-k", type=int, default=None, metavar="K",
              help="Write the K best labels instead of every p_<class>.")
@runtime_options
@input_options
def predict(model_path: str, input_path: str, text_col: str, out: str | None, top_k: int | None,
            strict: bool, quiet: bool, **options: Any) -> None:
    """Label texts with a trained model.

    MODEL is a folder written by `bertclf train`; INPUT a table (.csv .tsv .jsonl .parquet, with
    --text-col) or a file with one text per line; without INPUT, texts are read from stdin.
    """
    import pandas as pd

    from .classifier import TextClassifier
    from .errors import SpecError
    from .predictions import prediction_table
    from .textio import (
        TABLE_FORMATS,
        check_output_path,
        is_table_path,
        read_table,
        read_texts,
        table_column,
        write_table,
    )

    if out is not None:
        check_output_path(out, tuple(TABLE_FORMATS))
    model = TextClassifier.load(model_path, strict=strict, progress=_progress(quiet), **options)
    if top_k is not None and not 1 <= top_k <= len(model.classes_):
        raise SpecError(f"--top-k must be between 1 and {len(model.classes_)} (the model's labels), "
                        f"got {top_k}")
    if is_table_path(input_path):
        table = read_table(input_path, strict)
        texts = table_column(table, input_path, text_col, " (choose one with --text-col)")
    else:
        if input_path == "-" and click.get_text_stream("stdin").isatty():
            _stderr("reading texts from stdin, one per line (Ctrl-D to end)")
        texts = read_texts(input_path, strict=strict)
        table = pd.DataFrame({"text": texts})
    model.embedder_.load_encoder()  # so the rate below is about predicting, not loading
    start = time.perf_counter()
    proba = model.predict_proba(texts)
    seconds = time.perf_counter() - start
    result = prediction_table(table, model.classes_, proba, top_k)
    if out is None:
        click.echo(result.to_csv(index=False, float_format="%.6g"), nl=False)
    else:
        write_table(out, result)
    if not quiet:
        where = f" to {out}" if out else ""
        _stderr(f"predicted {len(texts)} text{'s' if len(texts) != 1 else ''}{where} in {seconds:.1f} s "
                f"({len(texts) / max(seconds, 1e-9):,.0f} texts/s)")


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf evaluate tickets-model test.csv
  bertclf evaluate tickets-model test.csv --plot confusion.png
  bertclf evaluate tickets-model test.jsonl --text-col body --label-col topic --json > report.json

\b
Test labels the model never saw are listed and counted as errors, not a crash.""",
)
@click.argument("model_path", metavar="MODEL")
@click.argument("test_path", metavar="TEST")
@click.option("--text-col", default="text", show_default=True, help="Column holding the texts.")
@click.option("--label-col", default="label", show_default=True, help="Column holding the true labels.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", default=None, metavar="FILE",
              help="Write the confusion matrix as .png, .svg or .pdf.")
@runtime_options
@input_options
def evaluate(model_path: str, test_path: str, text_col: str, label_col: str, as_json: bool,
             plot: str | None, strict: bool, quiet: bool, **options: Any) -> None:
    """Score a trained model on labelled texts.

    Prints accuracy, macro-F1, per-class precision, recall, F1 and support, and the confusion
    matrix: as a table, as JSON with --json, and as a picture with --plot.
    """
    from .classifier import TextClassifier
    from .data import read_labelled
    from .evaluation import PLOT_FORMATS, evaluate_predictions, plot_confusion, print_report
    from .textio import check_output_path

    if plot is not None:
        check_output_path(plot, PLOT_FORMATS)
    model = TextClassifier.load(model_path, strict=strict, progress=_progress(quiet), **options)
    texts, labels = read_labelled(test_path, text_col, label_col, strict)
    report = evaluate_predictions(labels, model.predict(texts), model.classes_)
    if as_json:
        report = {"model": model_path, "test": test_path, **report}
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report, title=f"{model_path} on {test_path}")
    if plot is not None:
        plot_confusion(report, plot, title=f"{model_path} on {test_path}")
        if not quiet:
            _stderr(f"wrote the confusion matrix to {plot}")
