"""`bertclf finetune` and `bertclf compare`: thin shells over FineTuner and bertclf.compare."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click
from click.core import ParameterSource

from .cli_options import (
    COLUMN_KEYS,
    CONTEXT,
    _progress,
    _stderr,
    input_options,
    model_option,
    pop_columns,
    split_options,
    stack_options,
)
from .cli_train import report_on_split
from .heads import HEADS

# CLI option -> FineTuner parameter, for the options that shape the run (recorded in checkpoints).
TUNER_OPTIONS = ("model", "pooling", "max_length", "epochs", "lr", "batch_size", "warmup", "weight_decay",
                 "val_fraction", "early_stopping", "grad_accum", "precision", "seed", "long", "head_tokens")
FILE_OPTIONS = ("train_path", "test_path", "text_col", "label_col", "label_cols", "label_sep", "pair_col",
                "holdout")

tuning_options = stack_options(
    click.option("--epochs", type=int, default=3, show_default=True, help="Passes over the training texts."),
    click.option("--lr", type=float, default=5e-5, show_default=True, help="Peak learning rate (AdamW)."),
    click.option("--batch-size", type=int, default=32, show_default=True, help="Texts per micro-batch."),
    click.option("--max-length", type=int, default=None,
                 help="Tokens kept per text. [default: 128, or the model's limit if lower]"),
    click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda",
                 help="Where to run; auto picks a GPU when torch sees one."),
)


@click.command(
    short_help="Fine-tune the encoder end to end and save a model folder.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf finetune examples/support_tickets.csv --out tickets-ft --epochs 4
  bertclf finetune train.csv --test test.csv --out model --lr 3e-5 --max-length 64
  bertclf finetune train.csv --out model --batch-size 8 --grad-accum 4 --device cuda
  bertclf finetune comments.csv --label-cols toxic,insult,threat --out toxic-ft
  bertclf finetune qa.csv --text-col question --pair-col answer --out qa-ft
  bertclf finetune news.csv --long head-tail --max-length 512 --out news-ft
  bertclf finetune --resume model          # continue an interrupted run

\b
Without --test, a stratified, seeded 20% of TRAIN is held out for the report, as in `train`;
--val-fraction of the rest picks the best epoch. A checkpoint is written to OUT/checkpoint every
epoch, every --checkpoint-minutes and on Ctrl-C; the finished model replaces it. The model folder
works with `predict` and `evaluate`, and OUT/encoder loads with AutoModel.from_pretrained.""",
)
@click.argument("train_path", metavar="[TRAIN]", required=False)
@click.option("--out", "-o", default=None, metavar="DIR",
              help="Model folder to write (checkpoints go to DIR/checkpoint while training).")
@split_options
@model_option
@click.option("--pooling", default=None, metavar="cls|mean|max",
              help="Pooling of the last layer under the classifier. [default: the model's own, else mean]")
@tuning_options
@click.option("--warmup", type=float, default=0.1, show_default=True,
              help="Warm-up: a fraction of all steps (<1) or a number of steps.")
@click.option("--weight-decay", type=float, default=0.01, show_default=True,
              help="AdamW weight decay (never on biases and LayerNorm).")
@click.option("--val-fraction", type=float, default=0.1, show_default=True,
              help="Share of the training texts used to pick the best epoch; 0: keep the last.")
@click.option("--early-stopping", type=int, default=2, show_default=True, metavar="EPOCHS",
              help="Stop after this many epochs without a better validation accuracy; 0: never.")
@click.option("--grad-accum", type=int, default=1, show_default=True,
              help="Micro-batches per optimizer step (a bigger effective batch in the same memory).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
              show_default=True,
              help="auto: bf16 autocast on a GPU (fp16 where bf16 is missing), fp32 on CPU.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch. [default: all cores]")
@click.option("--long", type=click.Choice(["truncate", "head-tail", "guide"]), default="truncate",
              show_default=True, help="Texts over --max-length: keep the start, the start and end, or the "
                                      "most informative sentences (see `train --help`).")
@click.option("--head-tokens", type=int, default=None, metavar="N",
              help="head-tail: tokens from the start. [default: a quarter of the budget]")
@click.option("--seed", type=int, default=13, show_default=True, help="Seed for the splits and training.")
@click.option("--checkpoint-minutes", type=float, default=10.0, show_default=True,
              help="Also checkpoint this often within an epoch.")
@click.option("--resume", "resume_dir", default=None, metavar="DIR",
              help="Continue the interrupted run checkpointed in DIR (TRAIN and settings as recorded).")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also score TF-IDF + logistic regression on the same split.")
@input_options
def finetune(train_path: str | None, out: str | None, resume_dir: str | None, baseline: bool, strict: bool,
             quiet: bool, **options: Any) -> None:
    """Fine-tune the encoder end to end with a classification layer; save a model folder.

    AdamW, linear warm-up then decay, gradient clipping, best epoch kept by validation accuracy,
    early stopping; a progress bar shows loss, validation accuracy, texts/s and ETA. Reports on the
    held-out or --test rows like `train`, with the TF-IDF baseline beside it.
    """
    from .checkpoint import read_state
    from .data import read_split
    from .errors import SpecError
    from .finetune import FineTuner
    from .modelio import check_model_target
    from .training import Interrupted

    ctx = click.get_current_context()
    given = {name for name in ctx.params if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    files = {"train_path": train_path, **{k: options.pop(k) for k in FILE_OPTIONS if k in options}}
    if resume_dir is not None:
        if out is not None and os.path.abspath(out) != os.path.abspath(resume_dir):
            raise SpecError("--resume continues in its own folder: leave out --out or give the same folder")
        out = resume_dir
        state = read_state(resume_dir)
        recorded = state.get("meta") or {}
        files = {k: files[k] if k in given else recorded.get(k, files[k]) for k in FILE_OPTIONS}
        options.update({k: v for k, v in (state.get("params") or {}).items()
                        if k in TUNER_OPTIONS and k not in given})
    elif train_path is None or out is None:
        raise click.UsageError("give TRAIN and --out (or --resume DIR to continue a run)")
    if not files["train_path"]:
        raise SpecError(f"the checkpoint in {resume_dir} does not record its training file; give TRAIN")
    check_model_target(out)
    tuner = FineTuner(**{k: options[k] for k in TUNER_OPTIONS}, device=options["device"],
                      threads=options["threads"], output_dir=out,
                      checkpoint_minutes=options["checkpoint_minutes"], strict=strict,
                      progress=_progress(quiet), verbose=not quiet)
    columns = pop_columns({k: v for k, v in files.items() if k in COLUMN_KEYS})
    tuner.set_params(text_col=columns.text, pair_col=columns.pair)
    tuner.check_params()
    split = read_split(files["train_path"], files["test_path"], files["holdout"], tuner.seed, columns, strict)
    meta = {**files, "train_path": os.path.abspath(files["train_path"]),
            "test_path": os.path.abspath(files["test_path"]) if files["test_path"] else None}
    start = time.perf_counter()
    try:
        tuner.fit(split.texts, split.labels, resume=resume_dir is not None, meta=meta)
    except Interrupted as exc:
        hint = f"; continue with: bertclf finetune --resume {out}" if exc.checkpoint else ""
        raise Interrupted(f"{exc}{hint}", exc.checkpoint) from None
    train_seconds = time.perf_counter() - start
    metrics = report_on_split(tuner, split, train_seconds, "fine-tuned encoder", baseline, tuner.seed)
    tuner.save(out, metrics=metrics)
    if not quiet:
        t = tuner.training_
        _stderr(f"saved fine-tuned model ({len(tuner.classes_)} labels, best epoch {t['best_epoch']} of "
                f"{t['epochs_run']}) to {out}; trained on {t['texts']} texts in {train_seconds:.1f} s")


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
@click.argument("train_path", metavar="TRAIN")
@split_options
@click.option("--approaches", default="tfidf,frozen,finetune", show_default=True,
              help="Comma list of tfidf, frozen, finetune.")
@model_option
@click.option("--head", type=click.Choice(HEADS), default="logreg", show_default=True,
              help="Head of the frozen approach.")
@click.option("-C", "--C", "C", type=float, default=1.0, show_default=True, help="C of the frozen head.")
@tuning_options
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--plot", default=None, metavar="FILE", help="Bar chart as .png, .svg or .pdf.")
@input_options
def compare(train_path: str, test_path: str | None, holdout: float, approaches: str, model: str, head: str,
            C: float, epochs: int, lr: float, batch_size: int, max_length: int | None, device: str, seed: int,
            as_json: bool, plot: str | None, strict: bool, quiet: bool, **column_flags: Any) -> None:
    """Compare TF-IDF + logistic regression, frozen embeddings + head, and fine-tuning.

    All approaches train on the same texts and are scored on the same --test file (or hold-out):
    accuracy, macro-F1, train time, predict texts/s and size on disk, in one table.
    """
    from .classifier import TextClassifier
    from .compare import compare as run_compare
    from .compare import parse_approaches, plot_comparison, print_comparison
    from .data import read_split
    from .embedder import Embedder
    from .errors import SpecError
    from .evaluation import PLOT_FORMATS
    from .finetune import FineTuner
    from .heads import check_head_params
    from .textio import check_output_path

    columns = pop_columns(column_flags)
    if columns.multilabel or columns.pair:
        raise SpecError("compare scores one label per single text; for multi-label data or sentence pairs "
                        "use train and finetune, which report beside the TF-IDF baseline")
    chosen = parse_approaches(approaches)
    if plot is not None:
        check_output_path(plot, PLOT_FORMATS)
    check_head_params(head, C)
    progress = _progress(quiet)
    embedder = Embedder(model, batch_size=batch_size, device=device, strict=strict, progress=progress)
    classifier = TextClassifier(embedder, head=head, C=C, random_state=seed, features="embedding")
    tuner = FineTuner(model, epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                      device=device, seed=seed, strict=strict, progress=progress, verbose=not quiet)
    if "frozen" in chosen:
        embedder.settings()
    if "finetune" in chosen:
        tuner.check_params()
    split = read_split(train_path, test_path, holdout, seed, columns, strict)
    if split.eval_texts is None:
        raise click.UsageError("compare needs rows to score on: give --test, or a --holdout above 0")
    rows = run_compare(split.texts, split.labels, split.eval_texts, split.eval_labels, chosen,
                       classifier=classifier, finetuner=tuner, seed=seed,
                       log=None if quiet else _stderr)
    title = f"{len(split.texts)} training texts, scored on {split.description}"
    if as_json:
        click.echo(json.dumps({"train": train_path, "evaluated_on": split.description, "rows": rows},
                              indent=2, ensure_ascii=False, default=str))
    else:
        print_comparison(rows, title=title)
    if plot is not None:
        plot_comparison(rows, plot, title=title)
        if not quiet:
            _stderr(f"wrote the comparison chart to {plot}")
