"""serve.fastpath: a POST endpoint's usual request skips FastAPI; every other request reaches the
app with its body intact."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("fastapi")

from starlette.responses import JSONResponse  # noqa: E402

from bertclf.serve.fastpath import FastRoute  # noqa: E402
from bertclf.serve.payloads import ServeError  # noqa: E402
from bertclf.serve.schemas import PredictRequest  # noqa: E402


class Route:
    path = "/v1/predict"


def call(body: bytes, method: str = "POST", path: str = "/v1/predict", root: str = "",
         content_type: bytes | None = b"application/json", chunks: int = 1) -> dict:
    """Send one request through a FastRoute over a stub app; what answered, and what it saw."""
    seen: dict = {"handled": [], "app_body": None}

    async def handler(request: PredictRequest) -> JSONResponse:
        seen["handled"].append(request)
        if request.model == "refuse":
            raise ServeError(422, "refused here", "unknown_model")
        return JSONResponse({"by": "fast path"})

    async def app(scope, receive, send):
        message = await receive()
        seen["app_body"] = message["body"]
        await JSONResponse({"by": "app"})(scope, receive, send)

    fast = FastRoute(app, {"/v1/predict": (PredictRequest, handler)}, refuse=lambda e, scope: JSONResponse(
        {"error": e.message, "type": e.kind}, e.status), refused=ServeError, routes=[Route()])
    headers = [(b"content-type", content_type)] if content_type is not None else []
    scope = {"type": "http", "method": method, "path": root + path, "root_path": root, "headers": headers}
    step = max(1, -(-len(body) // chunks))
    parts = [body[i:i + step] for i in range(0, len(body), step)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                for i, p in enumerate(parts)]
    sent: list = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(fast(scope, receive, send))
    seen["status"] = sent[0]["status"]
    seen["answer"] = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    seen["route"] = scope.get("route")
    return seen


def test_a_valid_request_is_answered_by_its_handler_under_its_route():
    seen = call(b'{"texts": ["a", "b"], "top_k": 2}', chunks=3)
    assert seen["answer"] == {"by": "fast path"} and seen["app_body"] is None
    assert seen["handled"][0].texts == ["a", "b"] and seen["handled"][0].top_k == 2
    assert isinstance(seen["route"], Route)  # metrics count it under /v1/predict
    assert call(b'{"texts": ["a"]}', content_type=None)["answer"] == {"by": "fast path"}
    assert call(b'{"texts": ["a"]}', content_type=b"application/json; charset=utf-8")["handled"]
    assert call(b'{"texts": ["a"]}', root="/api")["handled"]  # mounted under a prefix


@pytest.mark.parametrize("body,options", [
    (b'{"texts": []}', {}),  # the model refuses it: FastAPI writes the error
    (b'{"texts": ["a"', {}),  # not JSON
    (b'{"texts": ["a"]}', {"content_type": b"text/plain"}),  # FastAPI would not read it as JSON
    (b'{"texts": ["a"]}', {"method": "PUT"}),
    (b'{"texts": ["a"]}', {"path": "/v1/embed"}),
])
def test_anything_else_reaches_the_app_with_its_body(body, options):
    seen = call(body, **options)
    assert seen["answer"] == {"by": "app"} and seen["handled"] == []
    assert seen["app_body"] == body


def test_a_handler_refusal_is_the_apps_error_format():
    seen = call(b'{"model": "refuse", "texts": ["a"]}')
    assert seen["status"] == 422
    assert seen["answer"] == {"error": "refused here", "type": "unknown_model"}
