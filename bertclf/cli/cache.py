"""`bertclf cache info|clear`: a thin shell over ``encode.disk_cache`` and ``encode.cache_folder``."""

from __future__ import annotations

import json
import shutil

import click

from bertclf.cli._common import CONTEXT, print_json

folder_option = click.option("--cache", "cache_dir", default=None, metavar="DIR",
                             help="Embedding cache folder. [default: $BERTCLF_CACHE, else ~/.cache/bertclf]")


@click.group(context_settings=CONTEXT, epilog="""\b
Examples:
  bertclf cache info
  bertclf cache info --json
  bertclf cache clear
  BERTCLF_CACHE=/data/cache bertclf cache info""")
def cache() -> None:
    """Show or empty the embedding cache and the ONNX exports.

    `embed` and `train` keep every vector they compute in an SQLite database under the cache
    folder, keyed by the encoder's weights, the embedding settings and the text; a second run on
    the same texts reads them back instead of running the encoder.
    """


@cache.command(context_settings=CONTEXT)
@folder_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def info(cache_dir: str | None, as_json: bool) -> None:
    """Where the cache is, how big, and how many vectors per embedding setting."""
    path, store = _existing(cache_dir)
    figures = store.info() if store else {"path": str(path), "bytes": 0, "vectors": 0, "settings": []}
    figures["onnx_exports"] = [{"path": str(p), "bytes": _size(p), **_read_meta(p)} for p in _exports()]
    if as_json:
        print_json(figures)
        return
    click.echo(f"embedding cache: {figures['path']}")
    click.echo(f"  {figures['vectors']:,} vectors, {figures['bytes'] / 1e6:,.1f} MB")
    for s in figures["settings"]:
        click.echo(f"  {s['vectors']:>9,}  {s['model']}  {s['backend']}/{s['dtype']}  {s['pooling']} "
                   f"layers {s['layers']}  max {s['max_length']}  long {s['long']['mode']}")
    click.echo(f"ONNX exports: {len(figures['onnx_exports'])}")
    for e in figures["onnx_exports"]:
        click.echo(f"  {e.get('model', '?')}  {e.get('quantization', '?')}  {e['bytes'] / 1e6:,.1f} MB  "
                   f"{e['path']}")


@cache.command(context_settings=CONTEXT)
@folder_option
@click.option("--onnx", "with_onnx", is_flag=True, help="Delete the ONNX exports too.")
def clear(cache_dir: str | None, with_onnx: bool) -> None:
    """Delete every cached vector (and with --onnx the ONNX exports); they are rebuilt on demand."""
    path, store = _existing(cache_dir)
    count = store.clear() if store else 0
    click.echo(f"removed {count:,} cached vectors from {path}", err=True)
    exports = _exports()
    if with_onnx and exports:
        for folder in exports:
            shutil.rmtree(folder, ignore_errors=True)
        click.echo(f"removed {len(exports)} ONNX exports from {exports[0].parent}", err=True)


def _existing(cache_dir: str | None):  # noqa: ANN202
    """(the database's path, the cache or None): an absent database is not created by a look."""
    from bertclf.encode import cache_folder
    from bertclf.encode.disk_cache import FILENAME, open_cache

    path = cache_folder.root(cache_dir) / FILENAME
    return path, open_cache(cache_dir) if path.exists() else None


def _exports() -> list:
    """The ONNX export folders; they live under $BERTCLF_CACHE (or the default), whatever --cache
    says, since --cache moves only the embedding database."""
    from bertclf.encode import cache_folder

    return sorted(p.parent for p in (cache_folder.root() / "onnx").glob("*/model.onnx"))


def _size(folder) -> int:  # noqa: ANN001
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _read_meta(folder) -> dict:  # noqa: ANN001
    try:
        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
