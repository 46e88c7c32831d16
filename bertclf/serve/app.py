"""The HTTP service: a FastAPI application over ``runtime.open_model``.

bertclf's own routes live here; OpenAI's and text-embeddings-inference's in ``openai_api`` and
``tei_api``, over the same ``service.Service``. Every error is JSON in its route family's shape
(``families``; bertclf's is ``{"error": message, "type": kind}``); inference runs in a worker
thread, off the event loop, and requests that arrive together share a model call
(``batching``). Models are opened and warmed (one forward pass) when the app is made, so a
broken folder fails before a port is opened. ``/docs`` serves Swagger UI's files from the
``fastapi-offline`` package (no CDN), and ``/`` a page to try the models (``static/index.html``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from bertclf._version import __version__
from bertclf.errors import SpecError
from bertclf.io.table import Table
from bertclf.serve.batching import Batcher
from bertclf.serve.catalog import load_models, one_blas_thread, usage, warm
from bertclf.serve.families import error_response, family, route_path
from bertclf.serve.fastpath import FastRoute
from bertclf.serve.guard import MAX_REQUEST_BYTES, Guard, Metrics
from bertclf.serve.payloads import Answers, ServeError, model_table
from bertclf.serve.schemas import (
    EmbedRequest,
    EmbedResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)
from bertclf.serve.service import Service, json_answer, text_answer

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

    from bertclf.serve.openai_api import add_openai_routes
    from bertclf.serve.tei_api import add_tei_routes

    served = dict(models) if isinstance(models, Mapping) else load_models(models, threads)
    if not served:
        raise SpecError("no model to serve")
    one_blas_thread()
    for model in served.values():
        warm(model)
    keys = [api_key] if isinstance(api_key, str) else list(api_key or [])
    app = FastAPIOffline(title="bertclf", version=__version__, redoc_url=None,
                         description="Text classifiers from bertclf model folders: bertclf's own routes, "
                                     "OpenAI's embeddings and models, and text-embeddings-inference's.")
    app.state.models, app.state.ready = served, True
    metrics = Metrics()

    def batcher(name: str, call: Any, finish: Any) -> Batcher:
        return Batcher(call, max_batch_texts, max_batch_tokens, batch_wait, max_queue_texts,
                       metrics.batches.labels(name).observe, metrics.queue.labels(name).observe,
                       finish=finish)

    calls = {name: _calls(m) for name, m in served.items()}
    service = Service(served, {name: batcher(name, *calls[name][0]) for name in served},
                      {name: batcher(name, *calls[name][1]) for name in served}, metrics,
                      max_batch_texts, max_batch_tokens, timeout, max_queue_texts)
    errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse}
                                               for code in (401, 413, 422, 429, 503)}

    @app.exception_handler(ServeError)
    async def refused(request: Request, exc: ServeError) -> JSONResponse:
        return refusal(exc, request.scope)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_body(exc.errors(), request.scope)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(request.scope, exc.status_code, str(exc.detail), kind)

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

    @app.post("/v1/predict", response_model=PredictResponse,
              responses=errors, summary="Label texts with a served model.")
    async def predict(body: PredictRequest) -> Response:
        name = service.chosen(body.model, len(body.texts))
        model = served[name]
        table = model_table(model, body.texts, body.pairs, body.metadata)
        rows, used = await service.run(service.predictors[name], name, table, (body.top_k, body.raw_scores))
        extra = [""] * len(rows)
        if body.explain:
            found = await service.explain(name, table, body.explain_k, body.explain_method)
            extra = [', "explanation": ' + json.dumps([e.to_json() for e in one]) for one in found]
        predictions = ", ".join(f'{{{label}, "scores": {scores}{more}}}'
                                for (label, scores), more in zip(rows, extra, strict=True))
        return text_answer(f'{{"model": {json.dumps(name)}, "predictions": [{predictions}], '
                     f'"usage": {json.dumps(used.model_dump())}}}')

    @app.post("/v1/embed", response_model=EmbedResponse, responses=errors,
              summary="The model's own embedding of texts (its pooling, layers, normalisation).")
    async def embed(body: EmbedRequest) -> Response:
        name = service.chosen(body.model, len(body.texts))
        found, used = await service.vectors(name, body.texts, "texts")
        return json_answer({"model": name, "embeddings": np.ascontiguousarray(found),
                            "dim": int(found.shape[1]), "usage": used.model_dump()})

    posts = {"/v1/predict": (PredictRequest, predict), "/v1/embed": (EmbedRequest, embed)}
    posts.update(add_openai_routes(app, service))
    posts.update(add_tei_routes(app, service))
    # Middleware, innermost first: the POST endpoints' usual requests skip FastAPI's request
    # machinery (fastpath), inside the key, size and metrics checks (guard), inside CORS.
    app.add_middleware(FastRoute, handlers=posts, refuse=refusal, refused=ServeError,
                       routes=app.router.routes)
    app.add_middleware(Guard, metrics=metrics, max_bytes=max_request_bytes, keys=keys)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app


def refusal(exc: ServeError, scope: dict[str, Any]) -> JSONResponse:
    """A refused request's answer, in the shape of its route's family (``families``)."""
    return error_response(scope, exc.status, exc.message, exc.kind, exc.param, exc.headers)


def invalid_body(problems: Sequence[Any], scope: dict[str, Any]) -> JSONResponse:
    """A body FastAPI's validation refused: the first problem, named by its field, in words. OpenAI's
    clients expect 400 for it, the others 422."""
    first = problems[0] if problems else {}
    openai = family(scope.get("method"), route_path(scope)) == "openai"
    status = 400 if openai else 422
    if first.get("type") == "json_invalid":  # its loc is a character offset, not a field
        where = first.get("loc", ("body", "?"))[-1]
        why = (first.get("ctx") or {}).get("error", "JSON decode error")
        return error_response(scope, status, f"the body is not valid JSON: {why} at character {where}",
                              "invalid_request")
    field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{field}: {first.get('msg', 'invalid request')}" if field else first.get("msg", "invalid")
    return error_response(scope, status, message, "invalid_request", field.split(".")[0] or None)


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
