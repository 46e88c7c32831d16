"""The HTTP service: a FastAPI application over ``runtime.open_model``.

Every error is JSON, ``{"error": message, "type": kind}``, with its status; inference runs in a
worker thread, off the event loop, and requests that arrive together share a model call
(``batching``). Models are opened and warmed (one forward pass) when the app is
made, so a broken folder fails before a port is opened.
"""

from __future__ import annotations

import hmac
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from bertclf._version import __version__
from bertclf.errors import BertclfError, InputError, SpecError
from bertclf.serve.batching import Batcher
from bertclf.serve.guard import MAX_REQUEST_BYTES, Guard, Metrics

MAX_BATCH_TEXTS = 256  # texts per request, at most (413 beyond)


class ServeError(Exception):
    """A request the service refuses: its status, a message and a type a client can switch on."""

    def __init__(self, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers


class PredictRequest(BaseModel):
    model: str | None = Field(None, description="A served model's name; optional when one is served.")
    texts: list[str] = Field(..., min_length=1, description="The texts to label.")
    pairs: list[str] | None = Field(None, description="Second texts, for models trained on pairs.")
    metadata: list[dict[str, Any]] | None = Field(
        None, description="One object per text with the model's metadata columns (and join key).")
    top_k: int | None = Field(None, ge=1, description="Only the K best labels per text.")


class Score(BaseModel):
    label: str
    score: float


class Prediction(BaseModel):
    label: str | None = Field(None, description="The best label (one label per text).")
    labels: list[str] | None = Field(None, description="Labels over their tuned thresholds (multi-label).")
    scores: list[Score] = Field(..., description="Every label's probability, best first (or the top K).")


class Usage(BaseModel):
    texts: int


class PredictResponse(BaseModel):
    model: str
    predictions: list[Prediction]
    usage: Usage


class ErrorResponse(BaseModel):
    error: str
    type: str


def model_info(name: str, model: Any) -> dict[str, Any]:
    """What ``GET /v1/models`` says of a model, from its config.json."""
    config = getattr(model, "config", None) or {}
    return {"name": name, "kind": config.get("kind"), "task": model.task, "approach": config.get("approach"),
            "labels": [str(c) for c in model.classes_], "inputs": model.input_columns(),
            "encoder": (config.get("embedder") or {}).get("model"), "metrics": config.get("metrics"),
            "format_version": config.get("format_version"), "bertclf_version": config.get("bertclf_version")}


def load_models(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """Open model folders (a folder of model folders counts as each of them), named by folder."""
    from bertclf.runtime.model import open_model

    folders: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / "config.json").exists():
            inner = sorted(p for p in path.iterdir() if (p / "config.json").is_file())
            if not inner:
                raise InputError(f"{path} is neither a model folder nor a folder of model folders")
            folders += inner
        else:
            folders.append(path)
    names = [p.resolve().name for p in folders]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(f"two model folders are named {', '.join(twice)}: models are served by folder name")
    return {name: open_model(folder, progress=False) for name, folder in zip(names, folders, strict=True)}


def create_app(models: Mapping[str, Any] | Sequence[str | os.PathLike[str]], api_key: str | None = None,
               max_batch_texts: int = MAX_BATCH_TEXTS, max_request_bytes: int = MAX_REQUEST_BYTES,
               cors_origins: Sequence[str] = ()) -> FastAPI:
    """A FastAPI app serving ``models`` (name -> loaded model, or model folder paths). With
    ``api_key``, every endpoint but /health and /ready wants ``Authorization: Bearer KEY``;
    bodies over ``max_request_bytes`` are refused unread; CORS is off unless origins are given."""
    served = dict(models) if isinstance(models, Mapping) else load_models(models)
    if not served:
        raise SpecError("no model to serve")
    for model in served.values():  # warm: the first request should not pay for lazy loading
        model.load_encoder()
        others = [c for c in model.input_columns() if c not in (model.text_col, model.pair_col)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.predict_proba(_inputs(model, ["warm up"], ["warm up"] if model.pair_col else None,
                                        [dict.fromkeys(others)] if others else None))
    app = FastAPI(title="bertclf", version=__version__,
                  description="Text classifiers from bertclf model folders.")
    app.state.models = served
    app.state.ready = True
    metrics = Metrics()
    batchers = {name: Batcher(model, max_batch_texts, metrics.batches.labels(name).observe)
                for name, model in served.items()}
    app.add_middleware(Guard, metrics=metrics, max_bytes=max_request_bytes)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 413, 422)}

    def authorized(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        token = given[7:] if given.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), api_key.encode()):
            raise ServeError(401, "missing or wrong API key: send Authorization: Bearer KEY", "unauthorized",
                             {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ServeError)
    async def refused(request: Request, exc: ServeError) -> JSONResponse:
        return JSONResponse({"error": exc.message, "type": exc.kind}, exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid")
        return JSONResponse({"error": message, "type": "invalid_request"}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": str(exc.detail), "type": kind}, exc.status_code)

    @app.get("/health", summary="Liveness: the process answers.")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: every model is loaded and warmed.")
    async def ready() -> JSONResponse:
        status = 200 if app.state.ready else 503
        state = "ready" if status == 200 else "loading"
        return JSONResponse({"status": state, "models": list(served)}, status)

    @app.get("/metrics", dependencies=[Depends(authorized)], summary="Prometheus metrics.")
    async def prometheus() -> Response:
        body, kind = metrics.exposition()
        return Response(body, media_type=kind)

    @app.get("/v1/models", dependencies=[Depends(authorized)], responses=errors,
             summary="The served models: labels, inputs, encoder, metrics.")
    async def list_models() -> dict[str, Any]:
        return {"models": [model_info(name, model) for name, model in served.items()]}

    @app.post("/v1/predict", dependencies=[Depends(authorized)], response_model=PredictResponse,
              responses=errors, summary="Label texts with a served model.")
    async def predict(body: PredictRequest) -> PredictResponse:
        name = body.model or (next(iter(served)) if len(served) == 1 else None)
        if name is None:
            raise ServeError(422, f"several models are served: name one in 'model' ({', '.join(served)})",
                             "model_required")
        if name not in served:
            raise ServeError(422, f"unknown model {name!r}: served are {', '.join(served)}", "unknown_model")
        if len(body.texts) > max_batch_texts:
            raise ServeError(413, f"{len(body.texts)} texts in one request; the limit is {max_batch_texts}",
                             "too_many_texts")
        model = served[name]
        X = _inputs(model, body.texts, body.pairs, body.metadata)
        began = time.perf_counter()
        try:
            proba = await batchers[name].predict(X)
        except BertclfError as exc:
            raise ServeError(422, str(exc), "invalid_input") from None
        metrics.inference.labels(name).observe(time.perf_counter() - began)
        metrics.texts.labels(name).inc(len(body.texts))
        metrics.batch.labels(name).observe(len(body.texts))
        return PredictResponse(model=name, predictions=_predictions(model, proba, body.top_k),
                               usage=Usage(texts=len(body.texts)))

    return app


def _inputs(model: Any, texts: list[str], pairs: list[str] | None,
            metadata: list[dict[str, Any]] | None) -> Any:
    """X for the model: the texts alone, or a table of the columns it reads."""
    from bertclf.io.table import Table

    columns = model.input_columns()
    if model.pair_col and (pairs is None or len(pairs) != len(texts)):
        raise ServeError(422, f"this model reads sentence pairs: give 'pairs', one per text "
                              f"(its column '{model.pair_col}')", "missing_input")
    others = [c for c in columns if c not in (model.text_col, model.pair_col)]
    if others and (metadata is None or len(metadata) != len(texts)):
        raise ServeError(422, f"this model reads {', '.join(others)}: give 'metadata', one object per text",
                         "missing_input")
    data: dict[str, list[Any]] = {model.text_col: list(texts)}
    if model.pair_col:
        data[model.pair_col] = list(pairs or [])
    for column in others:
        missing = [i for i, row in enumerate(metadata or []) if column not in row]
        if missing:
            raise ServeError(422, f"metadata of text {missing[0]} has no '{column}'", "missing_input")
        data[column] = [row[column] for row in metadata or []]
    return Table(data, len(texts))


def _predictions(model: Any, proba: np.ndarray, top_k: int | None) -> list[Prediction]:
    classes = [str(c) for c in model.classes_]
    out = []
    for row in proba:
        order = np.argsort(-row, kind="stable")[: top_k or len(classes)]
        scores = [Score(label=classes[i], score=float(row[i])) for i in order]
        if model.task == "multi-label":
            chosen = [classes[i] for i in range(len(classes)) if row[i] >= model.thresholds_[i]]
            out.append(Prediction(labels=chosen, scores=scores))
        else:
            out.append(Prediction(label=classes[order[0]], scores=scores))
    return out
