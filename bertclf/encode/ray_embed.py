"""`embed --engine ray`: the same embedding, spread over a Ray cluster with Ray Data.

Ray Data reads the file in blocks, an actor pool runs ``map_batches`` with one Embedder (one
loaded encoder) per actor, and the driver writes the vectors in input order as they arrive,
through the same writers as streaming ``embed``. Nothing here decides how a text is embedded: the
actors call ``Embedder.encode_texts``, so vectors equal a local run's for the same backend.
Ray is optional: ``pip install 'bertclf[ray]'``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from bertclf.encode.streaming import Writer, check_scan, scan
from bertclf.io.files import atomic_path, check_output_path
from bertclf.io.ray_data import import_ray, read_dataset
from bertclf.progress import progress_bar


class EmbedActor:
    """One per Ray actor: loads the encoder once, then embeds the batches it is given."""

    def __init__(self, params: dict[str, Any], text_col: str, pair_col: str | None) -> None:
        from bertclf.encode.embedder import Embedder

        self.embedder = Embedder(**params)
        self.embedder.load_encoder()
        self.text_col, self.pair_col = text_col, pair_col

    def __call__(self, batch: Any) -> dict[str, np.ndarray]:
        from bertclf.io.files import as_text

        texts = [as_text(v) for v in batch[self.text_col]]
        pairs = [as_text(v) for v in batch[self.pair_col]] if self.pair_col else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the driver's scan has reported the input's problems
            return {"embedding": self.embedder.encode_texts(texts, pairs)}


def embed_with_ray(embedder: Any, path: str, out: str, text_col: str = "text", pair_col: str | None = None,
                   address: str | None = None, actors: int | None = None, batch_rows: int = 1024,
                   strict: bool = False) -> tuple[int, int]:
    """Embed ``path`` on a Ray cluster (a new local one, or ``address``) into ``out``; returns
    (rows, dim). The input must be readable at the same path by every node."""
    ray = import_ray()
    target = check_output_path(out)
    dim = embedder.settings().dim
    total = check_scan(path, scan(path, text_col, pair_col, strict), strict)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False  # ours counts texts in order; Ray's count blocks
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    size = actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // (embedder.threads or 1))
    params = {**embedder.get_params(), "progress": False, "threads": embedder.threads or 1}
    columns = [text_col, *([pair_col] if pair_col else [])]
    dataset = read_dataset(ray, path, columns)
    vectors = dataset.map_batches(
        EmbedActor, fn_constructor_kwargs={"params": params, "text_col": text_col, "pair_col": pair_col},
        batch_size=batch_rows, batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=size),
        num_cpus=embedder.threads or 1)
    with atomic_path(target) as tmp, Writer(tmp, target.suffix.lower(), total, dim) as writer, \
            progress_bar(total, f"embedding on Ray ({size} actors)", embedder.progress) as advance:
        for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            writer.write(np.asarray(batch["embedding"], dtype=np.float32).reshape(-1, dim))
            advance(len(batch["embedding"]))
        rows = writer.rows
    return rows, dim
