"""`predict --engine ray`: batch inference over a Ray cluster with Ray Data.

Ray Data reads the file in blocks, an actor pool runs ``map_batches`` with one model per actor
(loaded once, by ``open_model`` as a local ``predict`` loads it), and the driver writes the
prediction rows in input order as they arrive, through the same table writer as a local run.
Every node must see the model folder and the input at the same path (a shared disk, or copies).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from bertclf.io.files import TABLE_FORMATS, atomic_path, check_output_path
from bertclf.io.ray_data import import_ray, read_dataset
from bertclf.io.table import Table, TableWriter
from bertclf.progress import progress_bar


class PredictActor:
    """One per Ray actor: opens the model once, then labels the batches it is given."""

    def __init__(self, path: str, options: dict[str, Any], text_col: str | None, top_k: int | None,
                 label_sep: str) -> None:
        from bertclf.runtime.model import open_model

        self.model = open_model(path, progress=False, **options)
        if text_col:
            self.model.text_col = text_col
        self.model.load_encoder()
        self.top_k, self.label_sep = top_k, label_sep

    def __call__(self, batch: Any) -> Any:
        from bertclf.io.predictions import prediction_table

        table = Table({str(c): batch[c].tolist() for c in batch.columns}, len(batch))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # problems of the input were reported by the driver
            proba = self.model.predict_proba(self.model.table_inputs(table, "input"))
            multilabel = self.model.task == "multi-label"
            result = prediction_table(table, self.model.classes_, proba, self.top_k,
                                      self.model.thresholds_ if multilabel else None, self.label_sep)
        return {name: result[name].tolist() for name in result.columns}


def predict_with_ray(model_path: str, path: str, out: str, options: dict[str, Any] | None = None,
                     text_col: str | None = None, top_k: int | None = None, label_sep: str = ";",
                     address: str | None = None, actors: int | None = None, batch_rows: int = 1024,
                     progress: bool | None = None) -> int:
    """Label every row of ``path`` on a Ray cluster (a new local one, or ``address``) and write
    the predictions to ``out`` in input order; returns the number of rows. ``options`` are the
    engine settings of a local predict (backend, threads, ...)."""
    from bertclf.runtime.model import open_model

    ray = import_ray()
    target = check_output_path(out, tuple(TABLE_FORMATS))
    options = dict(options or {})
    model = open_model(model_path, progress=False, **options)  # a bad folder fails here, not on a node
    if text_col:
        model.text_col = text_col
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    threads = options.get("threads") or 1
    size = actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    dataset = read_dataset(ray, path, None if Path(path).suffix.lower() in TABLE_FORMATS else
                           model.input_columns()[:1])
    total = dataset.count()
    predicted = dataset.map_batches(
        PredictActor, batch_size=batch_rows, batch_format="pandas", num_cpus=threads,
        fn_constructor_kwargs={"path": str(Path(model_path).resolve()), "text_col": text_col, "top_k": top_k,
                               "options": {**options, "threads": threads}, "label_sep": label_sep},
        compute=ray.data.ActorPoolStrategy(size=size))
    kind = TABLE_FORMATS[target.suffix.lower()]
    with atomic_path(target) as tmp, TableWriter(tmp, kind) as writer, \
            progress_bar(total, f"predicting on Ray ({size} actors)", progress) as advance:
        for batch in predicted.iter_batches(batch_size=None, batch_format="pandas"):
            writer.write(Table({str(c): batch[c].tolist() for c in batch.columns}, len(batch)))
            advance(len(batch))
        return writer.rows
