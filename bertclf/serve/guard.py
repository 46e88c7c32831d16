"""What every request passes through before and after the app: the body-size limit, the
Prometheus metrics (``prometheus_client``, one registry per app) and the request's log line."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Sequence
from typing import Any

from bertclf.serve.families import error_response, route_path
from bertclf.serve.logs import log_request

MAX_REQUEST_BYTES = 1 << 20  # 1 MiB: about 5,000 short texts of JSON


def bearer_matches(scope: dict[str, Any], keys: Sequence[bytes]) -> bool:
    """Whether the request's ``Authorization: Bearer KEY`` names one of ``keys`` (every key is
    compared, in constant time, so timing tells nothing); `serve` and `label` check it so."""
    given = next((v for k, v in scope.get("headers") or [] if k == b"authorization"), b"")
    token = given[7:] if given[:7].lower() == b"bearer " else b""
    return any([hmac.compare_digest(token, key) for key in keys])


class Metrics:
    """Request counts by endpoint and status, latency, queue and inference time, texts, tokens, and texts
    per request and per model call."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("bertclf_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("bertclf_request_seconds", "Seconds from request to response", ["endpoint"],
                                 registry=self.registry)
        self.inference = Histogram("bertclf_inference_seconds", "Seconds in the model per request", ["model"],
                                   registry=self.registry)
        self.queue = Histogram("bertclf_queue_seconds", "Seconds a request waited for its model call",
                               ["model"], registry=self.registry)
        self.texts = Counter("bertclf_texts", "Texts labelled or embedded", ["model"], registry=self.registry)
        self.tokens = Counter("bertclf_tokens", "Tokens the encoder read", ["model"], registry=self.registry)
        sizes = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
        self.batch = Histogram("bertclf_request_texts", "Texts per request", ["model"], buckets=sizes,
                               registry=self.registry)
        self.batches = Histogram("bertclf_call_texts", "Texts per model call (requests merged)", ["model"],
                                 buckets=sizes, registry=self.registry)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


# What a client may read without an API key: liveness, readiness, the page and the API docs.
OPEN_PATHS = frozenset({"/health", "/ready", "/", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
OPEN_PREFIX = "/static-offline-docs/"


class Guard:
    """ASGI middleware: with ``keys``, a request without ``Authorization: Bearer KEY`` for one of
    them is refused (401) unless its path is open; a body over ``max_bytes`` is refused (413),
    kept no further than one byte past the limit and the rest dropped as it comes (``drain``),
    then the connection closed; every response is counted
    and timed by its route. Checking keys here rather than in a FastAPI dependency saves the
    dependency machinery on every request (measured with benchmarks/serve_load.py). Errors are
    written in the shape of the route's family (``families``)."""

    def __init__(self, app: Any, metrics: Metrics, max_bytes: int = MAX_REQUEST_BYTES,
                 keys: Sequence[str] = ()) -> None:
        self.app, self.metrics, self.max_bytes = app, metrics, max_bytes
        self.keys = [key.encode() for key in keys]

    def _authorized(self, scope: dict[str, Any]) -> bool:
        if not self.keys:
            return True
        path = route_path(scope)
        if (path in OPEN_PATHS and not (path == "/" and scope.get("method") == "POST")) \
                or path.startswith(OPEN_PREFIX):  # POST / is TEI's inference, not the page
            return True
        return bearer_matches(scope, self.keys)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), [500]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if not self._authorized(scope):
                await _refuse(401, "missing or wrong API key: send Authorization: Bearer KEY", "unauthorized",
                              scope, receive, sending, {"WWW-Authenticate": "Bearer"})
                return
            body = await self._read(scope, receive)
            if body is None:
                await self._too_large(scope, receive, sending)
                return
            await self.app(scope, replaying(body, receive), sending)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            seconds = time.perf_counter() - began
            self.metrics.requests.labels(endpoint, str(status[0])).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            log_request({"method": scope.get("method"), "path": scope.get("path"), "status": status[0],
                         "ms": round(seconds * 1000, 1), "client": (scope.get("client") or [None])[0]})

    async def _read(self, scope: dict[str, Any], receive: Any) -> bytes | None:
        """The body, or None when it is over the limit (by its Content-Length, or as it streams);
        the rest of a refused body is read and dropped (``drain``)."""
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await drain(scope, receive)
            return None
        return await read_body(receive, self.max_bytes, scope)

    async def _too_large(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _refuse(413, f"the request body is over {self.max_bytes:,} bytes", "request_too_large",
                      scope, receive, send, {"Connection": "close"})


async def read_body(receive: Any, max_bytes: int | None = None,
                    scope: dict[str, Any] | None = None) -> bytes | None:
    """The request's body as it streams in, or None as soon as it is over ``max_bytes`` (the rest
    of it then read and dropped, ``drain``)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk, more = message.get("body", b""), message.get("more_body", False)
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            if more:
                await drain(scope or {}, receive)
            return None
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)


DRAIN_BYTES = 64 << 20  # a refused body is read and dropped up to this much...
DRAIN_SECONDS = 10.0  # ...or for this long, whichever ends first


async def drain(scope: dict[str, Any], receive: Any) -> None:
    """Read and drop the rest of a refused body, a chunk at a time (memory stays flat), so that a
    client that writes its whole body before it reads (Python's urllib) reads the 413: closing a
    connection with unread data in it resets it, and the client sees only the reset. Bounded as
    reverse proxies bound their lingering close; a client that announced ``Expect: 100-continue``
    is waiting for our word before it sends, so there is nothing to read."""
    headers = dict(scope.get("headers") or [])
    if headers.get(b"expect", b"").lower() == b"100-continue":
        return
    deadline, dropped = time.monotonic() + DRAIN_SECONDS, 0
    while dropped < DRAIN_BYTES:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def replaying(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives ``body`` (read already) once, then whatever the client sends next."""
    given = [False]

    async def replay() -> dict[str, Any]:
        if not given[0]:
            given[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(status: int, message: str, kind: str, scope: dict[str, Any], receive: Any, send: Any,
                  headers: dict[str, str] | None = None) -> None:
    await error_response(scope, status, message, kind, headers=headers)(scope, receive, send)
