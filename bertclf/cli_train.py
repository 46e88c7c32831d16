"""`bertclf train`: a thin shell over TextClassifier (or `--auto`'s search) and the reports."""

from __future__ import annotations

import time
from typing import Any

import click

from .autosearch import DEFAULT_FOLDS
from .classifier import DEFAULT_C, DEFAULT_FEATURES, DEFAULT_SCALING, FEATURES, SCALINGS
from .cli_options import (
    CONTEXT,
    _progress,
    _stderr,
    cache_options,
    embedding_options,
    input_options,
    pop_columns,
    pop_embedding_options,
    split_options,
)
from .heads import HEADS
from .searchspace import DEFAULT_BUDGET
from .tfidf import KINDS


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
