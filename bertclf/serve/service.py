"""What every route family shares: the served models, their batchers, the choice of a model for a
request, and running a request's table through a model call with its limits and metrics.

``app`` makes one ``Service`` and writes bertclf's routes over it; ``openai_api`` and
``tei_api`` write OpenAI's and text-embeddings-inference's, in their clients' shapes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bertclf.errors import BertclfError
from bertclf.io.table import Table
from bertclf.serve.batching import Batcher, QueueFull
from bertclf.serve.catalog import usage
from bertclf.serve.guard import Metrics
from bertclf.serve.payloads import ServeError, check_texts
from bertclf.serve.schemas import Usage

MAX_EXPLAIN_TEXTS = 64  # texts explained a request (each costs a model call per word)


class Service:
    """The served models (name -> model), a predict and an embedding ``Batcher`` each, and the
    limits: texts a request, tokens a merged call, seconds a request may wait."""

    def __init__(self, served: dict[str, Any], predictors: dict[str, Batcher], embedders: dict[str, Batcher],
                 metrics: Metrics, max_batch_texts: int, max_batch_tokens: int | None, timeout: float,
                 max_queue_texts: int) -> None:
        self.served, self.predictors, self.embedders, self.metrics = served, predictors, embedders, metrics
        self.max_batch_texts, self.max_batch_tokens, self.timeout = max_batch_texts, max_batch_tokens, timeout
        self.max_queue_texts = max_queue_texts

    def chosen(self, name: str | None, count: int, unknown: int = 422) -> str:
        """The model a request names (or the only one), within the per-request text limit; an
        unknown name is ``unknown`` (OpenAI's clients expect 404, model_not_found)."""
        served = self.served
        name = name or (next(iter(served)) if len(served) == 1 else None)
        if name is None:
            raise ServeError(422, f"several models are served: name one in 'model' ({', '.join(served)})",
                             "model_required", param="model")
        if name not in served:
            kind = "model_not_found" if unknown == 404 else "unknown_model"
            raise ServeError(unknown, f"unknown model {name!r}: served are {', '.join(served)}", kind,
                             param="model")
        if count > self.max_batch_texts:
            raise ServeError(413, f"{count} texts in one request; the limit is {self.max_batch_texts}",
                             "too_many_texts", param="input")
        return name

    async def run(self, queue: Batcher, name: str, table: Table, options: Any = None,
                  texts_only: bool = False) -> tuple[Any, Usage]:
        """What ``queue``'s call and finish give for ``table``, and the request's usage."""
        began, tokens, metrics = time.perf_counter(), 0, self.metrics
        try:
            if self.max_batch_tokens is not None:  # the bound needs a request's tokens before it queues
                tokens = (await run_in_threadpool(usage, self.served[name], table, texts_only))[0]
            result, (count, cut) = await asyncio.wait_for(queue.submit(table, tokens, options), self.timeout)
        except QueueFull as exc:
            raise ServeError(429, f"the server is busy: {exc}", "queue_full", {"Retry-After": "1"}) from None
        except asyncio.TimeoutError:
            raise ServeError(503, f"no answer within {self.timeout:g} s: the server is overloaded", "timeout",
                             {"Retry-After": "1"}) from None
        except BertclfError as exc:
            raise ServeError(422, str(exc), "invalid_input") from None
        metrics.inference.labels(name).observe(time.perf_counter() - began)
        metrics.texts.labels(name).inc(len(table))
        metrics.tokens.labels(name).inc(count)
        metrics.batch.labels(name).observe(len(table))
        return result, Usage(texts=len(table), tokens=count, truncated=cut)

    async def explain(self, name: str, table: Table, k: int, method: str = "auto") -> list[list[Any]]:
        """Each row's explanation (``Model.explain``), at most ``MAX_EXPLAIN_TEXTS`` a request:
        a text costs one model call per word, so the limit is far below the prediction's."""
        if len(table) > MAX_EXPLAIN_TEXTS:
            raise ServeError(413, f"{len(table)} texts to explain in one request; the limit is "
                                  f"{MAX_EXPLAIN_TEXTS}", "too_many_texts", param="explain")
        model = self.served[name]
        began = time.perf_counter()
        try:
            found = await run_in_threadpool(model.explain, model.table_inputs(table, "request"), k, method)
        except BertclfError as exc:
            raise ServeError(422, str(exc), "invalid_input", param="explain") from None
        self.metrics.inference.labels(name).observe(time.perf_counter() - began)
        return found

    async def vectors(self, name: str, texts: list[str], field: str) -> tuple[np.ndarray, Usage]:
        """The model's own embedding of ``texts`` (its pooling, layers and normalisation)."""
        model = self.served[name]
        if model.features == "tfidf":
            raise ServeError(422, f"{name} reads TF-IDF n-grams only: it has no encoder to embed with",
                             "no_encoder", param="model")
        if not texts:
            raise ServeError(422, f"{field}: give a text or a non-empty list of texts", "invalid_request",
                             param=field)
        check_texts(texts, field)
        table = Table({model.text_col: list(texts)}, len(texts))
        return await self.run(self.embedders[name], name, table, texts_only=True)

    def dim(self, name: str) -> int:
        """The length of the model's embedding (what ``vectors`` gives), 0 for TF-IDF models."""
        return int(getattr(self._settings(name), "dim", 0))

    def max_length(self, name: str) -> int:
        """The tokens the model reads of a text (its encoder's budget), 0 for TF-IDF models."""
        return int(getattr(self._settings(name), "max_length", 0))

    def _settings(self, name: str) -> Any:
        """The encoder's settings: the runtime's encoder or a slim folder's embedder says them."""
        model = self.served[name]
        encoder = getattr(model, "encoder", None) or getattr(model, "embedder_", None)
        return encoder.settings() if encoder is not None else None


def json_answer(content: Any) -> Response:
    """A JSON response of plain data and numpy arrays, written once by orjson: FastAPI would
    validate it against the response model again first, which for 32 texts of 77 labels cost
    more than the model call, and ``json.dumps`` writes a vector's floats 16 times slower (a
    float32 array is written as float32's shortest repr, which reads back exactly). The
    schemathesis test checks that every answer still matches the schema."""
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")


def text_answer(json_text: str) -> Response:
    return Response(json_text.encode(), media_type="application/json")
