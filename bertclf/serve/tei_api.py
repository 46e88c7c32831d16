"""text-embeddings-inference's routes, as its clients call them: ``POST /embed``, ``POST
/predict``, ``POST /`` and ``GET /info``, errors as TEI writes them (``families``).

TEI routes ``POST /`` by its model's kind. A bertclf folder is a classifier that also embeds, so
``POST /`` tells the two calls apart by their bodies, as huggingface_hub's ``InferenceClient``
writes them with a server URL as its model: ``text_classification`` sends the Inference API's
``{"inputs", "parameters"}`` and reads a list of score lists; ``feature_extraction`` sends
``{"inputs"}`` with its options beside it and reads vectors. A body with ``parameters`` or
``raw_scores`` is a prediction, any other an embedding."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from fastapi import FastAPI
from fastapi.responses import Response

from bertclf._version import __version__
from bertclf.serve.payloads import ServeError, model_table, tei_inputs
from bertclf.serve.schemas import (
    Score,
    TEIEmbedRequest,
    TEIError,
    TEIInfo,
    TEIOptions,
    TEIPredictRequest,
    TEIRootRequest,
)
from bertclf.serve.service import Service, json_answer, text_answer

FUNCTIONS = {"softmax": False, "sigmoid": False, "none": True}  # function_to_apply -> raw scores?


def add_tei_routes(app: FastAPI, service: Service) -> dict[str, Any]:
    """Write TEI's routes on ``app``; returns the POST routes for the fast path."""
    errors: dict[int | str, dict[str, Any]] = {code: {"model": TEIError}
                                               for code in (401, 413, 422, 429, 503)}

    @app.get("/info", response_model=TEIInfo, responses=errors,
             summary="The served model in text-embeddings-inference's shape (?model= when several).")
    async def info(model: str | None = None) -> Response:
        name = service.chosen(model, 0)
        found = service.served[name]
        encoder = getattr(found, "encoder", None)
        labels = [str(c) for c in found.classes_]
        return json_answer({
            "model_id": name, "model_sha": None,
            "model_dtype": "int8" if getattr(encoder, "name", "").endswith("int8") else "float32",
            "model_type": {"classifier": {"id2label": {str(i): label for i, label in enumerate(labels)},
                                          "label2id": {label: i for i, label in enumerate(labels)}}},
            "max_concurrent_requests": service.max_queue_texts, "max_input_length": service.max_length(name),
            "max_batch_tokens": service.max_batch_tokens, "max_batch_requests": None,
            "max_client_batch_size": service.max_batch_texts, "auto_truncate": True,
            "tokenization_workers": os.cpu_count() or 1, "version": __version__, "sha": None,
            "docker_label": None})

    @app.post("/embed", response_model=list[list[float]], responses=errors,
              summary="Embeddings in text-embeddings-inference's shape.")
    async def embed(body: TEIEmbedRequest) -> Response:
        return await _embedded(service, body)

    @app.post("/predict", response_model=list[Score] | list[list[Score]], responses=errors,
              summary="Scores in text-embeddings-inference's shape.")
    async def predict(body: TEIPredictRequest) -> Response:
        return await _predicted(service, body, body.raw_scores, None, nested=False)

    @app.post("/", response_model=list[list[float]] | list[Score] | list[list[Score]], responses=errors,
              summary="TEI's root: a prediction when the body has 'parameters' or 'raw_scores' "
                      "(huggingface_hub's text_classification), else an embedding (feature_extraction).")
    async def root(body: TEIRootRequest) -> Response:
        if body.parameters is None and body.raw_scores is None:
            if not isinstance(body.inputs, str) and any(not isinstance(x, str) for x in body.inputs):
                raise ServeError(422, "inputs: lists of two texts are sentence pairs, which predict reads: "
                                      "send 'parameters' or 'raw_scores' with them", "invalid_request",
                                 param="inputs")
            return await _embedded(service, TEIEmbedRequest.model_validate(body.model_dump(exclude={
                "raw_scores", "parameters"})))
        parameters = dict(body.parameters or {})
        top_k = parameters.pop("top_k", None)
        function = parameters.pop("function_to_apply", None)
        if parameters:
            raise ServeError(422, f"parameters: {', '.join(parameters)} not understood (top_k and "
                                  f"function_to_apply are)", "invalid_request", param="parameters")
        if function is not None and str(function).lower() not in FUNCTIONS:
            raise ServeError(422, f"parameters.function_to_apply: {function!r} is not softmax, sigmoid or "
                                  f"none", "invalid_request", param="parameters")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ServeError(422, f"parameters.top_k must be a positive integer, got {top_k!r}",
                             "invalid_request", param="parameters")
        raw = bool(body.raw_scores) or (function is not None and FUNCTIONS[str(function).lower()])
        return await _predicted(service, body, raw, top_k, nested=body.parameters is not None)

    return {"/embed": (TEIEmbedRequest, embed), "/predict": (TEIPredictRequest, predict),
            "/": (TEIRootRequest, root)}


def _check_options(body: TEIOptions) -> None:
    direction = body.truncation_direction
    if direction is not None and direction.lower() != "right":
        raise ServeError(422, f"truncation_direction: {direction!r} is refused: a bertclf model reads a text "
                              f"as it was trained, from its start (Right)", "invalid_request",
                         param="truncation_direction")


def _check_cut(body: TEIOptions, cut: int, service: Service, name: str) -> None:
    """``truncate: false`` is TEI's way to refuse a text over the budget rather than cut it."""
    if body.truncate is False and cut:
        raise ServeError(413, f"inputs: {cut} text(s) are longer than the model's {service.max_length(name)} "
                              f"tokens, and truncate is false", "input_too_long", param="inputs")


async def _embedded(service: Service, body: TEIEmbedRequest) -> Response:
    _check_options(body)
    texts = [body.inputs] if isinstance(body.inputs, str) else list(body.inputs)
    name = service.chosen(body.model, len(texts))
    refused = {"prompt_name": body.prompt_name is not None,
               "dimensions": body.dimensions not in (None, service.dim(name)),
               "encoding_format": body.encoding_format not in (None, "float")}
    for field, wrong in refused.items():
        if wrong:
            raise ServeError(422, f"{field}: {getattr(body, field)!r} is refused: this model has no prompts "
                                  f"and gives {service.dim(name)} dimensions, as floats", "invalid_request",
                             param=field)
    found, used = await service.vectors(name, texts, "inputs")
    _check_cut(body, used.truncated, service, name)
    if body.normalize:
        found = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)
    return json_answer(np.ascontiguousarray(found, dtype=np.float32))


async def _predicted(service: Service, body: TEIOptions, raw: bool, top_k: int | None,
                     nested: bool) -> Response:
    """TEI's scores: one list for one text, a list of lists for several; ``nested``: always a list
    of lists (the Inference API's text classification, as huggingface_hub reads it)."""
    _check_options(body)
    model = service.served[service.chosen(body.model, 0)]
    single, texts, pairs = tei_inputs(body.inputs, bool(model.pair_col))
    name = service.chosen(body.model, len(texts))
    table = model_table(model, texts, pairs, None, "inputs")
    answered, used = await service.run(service.predictors[name], name, table, (top_k, raw))
    _check_cut(body, used.truncated, service, name)
    rows = [scores for _, scores in answered]
    if single and not nested:
        return text_answer(rows[0])
    return text_answer("[" + ", ".join(rows) + "]")
