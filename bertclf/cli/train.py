"""`bertclf train`: a thin shell over TextClassifier (or `--auto`'s search) and the reports."""

from __future__ import annotations

import time
from typing import Any

import click

from bertclf.classify.choices import DEFAULT_FEATURES, DEFAULT_SCALING, FEATURES, HEADS, SCALINGS
from bertclf.classify.choices import TFIDF_KINDS as KINDS
from bertclf.cli._common import (
    CONTEXT,
    C_option,
    _stderr,
    build_embedder,
    cache_options,
    describe,
    embedding_options,
    given,
    input_file,
    input_options,
    json_option,
    label_columns,
    pop_columns,
    print_json,
    refuse_unless,
    report_on_split,
    seed_option,
    slim_option,
    split_options,
    trained_summary,
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
--seed); the saved model is the one that was evaluated. Beside the report, a TF-IDF + logistic
regression baseline is fitted on the same split (--no-baseline skips it).""",
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
@click.option("--finetune/--no-finetune", "auto_finetune", default=True, show_default=True,
              help="Let --auto also fine-tune the encoder, when the budget allows an epoch (scored on the "
                   "same check rows as the best cross-validated candidate).")
@click.option("--auto-finetune", "old_finetune", is_flag=True, hidden=True,
              help="Before 0.4: fine-tuning is now an --auto candidate by default.")
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
def train(train_path: str, out: str, test_path: str | None, holdout: float, seed: int, head: str, C: str,
          features: str, tfidf: str, scaling: str, auto: bool, budget: str, folds: int, auto_finetune: bool,
          old_finetune: bool, few_shot: bool, class_weight: str, baseline: bool, extra_embeddings: str | None,
          threshold: str, calibrate: str | None, slim: bool, as_json: bool, strict: bool, quiet: bool,
          **options: Any) -> None:
    """Train a classifier on BERT embeddings and save it as a model folder.

    Reads texts and labels from TRAIN (.csv .tsv .jsonl .parquet), embeds them (by default beside
    their TF-IDF n-grams: --features hybrid, the measured best default; --auto chooses by
    cross-validation), fits the head, prints accuracy, macro-F1 and per-class scores on the
    held-out or --test rows (micro/macro-F1, ROC-AUC, subset accuracy and Hamming loss for
    multi-label tasks), and writes config.json plus the head's weights (safetensors or XGBoost
    JSON; never pickle) to --out.
    """
    from bertclf.errors import SpecError
    from bertclf.io.modelio import check_model_target
    from bertclf.search.space import parse_budget

    check_model_target(out)
    _check_modes(auto, few_shot, features)
    if auto:
        parse_budget(budget)  # a bad budget fails before any work
    from bertclf.classify.classifier import TextClassifier
    from bertclf.io.labels import is_multilabel, read_split

    if old_finetune:
        _stderr("warning: --auto-finetune is the default now (it goes in 0.4); --no-finetune turns it off")
    columns = pop_columns(options)
    embedder = build_embedder(options, strict, quiet)
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
    model = TextClassifier(embedder, head=head, C=C, random_state=seed,
                           class_weight=None if class_weight == "none" else class_weight,
                           text_col=columns.text, pair_col=columns.pair, meta_cols=list(columns.meta) or None,
                           extra_embeddings=extra_embeddings, join_on=columns.join_on, thresholds=cut,
                           calibrate=calibrate, features=features, tfidf=tfidf, scaling=scaling)
    model.check_params()
    if few_shot:
        learner = _few_shot(model, auto, features)
    split = read_split(train_path, test_path, holdout, seed, columns, strict)
    if given("threshold") and not is_multilabel(split.labels):
        _stderr("warning: --threshold applies to several labels a text (--label-cols, --label-sep): ignored")
    if few_shot and split.eval_labels is not None and not test_path:
        _pairs_left_after_holdout(split, holdout)
    start = time.perf_counter()
    search = None
    if few_shot:
        model = learner.fit(split.texts, split.labels).classifier_
    elif auto:
        from bertclf.render.console import print_leaderboard
        from bertclf.search.auto import auto_train

        model, search = auto_train(split.texts, split.labels, base=model, budget=budget, folds=folds,
                                   finetune=auto_finetune, log=(lambda m: None) if quiet else _stderr,
                                   after_texts=len(split.eval_texts or []))
        if not quiet and not as_json:
            print_leaderboard(search)
    else:
        model.fit(split.texts, split.labels)
    train_seconds = time.perf_counter() - start
    name = search.winner.name if search and search.winner else describe(model)
    name = f"few-shot {name}" if few_shot else name
    metrics = report_on_split(model, split, train_seconds, name, baseline, seed, to_stderr=as_json)
    if search is not None:
        metrics = {**(metrics or {}), "auto": search.summary()}
    model.save(out, metrics=metrics, label_columns=label_columns(columns), self_contained=not slim)
    if as_json:
        print_json(trained_summary(out, name, model, metrics))
    if not quiet:
        kind = "multi-label " if model.task == "multi-label" else ""
        if not hasattr(model, "embedder_"):
            reads = "a fine-tuned encoder"
        elif model.features == "tfidf":
            reads = "TF-IDF n-grams"
        else:
            used = model.embedder_.settings()  # --auto may have chosen other layers or pooling
            reads = f"{used.pooling} embeddings of layers {list(used.layers)}"
        _stderr(f"saved {kind}{name} model ({len(model.classes_)} labels, {reads}) to {out}; trained on "
                f"{len(split.texts)} texts in {train_seconds:.1f} s")


def _check_modes(auto: bool, few_shot: bool, features: str) -> None:
    """Refuse the options that the chosen way of training would ignore (issue 38: --budget
    without --auto trained as if it were not there)."""
    searching = {"budget": "--budget", "folds": "--folds", "auto_finetune": "--finetune/--no-finetune"}
    refuse_unless(auto, searching, "only with --auto")
    refuse_unless(features != "embedding" or auto, {"tfidf": "--tfidf"},
                  "only with --features tfidf or hybrid")
    refuse_unless(features != "tfidf" or auto, {"scaling": "--scaling"},
                  "only with --features embedding or hybrid")
    refuse_unless(not few_shot, {"class_weight": "--class-weight"}, "to the head, not to --few-shot yet")


def _pairs_left_after_holdout(split: Any, holdout: float) -> None:
    """Few-shot tuning needs two texts of every class; name the hold-out when it is what took
    them (FewShot itself only sees what is left, and would say a class of two "has 1")."""
    from collections import Counter

    import numpy as np

    from bertclf.errors import InputError

    kept = Counter(np.asarray(split.labels, dtype=str).tolist())
    held = Counter(np.asarray(split.eval_labels, dtype=str).tolist())
    short = [c for c in held if kept[c] < 2 <= kept[c] + held[c]]  # two or more in the file
    if short:
        raise InputError(f"few-shot learning needs at least 2 texts in every class, and after holding "
                         f"{holdout:.0%} of TRAIN out for the report {', '.join(short)} "
                         f"{'has' if len(short) == 1 else 'have'} fewer: give --holdout 0 or a --test file")


def _few_shot(model: Any, auto: bool, features: str) -> Any:
    """The ``FewShot`` learner for ``train --few-shot``, with the encoder, columns and head of
    ``model``; its features are frozen embeddings unless --features says otherwise."""
    from bertclf.errors import SpecError
    from bertclf.finetune.fewshot import FewShot

    if auto:
        raise SpecError("--few-shot and --auto are two ways to train: pick one (--auto scores few-shot "
                        "tuning itself when TRAIN is small)")
    if model.pair_col or model.meta_cols or model.extra_embeddings is not None:
        raise SpecError("--few-shot reads single texts: drop --pair-col, --meta-cols and --extra-embeddings")
    if model.calibrate:
        raise SpecError("--few-shot does not calibrate yet: drop --calibrate")
    explicit = click.get_current_context().get_parameter_source("features").name == "COMMANDLINE"
    e = model.embedder
    return FewShot(e.model, pooling=e.pooling, max_length=e.max_length, device=e.device,
                   backend=e.backend, seed=model.random_state, threads=e.threads,
                   features=features if explicit else "embedding",
                   C=model.C, head=model.head, text_col=model.text_col, progress=e.progress)
