"""The HTTP service: a FastAPI application over ``runtime.open_model``.

Every error is JSON, ``{"error": message, "type": kind}``, with its status; inference runs in a
worker thread, off the event loop, and requests that arrive together share a model call
(``batching``). Models are opened and warmed (one forward pass) when the app is made, so a
broken folder fails before a port is opened. ``/docs`` serves Swagger UI's files from the
``fastapi-offline`` package (no CDN), and ``/`` a page to try the models (``static/index.html``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bertclf._version import __version__
from bertclf.errors import BertclfError, SpecError
from bertclf.io.table import Table
from bertclf.serve.batching import Batcher, QueueFull
from bertclf.serve.catalog import load_models, model_info, one_blas_thread, usage, warm
from bertclf.serve.fastpath import FastRoute
from bertclf.serve.guard import MAX_REQUEST_BYTES, Guard, Metrics
from bertclf.serve.inputs import Answers, ServeError, check_texts, model_table, tei_inputs
from bertclf.serve.schemas import (
    EmbedRequest,
    EmbedResponse,
    ErrorResponse,
    ModelList,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
    PredictRequest,
    PredictResponse,
    Score,
    TEIEmbedRequest,
    TEIPredictRequest,
    Usage,
)

MAX_BATCH_TEXTS = 256  # texts per request, and per merged model call, at most (413 beyond)
MAX_QUEUE_TEXTS = 4096  # texts waiting for a model, at most (429 beyond)
TIMEOUT = 30.0  # seconds a request may wait for its answer (503 beyond)

__all__ = ["ServeError", "create_app", "load_models"]


def create_app(models: Mapping[str, Any] | Sequence[str | os.PathLike[str]],
               api_key: str | Sequence[str] | None = None, max_batch_texts: int = MAX_BATCH_TEXTS,
               max_batch_tokens: int | None = None, batch_wait: float = 0.0,
               max_request_bytes: int = MAX_REQUEST_BYTES, cors_origins: Sequence[str] = (),
               max_queue_texts: int = MAX_QUEUE_TEXTS, timeout: float = TIMEOUT,
               threads: int | None = None) -> FastAPI:
    """A FastAPI app serving ``models`` (name -> loaded model, or model folder paths).

    With ``api_key`` (one key or several), every endpoint but /health, /ready and the page wants
    ``Authorization: Bearer KEY``; bodies over ``max_request_bytes`` are refused unread; CORS is
    off unless origins are given. Requests waiting together are merged into model calls of at
    most ``max_batch_texts`` texts and ``max_batch_tokens`` tokens, an idle model waiting
    ``batch_wait`` seconds for company (0: none). A request finding ``max_queue_texts`` texts
    waiting gets 429, one waiting past ``timeout`` seconds 503. Model folders open with
    ``threads`` encoder threads (None: one per core; ``bertclf serve --workers N`` gives each
    process its share). numpy's BLAS is set to one thread in this process
    (``catalog.one_blas_thread`` says why).
    """
    from fastapi_offline import FastAPIOffline

    served = dict(models) if isinstance(models, Mapping) else load_models(models, threads)
    if not served:
        raise SpecError("no model to serve")
    one_blas_thread()
    for model in served.values():
        warm(model)
    keys = [api_key] if isinstance(api_key, str) else list(api_key or [])
    app = FastAPIOffline(title="bertclf", version=__version__, redoc_url=None,
                         description="Text classifiers from bertclf model folders.")
    app.state.models, app.state.ready = served, True
    metrics = Metrics()

    def batcher(name: str, call: Any, finish: Any) -> Batcher:
        return Batcher(call, max_batch_texts, max_batch_tokens, batch_wait, max_queue_texts,
                       metrics.batches.labels(name).observe, metrics.queue.labels(name).observe,
                       finish=finish)

    calls = {name: _calls(m) for name, m in served.items()}
    predictors = {name: batcher(name, *calls[name][0]) for name in served}
    embedders = {name: batcher(name, *calls[name][1]) for name in served}
    errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse}
                                               for code in (401, 413, 422, 429, 503)}

    @app.exception_handler(ServeError)
    async def refused(request: Request, exc: ServeError) -> JSONResponse:
        return _refusal(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":  # its loc is a character offset, not a field
            where = first.get("loc", ("body", "?"))[-1]
            why = (first.get("ctx") or {}).get("error", "JSON decode error")
            return JSONResponse({"error": f"the body is not valid JSON: {why} at character {where}",
                                 "type": "invalid_request"}, 422)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid")
        return JSONResponse({"error": message, "type": "invalid_request"}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": str(exc.detail), "type": kind}, exc.status_code)

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files("bertclf.serve").joinpath("static/index.html").read_text("utf-8"))

    @app.get("/health", summary="Liveness: the process answers.")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: every model is loaded and warmed.")
    async def ready() -> JSONResponse:
        status = 200 if app.state.ready else 503
        state = "ready" if status == 200 else "loading"
        return JSONResponse({"status": state, "models": list(served)}, status)

    @app.get("/metrics", summary="Prometheus metrics.",
             response_class=Response, responses={401: {"model": ErrorResponse}})
    async def prometheus() -> Response:
        body, kind = metrics.exposition()
        return Response(body, media_type=kind)

    @app.get("/v1/models", response_model=ModelList, responses=errors,
             summary="The served models: labels, inputs, encoder, metrics.")
    async def list_models() -> dict[str, Any]:
        return {"models": [model_info(name, model) for name, model in served.items()]}

    def chosen(name: str | None, count: int) -> str:
        """The model a request names (or the only one), within the per-request text limit."""
        name = name or (next(iter(served)) if len(served) == 1 else None)
        if name is None:
            raise ServeError(422, f"several models are served: name one in 'model' ({', '.join(served)})",
                             "model_required")
        if name not in served:
            raise ServeError(422, f"unknown model {name!r}: served are {', '.join(served)}", "unknown_model")
        if count > max_batch_texts:
            raise ServeError(413, f"{count} texts in one request; the limit is {max_batch_texts}",
                             "too_many_texts")
        return name

    async def run(queue: Batcher, name: str, table: Table, options: Any = None,
                  texts_only: bool = False) -> tuple[Any, Usage]:
        """What ``queue``'s call and finish give for ``table``, and the request's usage."""
        began, tokens = time.perf_counter(), 0
        try:
            if max_batch_tokens is not None:  # the bound needs a request's tokens before it queues
                tokens = (await run_in_threadpool(usage, served[name], table, texts_only))[0]
            result, (count, cut) = await asyncio.wait_for(queue.submit(table, tokens, options), timeout)
        except QueueFull as exc:
            raise ServeError(429, f"the server is busy: {exc}", "queue_full", {"Retry-After": "1"}) from None
        except asyncio.TimeoutError:
            raise ServeError(503, f"no answer within {timeout:g} s: the server is overloaded", "timeout",
                             {"Retry-After": "1"}) from None
        except BertclfError as exc:
            raise ServeError(422, str(exc), "invalid_input") from None
        metrics.inference.labels(name).observe(time.perf_counter() - began)
        metrics.texts.labels(name).inc(len(table))
        metrics.tokens.labels(name).inc(count)
        metrics.batch.labels(name).observe(len(table))
        return result, Usage(texts=len(table), tokens=count, truncated=cut)

    async def vectors(name: str, texts: list[str], field: str) -> tuple[np.ndarray, Usage]:
        model = served[name]
        if model.features == "tfidf":
            raise ServeError(422, f"{name} reads TF-IDF n-grams only: it has no encoder to embed with",
                             "no_encoder")
        if not texts:
            raise ServeError(422, f"{field}: give a text or a non-empty list of texts", "invalid_request")
        check_texts(texts, field)
        table = Table({model.text_col: list(texts)}, len(texts))
        return await run(embedders[name], name, table, texts_only=True)

    @app.post("/v1/predict", response_model=PredictResponse,
              responses=errors, summary="Label texts with a served model.")
    async def predict(body: PredictRequest) -> Response:
        name = chosen(body.model, len(body.texts))
        model = served[name]
        table = model_table(model, body.texts, body.pairs, body.metadata)
        rows, used = await run(predictors[name], name, table, (body.top_k, body.raw_scores))
        predictions = ", ".join(f'{{{label}, "scores": {scores}}}' for label, scores in rows)
        return _text(f'{{"model": {json.dumps(name)}, "predictions": [{predictions}], '
                     f'"usage": {json.dumps(used.model_dump())}}}')

    @app.post("/v1/embed", response_model=EmbedResponse, responses=errors,
              summary="The model's own embedding of texts (its pooling, layers, normalisation).")
    async def embed(body: EmbedRequest) -> Response:
        name = chosen(body.model, len(body.texts))
        found, used = await vectors(name, body.texts, "texts")
        return _json({"model": name, "embeddings": found.tolist(), "dim": int(found.shape[1]),
                      "usage": used.model_dump()})

    @app.post("/v1/embeddings", response_model=OpenAIEmbeddingResponse,
              responses=errors, summary="Embeddings in OpenAI's request and response shape.")
    async def openai_embeddings(body: OpenAIEmbeddingRequest) -> Response:
        texts = [body.input] if isinstance(body.input, str) else body.input
        name = chosen(body.model, len(texts))
        found, used = await vectors(name, texts, "input")
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(found.tolist())]
        return _json({"object": "list", "model": name, "data": data,
                      "usage": {"prompt_tokens": used.tokens, "total_tokens": used.tokens}})

    @app.post("/embed", response_model=list[list[float]],
              responses=errors,
              summary="Embeddings in text-embeddings-inference's shape (the first served model).")
    async def tei_embed(body: TEIEmbedRequest) -> Response:
        texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
        found, _ = await vectors(chosen(next(iter(served)), len(texts)), texts, "inputs")
        if body.normalize:
            found = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)
        return _json(found.tolist())

    @app.post("/predict", responses=errors,
              response_model=list[Score] | list[list[Score]],
              summary="Scores in text-embeddings-inference's shape (the first served model).")
    async def tei_predict(body: TEIPredictRequest) -> Response:
        name = next(iter(served))
        model = served[name]
        single, texts, pairs = tei_inputs(body.inputs, bool(model.pair_col))
        chosen(name, len(texts))
        answered, _ = await run(predictors[name], name, model_table(model, texts, pairs, None, "inputs"),
                                (None, body.raw_scores))
        rows = [scores for _, scores in answered]
        return _text(rows[0] if single else "[" + ", ".join(rows) + "]")

    # Middleware, innermost first: the POST endpoints' usual requests skip FastAPI's request
    # machinery (fastpath), inside the key, size and metrics checks (guard), inside CORS.
    posts = {"/v1/predict": (PredictRequest, predict), "/v1/embed": (EmbedRequest, embed),
             "/v1/embeddings": (OpenAIEmbeddingRequest, openai_embeddings),
             "/embed": (TEIEmbedRequest, tei_embed), "/predict": (TEIPredictRequest, tei_predict)}
    app.add_middleware(FastRoute, handlers=posts, refuse=_refusal, refused=ServeError,
                       routes=app.router.routes)
    app.add_middleware(Guard, metrics=metrics, max_bytes=max_request_bytes, keys=keys)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app


def _refusal(exc: ServeError) -> JSONResponse:
    return JSONResponse({"error": exc.message, "type": exc.kind}, exc.status, headers=exc.headers)


def _calls(model: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The (call, finish) pairs of the predict and the embedding endpoints' batchers: a call
    runs a merged batch of tables in a worker thread, finish makes one request's answer (JSON
    text or vectors) and usage from its rows. The runtime's ``Model`` counts each text's tokens
    and whether it was over the budget as it computes, two more columns of the call's result:
    usage without tokenizing every request a second time, which took a third of the worker
    threads' time under load (py-spy, benchmarks/serve_load.py). A slim folder's
    ``TextClassifier`` counts each request again."""
    answer = Answers(model)

    def texts(table: Table) -> list[str]:
        return table[model.text_col]

    if hasattr(model, "predict_proba_usage"):
        return ((lambda table: np.hstack(model.predict_proba_usage(table)),
                 lambda table, rows, options: (answer.rows(rows[:, :-2], *options), _usage_columns(rows))),
                (lambda table: np.hstack(model.vectors_usage(texts(table))),
                 lambda table, rows, options: (rows[:, :-2].astype(np.float32), _usage_columns(rows))))
    return ((model.predict_proba,
             lambda table, proba, options: (answer.rows(proba, *options), usage(model, table))),
            (lambda table: model.vectors(texts(table)),
             lambda table, vectors, options: (vectors, usage(model, table, texts_only=True))))


def _usage_columns(rows: np.ndarray) -> tuple[int, int]:
    """(tokens, texts over the budget) of a request from its rows' two last columns."""
    return int(rows[:, -2].sum()), int(rows[:, -1].sum())


SETTINGS_VARIABLE = "BERTCLF_SERVE_SETTINGS"


def from_environment() -> FastAPI:
    """The app ``bertclf serve --workers N`` starts in each worker process: ``create_app`` with
    the JSON settings the CLI put in ``$BERTCLF_SERVE_SETTINGS`` (a factory for uvicorn)."""
    from bertclf.serve.logs import configure

    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    configure(as_json=settings.pop("log_json", False))
    return create_app(settings.pop("models"), **settings)


def _json(content: Any) -> Response:
    """A JSON response of plain data, written once: FastAPI would validate it against the
    response model again first, which for 32 texts of 77 labels cost more than the model call.
    The schemathesis test checks that every answer still matches the schema."""
    return _text(json.dumps(content, ensure_ascii=False, allow_nan=False))


def _text(json_text: str) -> Response:
    return Response(json_text.encode(), media_type="application/json")
