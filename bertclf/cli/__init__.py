"""The ``bertclf`` command: a thin shell over the Python API, one module per command.

Bad usage and bad input exit with code 2 and one line on stderr (``error: ...``); repairs made on
the way are reported as ``warning: ...`` lines; results go to stdout or to the --out file.
"""

from __future__ import annotations

import re
import sys
import warnings
from typing import Any

import click

from bertclf._version import __version__
from bertclf.cli._common import CONTEXT
from bertclf.errors import BertclfError, BertclfWarning, EmptyTextByPosition

# Each command's module is imported when that command runs (or --help lists them all), so a
# one-text `predict` does not pay for the other thirteen: name -> (module, function).
COMMANDS = {
    "tokens": ("tokens", "tokens"), "embed": ("embed", "embed"), "train": ("train", "train"),
    "predict": ("predict", "predict"), "evaluate": ("evaluate", "evaluate"),
    "report": ("evaluate", "report"), "finetune": ("finetune", "finetune"),
    "compare": ("compare", "compare"), "cluster": ("explore", "cluster"),
    "zero-shot": ("explore", "zero_shot"), "projector": ("explore", "projector"),
    "plot": ("explore", "plot"), "audit": ("audit", "audit"), "export": ("export", "export"),
    "serve": ("serve", "serve"), "cache": ("cache", "cache"), "label": ("label", "label"),
}


class _Group(click.Group):
    """Turns user-facing errors into one stderr line and exit code 2, never a traceback; loads
    each command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        from importlib import import_module

        module, function = COMMANDS[name]
        return getattr(import_module(f"bertclf.cli.{module}"), function)

    def invoke(self, ctx: click.Context) -> Any:
        from bertclf.io.sniff import reading

        warnings.simplefilter("ignore")
        warnings.simplefilter("always", BertclfWarning)
        said = _Said()
        warnings.showwarning = said.show
        try:
            with reading():  # --encoding/--sep set it for this command alone
                return super().invoke(ctx)
        except BertclfError as exc:
            said.flush()  # what was repaired on the way, before the error that ended it
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except ModuleNotFoundError as exc:  # a runtime-only install asked to train, plot, evaluate...
            from bertclf.runtime.installed import TRAINING_MODULES, training_stack_message

            if (exc.name or "").split(".")[0] not in TRAINING_MODULES:
                raise
            message = training_stack_message(f"bertclf {ctx.invoked_subcommand}", exc.name)
            click.echo(f"error: {message}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as exc:  # fine-tuning says where its checkpoint went
            click.echo(f"interrupted: {exc}" if str(exc) else "interrupted: nothing was written", err=True)
            ctx.exit(130)
        finally:
            said.flush()


class _Said:
    """Each warning once per command. A repeat is dropped, and the counts of texts over the token
    budget, which each step reports for its own texts (the training rows, then the hold-out),
    are added up and said once when the command ends. Empty texts are named by the commands'
    readers, with the lines of their files; the embedder's later report by position is dropped."""

    COUNTED = re.compile(r"^(\d+) of (\d+) (texts were longer than .*)$")

    def __init__(self) -> None:
        self.shown: set[str] = set()
        self.counts: dict[str, list[int]] = {}

    def show(self, message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        text = str(message)
        if issubclass(category, EmptyTextByPosition) or text in self.shown:
            return
        self.shown.add(text)
        counted = self.COUNTED.match(text)
        if counted:
            total = self.counts.setdefault(counted.group(3), [0, 0])
            total[0] += int(counted.group(1))
            total[1] += int(counted.group(2))
        else:
            click.echo(f"warning: {text}", err=True)

    def flush(self) -> None:
        for tail, (count, total) in self.counts.items():
            click.echo(f"warning: {count} of {total} {tail}", err=True)
        self.counts.clear()


@click.group(
    cls=_Group,
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf tokens "The bank raised rates." "And the river bank flooded."
  bertclf embed examples/support_tickets.csv --text-col text --out vectors.npy
  bertclf train examples/support_tickets.csv --out tickets-model
  bertclf finetune train.csv --test test.csv --out tuned-model --epochs 3
  bertclf compare train.csv --test test.csv --plot compare.png
  bertclf cluster examples/support_tickets.csv -k auto --out clusters.csv
  bertclf zero-shot news.csv --categories categories.yaml --out sorted.csv
  bertclf plot examples/support_tickets.csv --color-by label --out map.html
  bertclf report tickets-model test.csv --out report.html
  bertclf audit train.csv --out suspects.csv
  bertclf export old-model --out old-model-runtime
  bertclf serve tickets-model --port 8000
  bertclf label posts.csv --labels sport,money,water
  bertclf cache info

Run 'bertclf COMMAND --help' for a command's options.""",
)
@click.version_option(__version__, prog_name="bertclf")
def main() -> None:
    """BERT embeddings for text classification: see how BERT reads text, embed it, train on
    frozen embeddings or fine-tune the encoder, compare both with a TF-IDF baseline, and cluster
    texts that have no labels."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
