"""`bertclf train`: parse the flags, call ``search.training.train_model``, render what it returns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from bertclf.classify.settings import DEFAULT_FEATURES, DEFAULT_SCALING, FEATURES, HEADS, SCALINGS
from bertclf.classify.settings import TFIDF_KINDS as KINDS
from bertclf.cli._common import (
    CONTEXT,
    C_option,
    _stderr,
    build_embedder,
    cache_options,
    embedding_options,
    given,
    input_file,
    input_options,
    json_option,
    pop_columns,
    refuse_unless,
    save_trained,
    seed_option,
    slim_option,
    split_options,
)
from bertclf.search.space import DEFAULT_BUDGET, DEFAULT_FOLDS


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf train examples/support_tickets.csv --out tickets-model
  bertclf train train.csv --test test.csv --auto --budget 10m --out model   # TF-IDF, frozen, hybrid, tuned
  bertclf train train.csv --auto --budget 2m --no-finetune --out model   # frozen encoder only
  bertclf train comments.csv --label-cols toxic,insult --auto --out model   # several labels, by micro-F1
  bertclf train tickets.csv --time-col created --auto --out model   # hold out and check on the latest rows
  bertclf train train.csv --out model --features embedding -C auto   # frozen embeddings alone, C by CV
  bertclf train eight_per_class.csv --few-shot --out model   # few labels: tune the encoder on pairs
  bertclf train train.csv --out model --json > train.json   # metrics as JSON; the report goes to stderr
  bertclf train train.csv --test test.csv --out model --head svm --class-weight balanced
  bertclf train train.csv --test test.csv --out model --calibrate isotonic   # trustworthy probabilities
  bertclf train train.csv --out model --backend onnx --no-cache    # exact fp32 vectors, no cache
  bertclf train reviews.jsonl --text-col body --label-col stars --out model --head xgboost
  bertclf train train.csv --out model --pooling cls --layers -4..-1 --layer-agg concat -C 0.5
  bertclf train comments.csv --label-cols toxic,insult,threat --out toxic-model
  bertclf train posts.csv --label-col tags --label-sep ";" --out tags-model
  bertclf train news.csv --long chunk --max-length 512 --out news-model
  bertclf train qa.csv --text-col question --pair-col answer --out qa-model
  bertclf train train.csv --out model --slim   # kilobytes: no encoder inside (predicts with the full install)
  bertclf train books.csv --meta-cols year,publisher,pages --out books-model
  bertclf train books.csv --extra-embeddings authors.parquet --join-on author --out books-model

\b
Without --test, a stratified, seeded 20% of TRAIN is held out for the report (--holdout,
--seed); with --time-col, the latest 20%. The saved model is the one that was evaluated. Beside
the report, a TF-IDF + logistic regression baseline is fitted on the same split (--no-baseline
skips it).""",
)
@click.argument("train_path", metavar="TRAIN", callback=input_file)
@click.option("--out", "-o", required=True, metavar="DIR",
              help="Model folder to write (an existing model folder there is replaced atomically).")
@split_options
@seed_option("Seed for the split and the head.")
@click.option("--head", type=click.Choice(HEADS), default="logreg", show_default=True,
              help="Classifier on the embeddings.")
@C_option("Inverse regularisation strength (logreg, svm; mlp penalty 1e-4/C); 'auto' picks it by a quick "
          "3-fold cross-validation on TRAIN.")
@click.option("--features", type=click.Choice(FEATURES), default=DEFAULT_FEATURES, show_default=True,
              help="What the head reads: BERT embeddings, TF-IDF n-grams (no encoder), or both (hybrid).")
@click.option("--tfidf", type=click.Choice(KINDS), default="word", show_default=True,
              help="TF-IDF n-grams of --features tfidf|hybrid: words, or words and characters.")
@click.option("--scaling", type=click.Choice(SCALINGS), default=DEFAULT_SCALING, show_default=True,
              help="Embedding scaling before the head: per-dimension standardisation, unit length, none.")
@click.option("--auto", is_flag=True,
              help="Choose TF-IDF, frozen embeddings or a hybrid (and scaling, layers, pooling, head, C) "
                   "by k-fold cross-validation on TRAIN, or fine-tuning where the budget allows; scores the "
                   "winner on 15% of TRAIN set aside first; prints a leaderboard and saves the winner.")
@click.option("--budget", default=DEFAULT_BUDGET, show_default=True, metavar="TIME",
              help="--auto's time budget: 90s, 10m, 1h.")
@click.option("--folds", type=click.IntRange(2, 20), default=DEFAULT_FOLDS, show_default=True,
              help="--auto's cross-validation folds (fewer when the rarest label has fewer texts).")
@click.option("--finetune/--no-finetune", "finetune", default=True, show_default=True,
              help="Let --auto also fine-tune the encoder, when the budget allows an epoch (scored on the "
                   "same check rows as the best cross-validated candidate).")
@click.option("--few-shot", "few_shot", is_flag=True,
              help="A handful of texts per class: tune the encoder contrastively on pairs of them "
                   "(SetFit-style), then fit the head on the tuned embeddings; the folder carries the "
                   "tuned encoder.")
@click.option("--class-weight", type=click.Choice(["none", "balanced"]), default="none",
              show_default=True, help="'balanced' weighs classes inversely to their frequency.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also score TF-IDF + logistic regression on the same split.")
@click.option("--meta-cols", default=None, metavar="A,B,...",
              help="Columns fused with the text embedding: numbers standardised, categories one-hot "
                   "(hashed past 30 values), gaps imputed.")
@click.option("--time-col", default=None, metavar="COL",
              help="A column of dates or numbers giving each row's time: the hold-out and --auto's check "
                   "rows become the latest rows instead of a shuffled draw (the model is not given it).")
@click.option("--extra-embeddings", default=None, metavar="FILE", callback=input_file,
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
@slim_option
@json_option
@input_options
def train(train_path: str, out: str, test_path: str | None, holdout: float, seed: int, auto: bool,
          few_shot: bool, baseline: bool, slim: bool, as_json: bool, strict: bool, quiet: bool,
          **options: Any) -> None:
    """Train a classifier on BERT embeddings and save it as a model folder.

    Reads texts and labels from TRAIN (.csv .tsv .jsonl .parquet), embeds them (by default beside
    their TF-IDF n-grams: --features hybrid, the measured best default; --auto chooses by
    cross-validation), fits the head, prints accuracy, macro-F1 and per-class scores on the
    held-out or --test rows (micro/macro-F1, ROC-AUC, subset accuracy and Hamming loss for
    multi-label tasks), and writes config.json plus the head's weights (safetensors or XGBoost
    JSON; never pickle) to --out.
    """
    from bertclf.io.modelio import check_model_target

    check_model_target(out)
    way = "auto" if auto else "few-shot" if few_shot else "plain"
    search = {key: options.pop(key) for key in ("budget", "folds", "finetune")}
    if few_shot and not given("features"):
        options["features"] = "embedding"  # few-shot tuning measured best on the tuned embeddings alone
    _check_modes(way, options["features"], search["budget"])
    from bertclf.errors import SpecError
    from bertclf.io.labels import is_multilabel, read_split
    from bertclf.render.console import print_leaderboard
    from bertclf.search.training import check_way, train_model

    time_col = options.pop("time_col")
    if time_col is not None and test_path and way != "auto":
        raise SpecError("--time-col orders the hold-out and --auto's check rows: with --test and without "
                        "--auto it would change nothing; drop it or add --auto")
    columns = replace(pop_columns(options), time=time_col or None)
    model = _classifier(options, columns, seed, strict, quiet)
    check_way(way, model)  # before the file is read
    split = read_split(train_path, test_path, holdout, seed, columns, strict)
    if given("threshold") and not is_multilabel(split.labels):
        _stderr("warning: --threshold applies to several labels a text (--label-cols, --label-sep): ignored")
    trained = train_model(model, split, way, **search, baseline=baseline, log=None if quiet else _stderr)
    if trained.search is not None and not quiet and not as_json:
        print_leaderboard(trained.search)
    save_trained(trained, out, columns, slim, as_json, quiet)


def _classifier(options: dict[str, Any], columns: Any, seed: int, strict: bool, quiet: bool) -> Any:
    """The unfitted TextClassifier that the head and feature flags describe, its settings checked."""
    from bertclf.classify.classifier import TextClassifier

    weight = options.pop("class_weight")
    model = TextClassifier(build_embedder(options, strict, quiet), random_state=seed,
                           class_weight=None if weight == "none" else weight, text_col=columns.text,
                           pair_col=columns.pair, meta_cols=list(columns.meta) or None,
                           join_on=columns.join_on,
                           thresholds=parse_threshold(options.pop("threshold")),
                           **{key: options.pop(key) for key in ("head", "C", "features", "tfidf", "scaling",
                                                                "calibrate", "extra_embeddings")})
    model.check_params()
    return model


def _check_modes(way: str, features: str, budget: str) -> None:
    """Refuse the options that the chosen way of training would ignore (issue 38: --budget
    without --auto trained as if it were not there), cheaply, before anything is imported."""
    from bertclf.errors import SpecError
    from bertclf.search.space import parse_budget

    auto = way == "auto"
    searching = {"budget": "--budget", "folds": "--folds", "finetune": "--finetune/--no-finetune"}
    refuse_unless(auto, searching, "only with --auto")
    refuse_unless(features != "embedding" or auto, {"tfidf": "--tfidf"},
                  "only with --features tfidf or hybrid")
    refuse_unless(features != "tfidf" or auto, {"scaling": "--scaling"},
                  "only with --features embedding or hybrid")
    refuse_unless(way != "few-shot", {"class_weight": "--class-weight"}, "to the head, not to --few-shot yet")
    if given("auto") and given("few_shot"):
        raise SpecError("--few-shot and --auto are two ways to train: pick one (--auto scores few-shot "
                        "tuning itself when TRAIN is small)")
    if auto:
        parse_budget(budget)  # a bad budget fails before any work
        searched = given("head", "C", "features", "tfidf", "scaling")
        if searched:
            flags = {"head": "--head", "C": "-C", "features": "--features", "tfidf": "--tfidf",
                     "scaling": "--scaling"}
            raise SpecError(f"--auto chooses {', '.join(flags[n] for n in searched)} itself: drop it, or "
                            f"train without --auto")


def parse_threshold(threshold: str) -> str | float:
    """--threshold: 'tune' or a probability."""
    from bertclf.errors import SpecError

    try:
        return threshold if threshold == "tune" else float(threshold)
    except ValueError:
        raise SpecError(f"--threshold must be 'tune' or a probability, got {threshold!r}") from None
