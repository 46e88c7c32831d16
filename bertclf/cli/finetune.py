"""`bertclf finetune`: train the encoder end to end, with checkpoints and --resume."""

from __future__ import annotations

import os
from typing import Any

import click

from bertclf.cli._common import (
    COLUMN_KEYS,
    CONTEXT,
    FILE_OPTIONS,
    TUNER_OPTIONS,
    _progress,
    input_file,
    input_options,
    json_option,
    model_option,
    pooling_option,
    pop_columns,
    save_trained,
    seed_option,
    slim_option,
    split_options,
    threads_option,
    tuning_options,
)
from bertclf.cli._common import (
    given as given_flags,
)


@click.command(
    short_help="Fine-tune the encoder end to end and save a model folder.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf finetune examples/support_tickets.csv --out tickets-ft --epochs 4
  bertclf finetune train.csv --test test.csv --out model --lr 3e-5 --max-length 64
  bertclf finetune train.csv --out model --batch-size 8 --grad-accum 4 --device cuda
  bertclf finetune train.csv --out model --json > finetune.json   # metrics and history as JSON
  bertclf finetune comments.csv --label-cols toxic,insult,threat --out toxic-ft
  bertclf finetune qa.csv --text-col question --pair-col answer --out qa-ft
  bertclf finetune train.csv --out model --slim   # no int8 export inside (predicts with the full install)
  bertclf finetune news.csv --long head-tail --max-length 512 --out news-ft
  bertclf finetune --resume model          # continue an interrupted run
  bertclf finetune train.csv --out model --time-limit 20m   # best epoch within 20 minutes
  bertclf finetune big.csv --out model --time-limit 5m --lr 1e-4 --freeze-layers 3   # a short CPU run

\b
Without --test, a stratified, seeded 20% of TRAIN is held out for the report, as in `train`;
--val-fraction of the rest picks the best epoch. A checkpoint is written to OUT/checkpoint every
epoch, every --checkpoint-minutes and on Ctrl-C; the finished model replaces it. The model folder
works with `predict` and `evaluate`, and OUT/encoder loads with AutoModel.from_pretrained.""",
)
@click.argument("train_path", metavar="[TRAIN]", required=False, callback=input_file)
@click.option("--out", "-o", default=None, metavar="DIR",
              help="Model folder to write (checkpoints go to DIR/checkpoint while training).")
@split_options
@model_option
@pooling_option
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
@click.option("--freeze-layers", type=int, default=0, show_default=True, metavar="N",
              help="Keep the embeddings and the lowest N layers as they are (cheaper steps).")
@click.option("--schedule", type=click.Choice(["auto", "steps", "time"]), default="auto", show_default=True,
              help="Decay the rate over the planned steps, or to zero by --time-limit if that comes "
                   "first (auto: time when --time-limit is given).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
              show_default=True,
              help="auto: bf16 autocast on a GPU (fp16 where bf16 is missing) and on a CPU with bf16 "
                   "instructions (AVX-512 BF16, AMX), fp32 on other CPUs.")
@threads_option
@click.option("--long", type=click.Choice(["truncate", "head-tail", "guide"]), default="truncate",
              show_default=True, help="Texts over --max-length: keep the start, the start and end, or the "
                                      "most informative sentences (see `train --help`).")
@click.option("--head-tokens", type=int, default=None, metavar="N",
              help="head-tail: tokens from the start. [default: a quarter of the budget]")
@seed_option("Seed for the splits and training.")
@click.option("--checkpoint-minutes", type=float, default=10.0, show_default=True,
              help="Also checkpoint this often within an epoch.")
@click.option("--time-limit", default=None, metavar="TIME",
              help="Stop training after this long (90s, 20m, 1h): the partial epoch is validated and the "
                   "best epoch kept.")
@click.option("--resume", "resume_dir", default=None, metavar="DIR",
              help="Continue the interrupted run checkpointed in DIR (TRAIN and settings as recorded).")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also score TF-IDF + logistic regression on the same split.")
@slim_option
@json_option
@input_options
def finetune(train_path: str | None, out: str | None, resume_dir: str | None, baseline: bool, slim: bool,
             as_json: bool, strict: bool, quiet: bool, **options: Any) -> None:
    """Fine-tune the encoder end to end with a classification layer; save a model folder.

    AdamW, linear warm-up then decay, gradient clipping, best epoch kept by validation accuracy,
    early stopping; a progress bar shows loss, validation accuracy, texts/s and ETA. Reports on the
    held-out or --test rows like `train`, with the TF-IDF baseline beside it.
    """
    from bertclf.finetune.loop import Interrupted
    from bertclf.io.labels import read_split
    from bertclf.io.modelio import check_model_target
    from bertclf.search.training import finetune_model

    files, out = _files(train_path, out, resume_dir, options)
    check_model_target(out)
    tuner = _tuner(options, out, strict, quiet)
    columns = pop_columns({k: v for k, v in files.items() if k in COLUMN_KEYS})
    tuner.set_params(text_col=columns.text, pair_col=columns.pair)
    tuner.check_params()
    split = read_split(files["train_path"], files["test_path"], files["holdout"], tuner.seed, columns, strict)
    meta = {**files, "train_path": os.path.abspath(files["train_path"]),
            "test_path": os.path.abspath(files["test_path"]) if files["test_path"] else None}
    try:
        trained = finetune_model(tuner, split, resume=resume_dir is not None, meta=meta, baseline=baseline)
    except Interrupted as exc:
        hint = f"; continue with: bertclf finetune --resume {out}" if exc.checkpoint else ""
        raise Interrupted(f"{exc}{hint}", exc.checkpoint) from None
    save_trained(trained, out, columns, slim, as_json, quiet)


def _files(train_path: str | None, out: str | None, resume_dir: str | None,
           options: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The training file and its columns (taken out of ``options``) and the output folder: as
    given, or as the checkpoint in --resume DIR recorded them (a flag given again wins); the
    recorded tuner settings go back into ``options``."""
    from bertclf.errors import SpecError
    from bertclf.finetune.checkpoint import read_state

    given = set(given_flags(*click.get_current_context().params))
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
    return files, out


def _tuner(options: dict[str, Any], out: str, strict: bool, quiet: bool) -> Any:
    """The FineTuner the tuning flags describe, checkpointing into ``out``."""
    from bertclf.finetune.finetuner import FineTuner
    from bertclf.search.space import parse_budget

    limit = options["time_limit"]
    return FineTuner(**{k: options[k] for k in TUNER_OPTIONS}, device=options["device"],
                     threads=options["threads"], output_dir=out,
                     checkpoint_minutes=options["checkpoint_minutes"], strict=strict,
                     progress=_progress(quiet), verbose=not quiet,
                     time_limit=parse_budget(limit, "--time-limit") if limit else None)
