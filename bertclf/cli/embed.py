"""`bertclf embed`: a file of texts to a file of vectors."""

from __future__ import annotations

import time
from typing import Any

import click

from bertclf.cli._common import (
    CONTEXT,
    build_embedder,
    cache_options,
    check_engine,
    embedding_options,
    engine_options,
    input_file,
    input_options,
    json_option,
    pair_option,
    print_json,
    text_col_option,
)
from bertclf.encode.pooling import LAYER_FORMS


@click.command(
    context_settings=CONTEXT,
    epilog=f"""\b
Examples:
  bertclf embed examples/support_tickets.csv --out vectors.npy
  bertclf embed reviews.jsonl --text-col body --out vectors.parquet --normalize
  bertclf embed notes.txt --pooling cls --out cls.csv
  bertclf embed export.csv --encoding cp1252 --sep ';' --out v.npy   # a spreadsheet's export
  bertclf embed data.csv --out v.npy --json                  # the summary as JSON on stdout
  bertclf embed data.csv --layers -4..-1 --layer-agg mean --out last4-mean.npy
  bertclf embed data.csv --layers -4..-1 --layer-agg concat --out last4-concat.npy
  cat notes.txt | bertclf embed - --out vectors.npy
  bertclf embed big.csv --device cpu --threads 2 --batch-size 64 --max-length 128 --out v.npy
  bertclf embed news.csv --long chunk --max-length 512 --stride 256 --out news.npy
  bertclf embed qa.csv --text-col question --pair-col answer --out pairs.npy
  bertclf embed data.csv --backend onnx --out v.npy          # exact fp32 through ONNX Runtime
  bertclf embed data.csv --backend torch --dtype bf16 --out v.npy
  bertclf embed data.csv --no-cache --out v.npy              # neither read nor fill the cache
  bertclf embed big.parquet --engine ray --out v.parquet     # a local Ray cluster
  bertclf embed /shared/big.parquet --engine ray --address auto --out v.parquet

\b
Inputs: .csv .tsv .jsonl .parquet (a column), or any other file with one text per line.
Outputs by extension: .npy, .parquet (column 'embedding'), .csv (dim_0, dim_1, ...);
rows are in input order. Files are read and written in chunks: memory stays flat for any size.
Vectors are cached (see `bertclf cache --help`): a second run on the same texts is instant.
\b
Layer specs: {LAYER_FORMS}.""",
)
@click.argument("input_path", metavar="INPUT", callback=input_file)
@text_col_option(help_text="Column holding the texts (table inputs).")
@click.option("--out", "-o", "out", required=True, help="Output file: .npy, .parquet or .csv.")
@pair_option
@embedding_options
@cache_options
@engine_options
@json_option
@input_options
def embed(input_path: str, text_col: str, pair_col: str | None, out: str, engine: str, address: str | None,
          actors: int | None, as_json: bool, strict: bool, quiet: bool, **options: Any) -> None:
    """Embed texts into vectors, one per text.

    Reads the texts of INPUT, batches them by token length, pools each into one vector and writes
    the vectors to --out in input order.
    """
    from bertclf.encode.streaming import embed_file
    from bertclf.errors import SpecError
    from bertclf.io.files import check_output_path, read_texts, write_vectors

    check_output_path(out)
    embedder = build_embedder(options, strict, quiet)
    settings = embedder.settings()
    if settings.long.mode == "guide":
        raise SpecError("--long guide learns from labels: use it with train or finetune; embed takes "
                        "truncate, head-tail or chunk")
    check_engine(engine, input_path, address, actors)
    if engine == "local":
        embedder.load_encoder()  # not timed: the rate is the encoder's
    start = time.perf_counter()
    if engine == "ray":
        from bertclf.encode.ray_embed import embed_with_ray

        rows, dim = embed_with_ray(embedder, input_path, out, text_col, pair_col, address, actors,
                                   strict=strict)
    elif input_path == "-":  # stdin cannot be read twice: it is read whole
        vectors = embedder.transform(read_texts(input_path, text_col=text_col, strict=strict))
        write_vectors(out, vectors)
        rows, dim = vectors.shape
    else:
        rows, dim = embed_file(embedder, input_path, out, text_col, pair_col, strict=strict)
    seconds = time.perf_counter() - start
    if as_json:
        print_json({"input": input_path, "out": out, "rows": rows, "dim": dim, "pooling": settings.pooling,
                    "layers": list(settings.layers), "layer_agg": settings.layer_agg,
                    "max_length": settings.max_length, "normalize": settings.normalize,
                    "seconds": round(seconds, 3)})
    elif not quiet:
        rate = rows / seconds if seconds > 0 else float("inf")
        click.echo(
            f"wrote {rows} x {dim} vectors to {out} "
            f"({settings.pooling} pooling, layers {list(settings.layers)} {settings.layer_agg}, "
            f"max {settings.max_length} tokens, {'normalized' if settings.normalize else 'raw'}) "
            f"in {seconds:.1f} s, {rate:,.0f} texts/s",
            err=True,
        )
