"""`bertclf label`: label texts on a local page with the model in the loop, then export the answers
or see how far they got. A thin shell over ``bertclf.label``."""

from __future__ import annotations

from typing import Any

import click

from bertclf.cli._common import (
    CONTEXT,
    _progress,
    _stderr,
    check_address,
    input_file,
    input_options,
    json_option,
    model_option,
    print_json,
    text_col_option,
)


class _LabelGroup(click.Group):
    """`bertclf label TEXTS ...` is `bertclf label start TEXTS ...`; `status`, `export` and `import`
    read a database."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_LabelGroup, context_settings=CONTEXT, epilog="""\b
Examples:
  bertclf label tickets.csv --labels billing,delivery,account   # opens http://127.0.0.1:8400
  bertclf label posts.csv --labels sport,money,water --categories cats.yaml   # keywords start it
  bertclf label posts.csv --labels news,opinion,ad --multi-label --db posts.db
  bertclf label status tickets.labels.db --json
  bertclf label export tickets.labels.db --out labels.csv
  bertclf label export tickets.labels.db --out tasks.json   # Label Studio tasks, with predictions
  bertclf label import tickets.labels.db project-export.json   # answers made in Label Studio
  bertclf train tickets.labels.db --out tickets-model   # train on the answers""")
def label() -> None:
    """Label texts with the model in the loop, on a local page.

    The page shows one text at a time with the model's suggestion; keys 1-9 answer, Enter accepts
    the suggestion, s skips, u undoes. Every answer goes to a SQLite database (TEXTS.labels.db
    beside TEXTS unless --db), so running it again resumes; a model on the texts' embeddings
    refits in the background and asks next about the texts it is least sure of.
    """


@label.command(context_settings=CONTEXT, epilog="""\b
Examples:
  bertclf label start tickets.csv --labels billing,delivery,account   # or without 'start'
  bertclf label posts.jsonl --text-col body --labels news,ad --db posts.db --port 8401
  bertclf label tickets.csv --labels billing,delivery --no-tune   # no few-shot tuning behind it""")
@click.argument("texts_path", metavar="TEXTS", callback=input_file)
@click.option("--labels", "label_list", required=True, metavar="A,B,...",
              help="The labels, in the order keys 1-9 choose them.")
@click.option("--db", default=None, metavar="FILE",
              help="The labelling database. [default: TEXTS.labels.db beside TEXTS]")
@click.option("--categories", default=None, metavar="YAML", callback=input_file,
              help="Keywords per label (as zero-shot reads them): the first texts shown are the ones "
                   "they are surest of, each label in turn.")
@click.option("--multi-label", is_flag=True, help="Several labels a text: keys toggle, Enter answers.")
@click.option("--tune/--no-tune", default=True, show_default=True,
              help="Few-shot tuning of the encoder in a background process from 50 answers on, kept "
                   "only where it beats the head on held-back answers (one label a text).")
@text_col_option()
@model_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8400, show_default=True)
@click.option("--api-key", default=None, metavar="KEY",
              help="Require 'Authorization: Bearer KEY' on the API (the page asks for it once).")
@input_options
def start(texts_path: str, label_list: str, db: str | None, categories: str | None, multi_label: bool,
          tune: bool, text_col: str, model: str, host: str, port: int, api_key: str | None, strict: bool,
          quiet: bool) -> None:
    """Open the labelling page for TEXTS (.csv .tsv .jsonl .parquet, or one text per line)."""
    import uvicorn

    from bertclf.encode.embedder import Embedder
    from bertclf.io.files import read_texts
    from bertclf.label.app import create_label_app
    from bertclf.label.session import default_db, start_session
    from bertclf.label.store import check_labels

    labels = check_labels(label_list.split(","))
    check_address(host, port)
    found = read_categories(categories, labels) if categories else None
    texts = [t for t in read_texts(texts_path, text_col=text_col, strict=strict) if t and t.strip()]
    where = db or default_db(texts_path)
    store, learner, gone = start_session(texts, labels, where, Embedder(model, progress=_progress(quiet)),
                                         found, multi_label, source=str(texts_path), log=_stderr, tune=tune)
    if gone:
        _stderr(f"warning: {gone} labelled texts of {where} are not in {texts_path} any more (it changed "
                f"since the database was made); their answers are kept but not shown")
    _stderr(f"labelling {len(store.ids)} texts into {where}: open http://{host}:{port} (Ctrl-C to stop; "
            f"every answer is saved as it is given)")
    try:
        uvicorn.run(create_label_app(store, learner, api_key), host=host, port=port, log_level="warning")
    finally:
        learner.stop()  # and a tuning job with it


def read_categories(path: str, labels: list[str]) -> Any:
    """--categories, which must name the labels and nothing else."""
    from bertclf.errors import SpecError
    from bertclf.explore.zeroshot import read_categories as read

    found = read(path)
    extra = [c.name for c in found if c.name not in labels]
    if extra:
        raise SpecError(f"--categories names {', '.join(extra)}, which --labels does not list")
    return found


@label.command(context_settings=CONTEXT, epilog="""\b
Examples:
  bertclf label status tickets.labels.db
  bertclf label status tickets.labels.db --json   # counts, estimate, learning curve""")
@click.argument("db", metavar="DB", callback=input_file)
@json_option
def status(db: str, as_json: bool) -> None:
    """How far DB got: counts per label, the cross-validated estimate, the learning curve."""
    from bertclf.label.report import database_status

    figures = database_status(db)
    if as_json:
        print_json(figures)
        return
    click.echo(f"{figures['labelled']} of {figures['texts']} texts labelled ({figures['skipped']} skipped)")
    for name, count in figures["counts"].items():
        click.echo(f"  {name}: {count}")
    e = figures["estimate"]
    if e:
        click.echo(f"estimated {e['metric']} {e['score']:.3f} (95% interval {e['low']:.3f}-{e['high']:.3f}), "
                   f"{e['folds']}-fold cross-validation on the {e['labels']} labels")
    if figures["curve_sentence"]:
        click.echo(figures["curve_sentence"])
    t = figures.get("tuning")
    if t and t.get("check"):
        verdict = "adopted" if t["adopted"] else "not adopted"
        click.echo(f"few-shot tuning on {t['labels']} labels: {t['tuned']:.3f} against the head's "
                   f"{t['frozen']:.3f} on {t['check']} held-back answers ({verdict})")


@label.command(context_settings=CONTEXT, epilog="""\b
Examples:
  bertclf label export tickets.labels.db --out labels.csv
  bertclf label export tags.labels.db --out tags.csv --label-sep "|"   # multi-label
  bertclf label export tickets.labels.db --out tasks.json   # Label Studio tasks""")
@click.argument("db", metavar="DB", callback=input_file)
@click.option("--out", "-o", required=True, metavar="FILE",
              help="labels.csv (.csv .tsv .jsonl .parquet), or tasks.json: Label Studio's task format.")
@click.option("--label-sep", default=";", show_default=True, metavar="SEP",
              help="Multi-label databases: separator of a text's labels in the label column.")
def export(db: str, out: str, label_sep: str) -> None:
    """Write DB's labelled texts as a table (columns text, label, annotator, at), or every text as
    a Label Studio task with its answer and the model's suggestion as a pre-annotation (.json)."""
    import json

    from bertclf.io.files import atomic_path, check_output_path, write_table
    from bertclf.label.report import answers_table, label_studio_tasks

    path = check_output_path(out, (".csv", ".tsv", ".jsonl", ".parquet", ".json"))
    if path.suffix.lower() == ".json":
        tasks = label_studio_tasks(db)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(tasks, ensure_ascii=False, indent=1), encoding="utf-8")
        _stderr(f"wrote {len(tasks)} Label Studio tasks to {out} (labelling config: <Choices name=\"label\" "
                f"toName=\"text\">)")
        return
    table = answers_table(db, label_sep)
    write_table(out, table)
    _stderr(f"wrote {len(table)} labelled texts to {out}")


@label.command("import", context_settings=CONTEXT, epilog="""\b
Examples:
  bertclf label import tickets.labels.db project-1-export.json
  bertclf label import tickets.labels.db export.json --json   # the counts as JSON""")
@click.argument("db", metavar="DB", callback=input_file)
@click.argument("export_path", metavar="EXPORT.json", callback=input_file)
@json_option
def import_(db: str, export_path: str, as_json: bool) -> None:
    """Add the answers of a Label Studio JSON export to DB (texts matched by their content)."""
    import json
    from pathlib import Path

    from bertclf.errors import InputError
    from bertclf.label.report import import_label_studio

    try:
        tasks = json.loads(Path(export_path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{export_path}: not a Label Studio JSON export ({exc})") from None
    if not isinstance(tasks, list):
        raise InputError(f"{export_path}: a Label Studio JSON export is a list of tasks")
    counts = import_label_studio(db, tasks)
    if as_json:
        print_json(counts)
    else:
        _stderr(f"imported {counts['imported']} answers into {db} ({counts['unchanged']} already there, "
                f"{counts['unlabelled']} tasks without a choice)")
