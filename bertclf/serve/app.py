"""The HTTP service: a FastAPI application over ``runtime.open_model``.

Every error is JSON, ``{"error": message, "type": kind}``, with its status; inference runs in a
worker thread, off the event loop, and requests that arrive together share a model call
(``batching``). Models are opened and warmed (one forward pass) when the app is
made, so a broken folder fails before a port is opened.
"""

from __future__ import annotations

import asyncio
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
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bertclf._version import __version__
from bertclf.errors import BertclfError, InputError, SpecError
from bertclf.serve.batching import Batcher, QueueFull
from bertclf.serve.guard import MAX_REQUEST_BYTES, Guard, Metrics

MAX_BATCH_TEXTS = 256  # texts per request, at most (413 beyond)
MAX_QUEUE_TEXTS = 4096  # texts waiting for a model, at most (429 beyond)
TIMEOUT = 30.0  # seconds a request may wait for its answer (503 beyond)


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


class EmbedRequest(BaseModel):
    model: str | None = Field(None, description="A served model's name; optional when one is served.")
    texts: list[str] = Field(..., min_length=1)


class EmbedResponse(BaseModel):
    model: str
    embeddings: list[list[float]]
    dim: int
    usage: dict[str, int]


class OpenAIEmbeddingRequest(BaseModel):
    input: str | list[str] = Field(..., description="A text or a list of texts.")
    model: str | None = None
    encoding_format: str = Field("float", pattern="^float$", description="Only 'float'.")


class TEIEmbedRequest(BaseModel):
    inputs: str | list[str]
    normalize: bool = Field(True, description="L2-normalise each vector (TEI's default).")


class TEIPredictRequest(BaseModel):
    inputs: str | list[str] | list[list[str]] = Field(
        ..., description="A text, a list of texts, or (pair models) [text, pair] lists.")
    raw_scores: bool = Field(False, description="Not supported: the heads give probabilities.")


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
               cors_origins: Sequence[str] = (), max_queue_texts: int = MAX_QUEUE_TEXTS,
               timeout: float = TIMEOUT) -> FastAPI:
    """A FastAPI app serving ``models`` (name -> loaded model, or model folder paths). With
    ``api_key``, every endpoint but /health and /ready wants ``Authorization: Bearer KEY``;
    bodies over ``max_request_bytes`` are refused unread; CORS is off unless origins are given;
    a request finding ``max_queue_texts`` texts waiting gets 429, one waiting past ``timeout``
    seconds 503."""
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
    batchers = {name: Batcher(model, max_batch_texts, metrics.batches.labels(name).observe, max_queue_texts)
                for name, model in served.items()}
    app.add_middleware(Guard, metrics=metrics, max_bytes=max_request_bytes)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse}
                                               for code in (401, 413, 422, 429, 503)}

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

    async def probabilities(name: str, X: Any, count: int) -> np.ndarray:
        began = time.perf_counter()
        try:
            proba = await asyncio.wait_for(batchers[name].predict(X), timeout)
        except QueueFull as exc:
            raise ServeError(429, f"the server is busy: {exc}", "queue_full", {"Retry-After": "1"}) from None
        except asyncio.TimeoutError:
            raise ServeError(503, f"no answer within {timeout:g} s: the server is overloaded", "timeout",
                             {"Retry-After": "1"}) from None
        except BertclfError as exc:
            raise ServeError(422, str(exc), "invalid_input") from None
        metrics.inference.labels(name).observe(time.perf_counter() - began)
        metrics.texts.labels(name).inc(count)
        metrics.batch.labels(name).observe(count)
        return proba

    async def vectors(name: str, texts: list[str]) -> tuple[np.ndarray, int]:
        if served[name].features == "tfidf":
            raise ServeError(422, f"{name} reads TF-IDF n-grams only: it has no encoder to embed with",
                             "no_encoder")
        try:
            return await run_in_threadpool(served[name].embed, texts)
        except BertclfError as exc:
            raise ServeError(422, str(exc), "invalid_input") from None

    @app.post("/v1/predict", dependencies=[Depends(authorized)], response_model=PredictResponse,
              responses=errors, summary="Label texts with a served model.")
    async def predict(body: PredictRequest) -> PredictResponse:
        name = chosen(body.model, len(body.texts))
        model = served[name]
        X = _inputs(model, body.texts, body.pairs, body.metadata)
        proba = await probabilities(name, X, len(body.texts))
        return PredictResponse(model=name, predictions=_predictions(model, proba, body.top_k),
                               usage=Usage(texts=len(body.texts)))

    @app.post("/v1/embed", dependencies=[Depends(authorized)], response_model=EmbedResponse, responses=errors,
              summary="The model's own embedding of texts (its pooling, layers, normalisation).")
    async def embed(body: EmbedRequest) -> EmbedResponse:
        name = chosen(body.model, len(body.texts))
        found, tokens = await vectors(name, body.texts)
        return EmbedResponse(model=name, embeddings=found.tolist(), dim=int(found.shape[1]),
                             usage={"texts": len(body.texts), "tokens": tokens})

    @app.post("/v1/embeddings", dependencies=[Depends(authorized)], responses=errors,
              summary="Embeddings in OpenAI's request and response shape.")
    async def openai_embeddings(body: OpenAIEmbeddingRequest) -> dict[str, Any]:
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts:
            raise ServeError(422, "input: give a text or a non-empty list of texts", "invalid_request")
        name = chosen(body.model, len(texts))
        found, tokens = await vectors(name, texts)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(found.tolist())]
        return {"object": "list", "model": name, "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    @app.post("/embed", dependencies=[Depends(authorized)], responses=errors,
              summary="Embeddings in text-embeddings-inference's shape (the first served model).")
    async def tei_embed(body: TEIEmbedRequest) -> list[list[float]]:
        texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
        if not texts:
            raise ServeError(422, "inputs: give a text or a non-empty list of texts", "invalid_request")
        found, _ = await vectors(chosen(next(iter(served)), len(texts)), texts)
        if body.normalize:
            found = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)
        return found.tolist()

    @app.post("/predict", dependencies=[Depends(authorized)], responses=errors,
              summary="Probabilities in text-embeddings-inference's shape (the first served model).")
    async def tei_predict(body: TEIPredictRequest) -> Any:
        if body.raw_scores:
            raise ServeError(422, "raw_scores: the heads give probabilities only", "unsupported")
        name = next(iter(served))
        model = served[name]
        single, texts, pairs = _tei_inputs(body.inputs, bool(model.pair_col))
        chosen(name, len(texts))
        proba = await probabilities(name, _inputs(model, texts, pairs, None), len(texts))
        classes = [str(c) for c in model.classes_]
        rows = [[{"label": classes[i], "score": float(row[i])} for i in np.argsort(-row, kind="stable")]
                for row in proba]
        return rows[0] if single else rows

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


def _tei_inputs(inputs: Any, pair_model: bool) -> tuple[bool, list[str], list[str] | None]:
    """(one input?, texts, pairs) from TEI's ``inputs``. TEI reads a list of two strings as one
    sentence pair; bertclf copies that for models trained on pairs only, and reads a list of
    strings as that many texts otherwise (a client that sends two texts gets two answers)."""
    if isinstance(inputs, str):
        if pair_model:
            raise ServeError(422, "this model reads sentence pairs: give [text, pair]", "missing_input")
        return True, [inputs], None
    if not inputs:
        raise ServeError(422, "inputs: give a text or a non-empty list", "invalid_request")
    if all(isinstance(x, str) for x in inputs):
        if pair_model and len(inputs) == 2:
            return True, [inputs[0]], [inputs[1]]
        if pair_model:
            raise ServeError(422, "this model reads sentence pairs: give [text, pair] lists", "missing_input")
        return False, list(inputs), None
    if not pair_model or any(len(x) != 2 for x in inputs):
        raise ServeError(422, "inputs: lists of two strings are sentence pairs, for models trained on pairs",
                         "invalid_request")
    return False, [x[0] for x in inputs], [x[1] for x in inputs]


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
