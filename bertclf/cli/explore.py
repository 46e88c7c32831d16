"""`bertclf cluster`, `zero-shot` and `projector`: thin shells over bertclf.clustering,
bertclf.zeroshot and bertclf.projector (texts without labels, and seeing the embedding space)."""

from __future__ import annotations

import json
from typing import Any

import click

from bertclf.cli._common import (
    CONTEXT,
    build_embedder,
    embedding_options,
    input_file,
    input_options,
    json_option,
    print_json,
    seed_option,
    text_col_option,
)


@click.command(
    short_help="Group texts without labels (k-means on their embeddings).",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf cluster examples/support_tickets.csv -k 4 --out clusters.csv
  bertclf cluster news.csv -k auto --k-range 3..12 --out clusters.csv --summary clusters.json
  bertclf cluster news.csv -k 5 --label-col topic --out clusters.csv   # also scores against labels
  bertclf cluster news.csv -k auto --out clusters.csv --json   # the clusters as JSON on stdout

\b
Up to 10,000 texts use KMeans, more use MiniBatchKMeans (batches of 500, as MTEB does). Each
cluster is described by its size, its top keywords (class-based TF-IDF over its texts) and the 3
texts nearest its centre. The output is the input table plus a 'cluster' column.""",
)
@click.argument("input_path", metavar="INPUT", callback=input_file)
@click.option("-k", "k", default="auto", show_default=True, metavar="K|auto",
              help="Number of clusters, or 'auto' to pick it by silhouette over --k-range.")
@click.option("--k-range", default="2..10", show_default=True, metavar="LOW..HIGH",
              help="The k values 'auto' tries.")
@text_col_option()
@click.option("--label-col", default=None, help="Known labels: report V-measure, adjusted Rand and NMI.")
@click.option("--out", "-o", required=True, help="Output table: .csv .tsv .jsonl .parquet.")
@click.option("--summary", default=None, metavar="FILE.json", help="Also write the clusters as JSON.")
@seed_option("Seed of k-means and the 2-D projection.")
@embedding_options
@json_option
@input_options
def cluster(input_path: str, k: str, k_range: str, text_col: str, label_col: str | None, out: str,
            summary: str | None, seed: int, as_json: bool, strict: bool, quiet: bool, **options: Any) -> None:
    """Cluster texts by their embeddings and describe each cluster."""
    from bertclf.explore import clustering
    from bertclf.io.files import TABLE_FORMATS, atomic_path, check_output_path, write_table

    check_output_path(out, tuple(TABLE_FORMATS))
    if summary is not None:
        check_output_path(summary, (".json",))
    wanted = clustering.parse_k(k)
    low, high = clustering.parse_k_range(k_range)
    embedder = build_embedder(options, strict, quiet)
    table, texts, truth = read_inputs(input_path, text_col, label_col, strict)
    clustering.check_k(wanted, len(texts))
    vectors = embedder.transform(texts)
    texts = [t if isinstance(t, str) else "" for t in texts]
    result = clustering.cluster(vectors, texts, wanted, seed=seed, k_range=(low, high), truth=truth)
    write_table(out, table.reset_index(drop=True).assign(cluster=result.labels))
    described = clustering.summary(result, texts)
    if summary is not None:
        with atomic_path(summary) as tmp:
            tmp.write_text(json.dumps(described, indent=2, ensure_ascii=False))
    if as_json:
        print_json({"input": input_path, "out": out, **described})
    elif not quiet:
        from bertclf.render.console import print_clusters

        print_clusters(described, input_path)


@click.command(
    "zero-shot",
    short_help="Sort texts into categories defined only by keywords.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf zero-shot news.csv --categories categories.yaml --out sorted.csv
  bertclf zero-shot news.csv --categories categories.yaml --threshold 0.2 --out sorted.csv
  bertclf zero-shot posts.csv --categories tags.yaml --multi --threshold 0.3 --out tagged.csv
  bertclf zero-shot news.csv --categories categories.yaml --label-col label --json > scored.json
  bertclf zero-shot test.csv --categories categories.yaml --label-col label   # scored like a classifier

\b
categories.yaml maps each category to keywords, a description, or both:
  sports: [football, match, goal]
  business:
    keywords: [market, shares, profit]
    description: companies, markets and the economy
\b
A text goes to the category whose embedding (the mean of its keywords' and description's) is
most similar to its own (cosine); under --threshold it goes to 'other'. --multi keeps every
category above the threshold. The output adds 'category' and a 'score_<name>' per category
(CSV on stdout without --out). With --label-col the scores against the labels are printed too
(on stderr when the assignments go to stdout); macro-F1 averages the labels the file has, so
'other' counts only as a miss.""",
)
@click.argument("input_path", metavar="INPUT", callback=input_file)
@click.option("--categories", "categories_path", required=True, metavar="FILE.yaml", callback=input_file,
              help="Categories and their keywords and/or description (YAML).")
@click.option("--threshold", type=float, default=None,
              help="Cosine below which a text is 'other' (with --multi: the cut-off per category).")
@click.option("--multi", is_flag=True, help="Keep every category above --threshold, joined by ';'.")
@text_col_option()
@click.option("--label-col", default=None, help="Known labels: report accuracy and per-class scores.")
@click.option("--out", "-o", default=None,
              help="Output table (.csv .tsv .jsonl .parquet). [default: CSV on stdout]")
@embedding_options
@json_option
@input_options
def zero_shot(input_path: str, categories_path: str, threshold: float | None, multi: bool, text_col: str,
              label_col: str | None, out: str | None, as_json: bool, strict: bool, quiet: bool,
              **options: Any) -> None:
    """Assign texts to categories described by keywords, without training."""
    from bertclf.errors import SpecError
    from bertclf.evaluate.metrics import evaluate_predictions
    from bertclf.explore.zeroshot import OTHER, ZeroShot, read_categories
    from bertclf.io.files import TABLE_FORMATS, check_output_path, write_table
    from bertclf.render.console import print_report

    if out is not None:
        check_output_path(out, tuple(TABLE_FORMATS))
    if multi and label_col:
        raise SpecError("--label-col scores one category per text; leave out --multi to evaluate")
    categories = read_categories(categories_path)
    embedder = build_embedder(options, strict, quiet)
    model = ZeroShot(embedder, categories, threshold, multi)
    table, texts, truth = read_inputs(input_path, text_col, label_col, strict)
    scores = model.fit().scores(texts)
    assigned = model.assign(scores)
    result = table.reset_index(drop=True).assign(category=assigned)
    for j, name in enumerate(model.names):
        result[f"score_{name}"] = scores[:, j]
    report = None
    if truth is not None:
        from rich.console import Console

        keep = [i for i, t in enumerate(truth) if t is not None]
        classes = [*model.names, OTHER] if threshold is not None else list(model.names)
        report = evaluate_predictions([truth[i] for i in keep], [assigned[i] for i in keep], classes,
                                      macro_over_truth=True)
        if not as_json:
            print_report(report, title=f"zero-shot on {input_path} ({len(categories)} categories)",
                         console=None if out else Console(stderr=True, highlight=False))
    if out is not None:
        write_table(out, result)
    if as_json:  # one document: counts and scores, and the assignments themselves without --out
        print_json({"input": input_path, "out": out, "counts": result["category"].value_counts().to_dict(),
                    "report": report, "rows": None if out else result.to_dict(orient="records")})
    elif out is None:  # the assignments always go somewhere; with --label-col the scores go to stderr
        click.echo(result.to_csv(index=False, float_format="%.6g"), nl=False)


@click.command(
    short_help="Export embeddings for the Embedding Projector.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf projector examples/support_tickets.csv --label-col label --out projector/
  bertclf projector news.csv --clusters 5 --out projector/
  bertclf projector news.csv --out projector/ --json   # rows, dimensions and columns as JSON

\b
Writes vectors.tsv, metadata.tsv (the text, and the label and/or cluster columns) and
projector_config.json. Open https://projector.tensorflow.org, choose 'Load', and give it
vectors.tsv and metadata.tsv; or point TensorBoard's projector at the folder.""",
)
@click.argument("input_path", metavar="INPUT", callback=input_file)
@click.option("--out", "-o", required=True, metavar="DIR",
              help="Folder to write (replaced if it is an earlier export).")
@text_col_option()
@click.option("--label-col", default=None, help="Column of labels to colour by in the Projector.")
@click.option("--clusters", type=int, default=None, metavar="K", help="Also add a k-means 'cluster' column.")
@seed_option("Seed of k-means and the 2-D projection.")
@embedding_options
@json_option
@input_options
def projector(input_path: str, out: str, text_col: str, label_col: str | None, clusters: int | None,
              seed: int, as_json: bool, strict: bool, quiet: bool, **options: Any) -> None:
    """Write an Embedding Projector folder for INPUT's texts."""
    from bertclf.explore.clustering import check_k, kmeans, parse_k
    from bertclf.explore.tensorboard import check_target, write_projector

    check_target(out)
    k = parse_k(clusters) if clusters is not None else None
    embedder = build_embedder(options, strict, quiet)
    _, texts, truth = read_inputs(input_path, text_col, label_col, strict)
    check_k(k, len(texts))
    vectors = embedder.transform(texts)
    metadata: dict[str, list[Any]] = {"text": texts}
    if truth is not None:
        metadata["label"] = truth
    if k is not None:
        metadata["cluster"] = kmeans(vectors, k, seed)[0].labels_.tolist()
    write_projector(out, vectors, metadata)
    if as_json:
        print_json({"input": input_path, "out": out, "rows": len(vectors), "dim": int(vectors.shape[1]),
                    "columns": list(metadata)})
    elif not quiet:
        click.echo(f"wrote {len(vectors)} x {vectors.shape[1]} vectors and {', '.join(metadata)} to {out}; "
                   f"load vectors.tsv and metadata.tsv at https://projector.tensorflow.org", err=True)


@click.command(
    short_help="Draw a 2-D map of the texts' embeddings (PNG or interactive HTML).",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf plot examples/support_tickets.csv --color-by label --out map.png
  bertclf plot examples/support_tickets.csv --color-by label --out map.html
  bertclf plot news.csv --clusters 5 --out clusters.html
  bertclf plot news.csv --out map.png --json   # the projection used, as JSON

\b
The projection is UMAP when umap-learn is installed, else PCA to 50 dimensions then t-SNE.
.html writes one self-contained page (inline SVG, no script or network): hover a point to read
its text. .png, .svg and .pdf write a static picture with a legend.""",
)
@click.argument("input_path", metavar="INPUT", callback=input_file)
@click.option("--out", "-o", required=True, metavar="FILE",
              help="Picture to write: .png .svg .pdf or .html.")
@click.option("--color-by", default=None, metavar="COL", help="Column whose values colour the points.")
@click.option("--clusters", type=int, default=None, metavar="K",
              help="Colour by k-means clusters instead (when there is no --color-by).")
@click.option("--projection", type=click.Choice(["auto", "umap", "tsne"]), default="auto",
              show_default=True)
@text_col_option()
@seed_option("Seed of k-means and the 2-D projection.")
@embedding_options
@json_option
@input_options
def plot(input_path: str, out: str, color_by: str | None, clusters: int | None, projection: str,
         text_col: str, seed: int, as_json: bool, strict: bool, quiet: bool, **options: Any) -> None:
    """Map INPUT's texts to two dimensions and draw them, coloured by a column or by cluster."""
    from bertclf.explore.clustering import check_k, kmeans, parse_k
    from bertclf.explore.reduction import check_map_size, project_2d
    from bertclf.io.files import check_output_path
    from bertclf.render.maps import MAP_FORMATS, plot_map

    check_output_path(out, MAP_FORMATS)
    k = parse_k(clusters) if clusters is not None else None
    embedder = build_embedder(options, strict, quiet)
    _, texts, groups = read_inputs(input_path, text_col, color_by, strict, "--color-by")
    check_map_size(len(texts))
    check_k(k, len(texts))
    vectors = embedder.transform(texts)
    colour_by = color_by or ("cluster" if k else "all texts")
    if groups is None:
        groups = kmeans(vectors, k, seed)[0].labels_.tolist() if k else ["text"] * len(texts)
    coords, method = project_2d(vectors, seed, projection)
    plot_map(coords, groups, texts, out, title=f"{input_path}: {len(texts)} texts ({method})",
             method=method, colour_by=colour_by)
    if as_json:
        print_json({"input": input_path, "out": out, "texts": len(texts), "projection": method,
                    "colour_by": colour_by})
    elif not quiet:
        click.echo(f"wrote the {method} map of {len(texts)} texts to {out}", err=True)


def read_inputs(path: str, text_col: str, label_col: str | None, strict: bool,
                label_flag: str = "--label-col") -> tuple[Any, list[Any], Any]:
    """(table, texts, labels or None) from a table file, or from one text per line; ``label_flag``
    is the option that named ``label_col``, for the error message."""
    import pandas as pd

    from bertclf.io.files import check_texts, is_table_path, read_table, read_texts, table_column

    if not is_table_path(path):
        texts = read_texts(path, strict=strict)
        return pd.DataFrame({"text": texts}), texts, None
    table = read_table(path, strict)
    texts = table_column(table, path, text_col, " (choose one with --text-col)")
    check_texts(texts, table.attrs["source"], strict=strict)
    truth = table_column(table, path, label_col, f" (choose one with {label_flag})") if label_col else None
    return table, texts, truth
