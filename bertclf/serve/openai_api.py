"""OpenAI's routes, as its SDKs call them: ``POST /v1/embeddings`` (floats or base64, as the SDK
asks by default), ``GET /v1/models`` and ``GET /v1/models/{id}``, errors in OpenAI's object with
the statuses the SDK maps to its exceptions (``families``)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import FastAPI
from fastapi.responses import Response

from bertclf.serve.catalog import model_info
from bertclf.serve.payloads import ServeError
from bertclf.serve.schemas import (
    ModelList,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
    OpenAIErrorResponse,
    OpenAIModel,
)
from bertclf.serve.service import Service, json_answer

ENCODINGS = ("float", "base64")


def add_openai_routes(app: FastAPI, service: Service) -> dict[str, Any]:
    """Write OpenAI's routes on ``app``; returns the POST routes for the fast path."""
    served = service.served
    errors: dict[int | str, dict[str, Any]] = {code: {"model": OpenAIErrorResponse}
                                               for code in (400, 401, 404, 413, 422, 429, 503)}

    @app.get("/v1/models", response_model=ModelList, responses=errors,
             summary="The served models in OpenAI's list shape, with bertclf's details (labels, inputs, "
                     "encoder, metrics).")
    async def list_models() -> Response:
        return json_answer({"object": "list", "data": [model_info(name, m) for name, m in served.items()]})

    @app.get("/v1/models/{model_id}", response_model=OpenAIModel,
             responses=errors, summary="One served model, as OpenAI's models.retrieve reads it.")
    async def one_model(model_id: str) -> Response:
        if model_id not in served:
            raise ServeError(404, f"unknown model {model_id!r}: served are {', '.join(served)}",
                             "model_not_found", param="model")
        return json_answer(model_info(model_id, served[model_id]))

    @app.post("/v1/embeddings", response_model=OpenAIEmbeddingResponse, responses=errors,
              summary="Embeddings in OpenAI's request and response shape (floats or base64).")
    async def embeddings(body: OpenAIEmbeddingRequest) -> Response:
        texts = _texts(body.input)
        if body.encoding_format not in ENCODINGS:
            raise ServeError(400, f"encoding_format: {body.encoding_format!r} is not one of float, base64",
                             "invalid_encoding_format", param="encoding_format")
        name = service.chosen(body.model, len(texts), unknown=404)
        dim = service.dim(name)
        if body.dimensions is not None and body.dimensions != dim:
            raise ServeError(400, f"dimensions: {name} gives vectors of {dim} dimensions, and they were not "
                                  f"trained to be cut shorter: leave dimensions out or give {dim}",
                             "invalid_dimensions", param="dimensions")
        if not texts:
            raise ServeError(400, "input: give a text or a non-empty list of texts", "invalid_request",
                             param="input")
        found, used = await service.vectors(name, texts, "input")
        vectors = _encoded(found, body.encoding_format)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return json_answer({"object": "list", "model": name, "data": data,
                            "usage": {"prompt_tokens": used.tokens, "total_tokens": used.tokens}})

    return {"/v1/embeddings": (OpenAIEmbeddingRequest, embeddings)}


def _texts(given: Any) -> list[str]:
    """The texts of ``input``; token ids (ints) are OpenAI's tokenizer's, which no bertclf model
    reads, so they are refused with a clear word rather than guessed at."""
    if isinstance(given, str):
        return [given]
    if any(not isinstance(item, str) for item in given):
        raise ServeError(400, "input: token ids are refused: they are ids of OpenAI's tokenizer, and this "
                              "model reads text with its own; send the texts", "unsupported_input",
                         param="input")
    return list(given)


def _encoded(vectors: np.ndarray, encoding: str) -> list[Any]:
    """Each vector as floats, or as OpenAI encodes base64: the bytes of little-endian float32."""
    if encoding == "float":
        return list(np.ascontiguousarray(vectors, dtype=np.float32))
    little = np.ascontiguousarray(vectors, dtype="<f4")
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in little]
