"""`bertclf compare`: TF-IDF, frozen embeddings and fine-tuning on one split, in one table."""

from __future__ import annotations

from typing import Any

import click

from bertclf.classify.settings import HEADS
from bertclf.cli._common import (
    CONTEXT,
    C_option,
    _progress,
    _stderr,
    input_file,
    input_options,
    json_option,
    model_option,
    pop_columns,
    print_json,
    seed_option,
    split_options,
    tuning_options,
)


@click.command(
    short_help="Compare TF-IDF, frozen embeddings and fine-tuning on one split.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf compare train.csv --test test.csv
  bertclf compare examples/support_tickets.csv --approaches tfidf,frozen --plot compare.png
  bertclf compare train.csv --test test.csv --head svm --epochs 2 --json > compare.json

\b
Frozen and fine-tuned models are saved to a temporary folder and loaded back before they predict,
so speed and size are those of the model you would ship. A frozen model's folder holds only its
head; the encoder it uses is shared and shown apart.""",
)
@click.argument("train_path", metavar="TRAIN", callback=input_file)
@split_options
@click.option("--approaches", default="tfidf,frozen,finetune", show_default=True,
              help="Comma list of tfidf, frozen, finetune.")
@model_option
@click.option("--head", type=click.Choice(HEADS), default="logreg", show_default=True,
              help="Head of the frozen approach.")
@C_option("C of the frozen head: a number, or auto for a quick cross-validation.")
@tuning_options
@seed_option()
@json_option
@click.option("--plot", default=None, metavar="FILE", help="Bar chart as .png, .svg or .pdf.")
@input_options
def compare(train_path: str, test_path: str | None, holdout: float, approaches: str, seed: int, as_json: bool,
            plot: str | None, strict: bool, quiet: bool, **options: Any) -> None:
    """Compare TF-IDF + logistic regression, frozen embeddings + head, and fine-tuning.

    All approaches train on the same texts and are scored on the same --test file (or hold-out):
    accuracy, macro-F1, train time, predict texts/s and size on disk, in one table.
    """
    from bertclf.errors import SpecError
    from bertclf.io.files import check_output_path
    from bertclf.io.labels import read_split
    from bertclf.render.console import print_comparison
    from bertclf.render.figures import PLOT_FORMATS, plot_comparison
    from bertclf.search.comparison import compare as run_compare
    from bertclf.search.comparison import parse_approaches

    columns = pop_columns(options)
    if columns.multilabel or columns.pair:
        raise SpecError("compare scores one label per single text; for multi-label data or sentence pairs "
                        "use train and finetune, which report beside the TF-IDF baseline")
    chosen = parse_approaches(approaches)
    if plot is not None:
        check_output_path(plot, PLOT_FORMATS)
    classifier, tuner = _contenders(chosen, options, seed, strict, quiet)
    split = read_split(train_path, test_path, holdout, seed, columns, strict)
    if split.eval_texts is None:
        raise click.UsageError("compare needs rows to score on: give --test, or a --holdout above 0")
    rows = run_compare(split.texts, split.labels, split.eval_texts, split.eval_labels, chosen,
                       classifier=classifier, finetuner=tuner, seed=seed, log=None if quiet else _stderr)
    title = f"{len(split.texts)} training texts, scored on {split.description}"
    if as_json:
        print_json({"train": train_path, "evaluated_on": split.description, "rows": rows})
    else:
        print_comparison(rows, title=title)
    if plot is not None:
        plot_comparison(rows, plot, title=title)
        if not quiet:
            _stderr(f"wrote the comparison chart to {plot}")


def _contenders(chosen: Any, options: dict[str, Any], seed: int, strict: bool,
                quiet: bool) -> tuple[Any, Any]:
    """The frozen classifier and the fine-tuner the flags describe, each checked when it runs."""
    from bertclf.classify.classifier import TextClassifier
    from bertclf.classify.heads import check_head_params
    from bertclf.encode.embedder import Embedder
    from bertclf.finetune.finetuner import FineTuner

    o = options
    check_head_params(o["head"], 1.0 if o["C"] == "auto" else o["C"])
    progress = _progress(quiet)
    embedder = Embedder(o["model"], batch_size=o["batch_size"], device=o["device"], strict=strict,
                        progress=progress)
    classifier = TextClassifier(embedder, head=o["head"], C=o["C"], random_state=seed, features="embedding")
    tuner = FineTuner(o["model"], epochs=o["epochs"], lr=o["lr"], batch_size=o["batch_size"],
                      max_length=o["max_length"], device=o["device"], seed=seed, strict=strict,
                      progress=progress, verbose=not quiet)
    if "frozen" in chosen:
        embedder.settings()
    if "finetune" in chosen:
        tuner.check_params()
    return classifier, tuner
