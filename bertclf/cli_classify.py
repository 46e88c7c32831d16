"""`bertclf train`, `predict` and `evaluate`: thin shells over TextClassifier and the reports."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .autosearch import DEFAULT_FOLDS
from .classifier import DEFAULT_C, DEFAULT_FEATURES, DEFAULT_SCALING, FEATURES, SCALINGS
from .cli_options import (
    CONTEXT,
    cache_options,
    embedding_options,
    input_options,
    pop_columns,
    pop_embedding_options,
    runtime_options,
    split_options,
)
from .heads import HEADS
from .searchspace import DEFAULT_BUDGET
from .tfidf import KINDS


def _progress(quiet: bool) -> bool | None:
    return False if quiet else None


def _stderr(message: str) -> None:
    click.echo(message, err=True)


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf train examples/support_tickets.csv --out tickets-model
  bertclf train train.csv --test test.csv --auto --budget 10m --out model   # TF-IDF, frozen or both, by CV
  bertclf train train.csv --out model --features embedding -C auto   # frozen embeddings alone, C by CV
  bertclf train train.csv --test test.csv --out model --head svm --class-weight balanced
  bertclf train train.csv --test test.csv --out model --calibrate isotonic   # trustworthy probabilities
  bertclf train train.csv --out model --backend onnx --no-cache    # exact fp32 vectors, no cache
  bertclf train reviews.jsonl --text-col body --label-col stars --out model --head xgboost
  bertclf train train.csv --out model --pooling cls --layers -4..-1 --layer-agg concat -C 0.5
  bertclf train comments.csv --label-cols toxic,insult,threat --out toxic-model
  bertclf train posts.csv --label-col tags --label-sep ";" --out tags-model
  bertclf train news.csv --long chunk --max-length 512 --out news-model
  bertclf train qa.csv --text-col question --pair-col answer --out qa-model
  bertclf train books.csv --meta-cols year,publisher,pages --out books-model
  bertclf train books.csv --extra-embeddings authors.parquet --join-on author --out books-model

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
@click.option("-C", "--C", "C", type=str, default=str(DEFAULT_C), show_default=True, metavar="auto|C",
              help="Inverse regularisation strength (logreg, svm; mlp penalty 1e-4/C); 'auto' picks "
                   "it by a quick 3-fold cross-validation on TRAIN.")
@click.option("--features", type=click.Choice(FEATURES), default=DEFAULT_FEATURES, show_default=True,
              help="What the head reads: BERT embeddings, TF-IDF n-grams (no encoder), or both (hybrid).")
@click.option("--tfidf", type=click.Choice(KINDS), default="word", show_default=True,
              help="TF-IDF n-grams of --features tfidf|hybrid: words, or words and characters.")
@click.option("--scaling", type=click.Choice(SCALINGS), default=DEFAULT_SCALING, show_default=True,
              help="Embedding scaling before the head: per-dimension standardisation, unit length, none.")
@click.option("--auto", is_flag=True,
              help="Choose TF-IDF, frozen embeddings or a hybrid (and scaling, layers, pooling, head, C) "
                   "by k-fold cross-validation on TRAIN; prints a leaderboard and saves the winner.")
@click.option("--budget", default=DEFAULT_BUDGET, show_default=True, metavar="TIME",
              help="--auto's time budget: 90s, 10m, 1h.")
@click.option("--folds", type=click.IntRange(2, 20), default=DEFAULT_FOLDS, show_default=True,
              help="--auto's cross-validation folds (fewer when the rarest label has fewer texts).")
@click.option("--auto-finetune", is_flag=True,
              help="Let --auto also fine-tune the encoder (scored on one fold; slow on a CPU).")
@click.option("--class-weight", type=click.Choice(["none", "balanced"]), default="none",
              show_default=True, help="'balanced' weighs classes inversely to their frequency.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also score TF-IDF + logistic regression on the same split.")
@click.option("--meta-cols", default=None, metavar="A,B,...",
              help="Columns fused with the text embedding: numbers standardised, categories one-hot "
                   "(hashed past 30 values), gaps imputed.")
@click.option("--extra-embeddings", default=None, metavar="FILE",
              help="Table of precomputed vectors (a list column, or numeric columns) joined by --join-on.")
@click.option("--join-on", default=None, metavar="COL",
              help="Key column shared by TRAIN and --extra-embeddings; unknown keys get zeros.")
@click.option("--threshold", default="tune", show_default=True, metavar="tune|P",
              help="Multi-label: per-label cut-offs tuned on 20% of TRAIN for F1, or one probability.")
@click.option("--calibrate", type=click.Choice(["sigmoid", "isotonic"]), default=None,
              help="Calibrate probabilities on 5-fold out-of-fold predictions of TRAIN (the report "
                   "shows the expected calibration error, ECE).")
@embedding_options
@cache_options
@input_options
def train(train_path: str, out: str, test_path: str | None, holdout: float, seed: int, head: str, C: str,
          features: str, tfidf: str, scaling: str, auto: bool, budget: str, folds: int, auto_finetune: bool,
          class_weight: str, baseline: bool, extra_embeddings: str | None, threshold: str,
          calibrate: str | None, strict: bool, quiet: bool, **options: Any) -> None:
    """Train a classifier on BERT embeddings and save it as a model folder.

    Reads texts and labels from TRAIN (.csv .tsv .jsonl .parquet), embeds them (by default beside
    their TF-IDF n-grams: --features hybrid, the measured best default; --auto chooses by
    cross-validation), fits the head, prints accuracy, macro-F1 and per-class scores on the
    held-out or --test rows (micro/macro-F1, ROC-AUC, subset accuracy and Hamming loss for
    multi-label tasks), and writes config.json plus the head's weights (safetensors or XGBoost
    JSON; never pickle) to --out.
    """
    from .classifier import TextClassifier
    from .data import read_split
    from .embedder import Embedder
    from .errors import SpecError
    from .modelio import check_model_target

    check_model_target(out)
    columns = pop_columns(options)
    embedder = Embedder(**pop_embedding_options(options), strict=strict, progress=_progress(quiet))
    embedder.settings()  # a bad embedding option fails before the data is read
    try:
        cut: str | float = threshold if threshold == "tune" else float(threshold)
    except ValueError:
        raise SpecError(f"--threshold must be 'tune' or a probability, got {threshold!r}") from None
    if auto:
        context = click.get_current_context()
        searched = [flag for name, flag in (("head", "--head"), ("C", "-C"), ("features", "--features"),
                                            ("tfidf", "--tfidf"), ("scaling", "--scaling"))
                    if context.get_parameter_source(name).name == "COMMANDLINE"]
        if searched:
            raise SpecError(f"--auto chooses {', '.join(searched)} itself: drop it, or train without --auto")
    model = TextClassifier(embedder, head=head, C=parse_C(C), random_state=seed,
                           class_weight=None if class_weight == "none" else class_weight,
                           text_col=columns.text, pair_col=columns.pair, meta_cols=list(columns.meta) or None,
                           extra_embeddings=extra_embeddings, join_on=columns.join_on, thresholds=cut,
                           calibrate=calibrate, features=features, tfidf=tfidf, scaling=scaling)
    model.check_params()
    split = read_split(train_path, test_path, holdout, seed, columns, strict)
    start = time.perf_counter()
    search = None
    if auto:
        from .autosearch import auto_train, print_leaderboard
        from .searchspace import parse_budget

        parse_budget(budget)  # a bad budget fails before any work
        model, search = auto_train(split.texts, split.labels, base=model, budget=budget, folds=folds,
                                   finetune=auto_finetune, log=(lambda m: None) if quiet else _stderr)
        if not quiet:
            print_leaderboard(search)
    else:
        model.fit(split.texts, split.labels)
    train_seconds = time.perf_counter() - start
    name = search.winner.name if search and search.winner else describe(model)
    metrics = report_on_split(model, split, train_seconds, name, baseline, seed)
    if search is not None:
        metrics = {**(metrics or {}), "auto": search.summary()}
    model.save(out, metrics=metrics)
    if not quiet:
        kind = "multi-label " if getattr(model, "multilabel_", False) else ""
        if not hasattr(model, "embedder_"):
            reads = "a fine-tuned encoder"
        elif model.features == "tfidf":
            reads = "TF-IDF n-grams"
        else:
            used = model.embedder_.settings()  # --auto may have chosen other layers or pooling
            reads = f"{used.pooling} embeddings of layers {list(used.layers)}"
        _stderr(f"saved {kind}{name} model ({len(model.classes_)} labels, {reads}) to {out}; trained on "
                f"{len(split.texts)} texts in {train_seconds:.1f} s")


def parse_C(text: str | float) -> str | float:
    """-C's value: 'auto' or a positive number (one error line otherwise)."""
    from .errors import SpecError

    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise SpecError(f"-C must be 'auto' or a positive number, got {text!r}")
    return value


def describe(model: Any) -> str:
    """'logreg', or 'hybrid logreg' / 'TF-IDF logreg' for the models that read TF-IDF."""
    features = getattr(model, "features", "embedding")
    prefix = {"tfidf": "TF-IDF ", "hybrid": "hybrid "}.get(features, "")
    return f"{prefix}{getattr(model, 'head', 'fine-tuned')}"


def report_on_split(model: Any, split: Any, train_seconds: float, name: str, baseline: bool,
                    seed: int) -> dict[str, Any] | None:
    """Print the report (and the TF-IDF baseline) on the split's evaluation rows; the metrics
    to store in the model folder, or None when nothing was held out."""
    from .baseline import baseline_scores, baseline_texts, multilabel_baseline_scores
    from .evaluation import evaluate_model, headline, print_report

    if split.eval_texts is None:
        return None
    start = time.perf_counter()
    report = evaluate_model(model, split.eval_texts, split.eval_labels)
    rate = report["n"] / max(time.perf_counter() - start, 1e-9)
    print_report(report, title=f"{name} on {split.description}")
    metrics = {"evaluated_on": split.description, **headline(report),
               "train_seconds": round(train_seconds, 2), "predict_texts_per_second": round(rate, 1)}
    if baseline:
        cols = (getattr(model, "text_col", "text"), getattr(model, "pair_col", None))
        train_texts, eval_texts = baseline_texts(split.texts, *cols), baseline_texts(split.eval_texts, *cols)
        if getattr(model, "multilabel_", False):
            scores = multilabel_baseline_scores(train_texts, split.labels, eval_texts, split.eval_labels,
                                                seed)
            summary = (f"micro-F1 {scores['micro_f1']:.4f}, macro-F1 {scores['macro_f1']:.4f} at a 0.5 "
                       f"cut-off, mean ROC-AUC {scores['mean_roc_auc'] or float('nan'):.4f}")
        else:
            scores = baseline_scores(train_texts, split.labels, eval_texts, split.eval_labels, seed)
            summary = f"accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f}"
        metrics["tfidf_logreg_baseline"] = scores
        click.echo(f"TF-IDF + logistic regression on the same split: {summary} "
                   f"(trained in {scores['train_seconds']:.1f} s)")
    return metrics


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
--top-k K the K best labels and their probabilities (top_1, p_top_1, ...). Without --out, CSV goes
to stdout.""",
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
    if model.features != "tfidf":  # a TF-IDF model never needs the encoder
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
        where = f" to {out}" if out else ""
        _stderr(f"predicted {len(proba)} text{'s' if len(proba) != 1 else ''}{where} in {seconds:.1f} s "
                f"({len(proba) / max(seconds, 1e-9):,.0f} texts/s)")


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
