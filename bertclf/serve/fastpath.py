"""The POST endpoints' usual request, answered without FastAPI's request machinery.

FastAPI routes a request through its router, reads the body into a dict with ``json.loads``,
validates the dict, solves the endpoint's dependencies and wraps it all in exit stacks: a quarter
of the event loop's time on a one-text request (py-spy, ``benchmarks/serve_load.py``), and the
event loop shares the GIL with the encoder's threads. ``FastRoute`` hands a JSON body that the
endpoint's pydantic model accepts (``model_validate_json``, pydantic's parser) straight to the
endpoint's function; anything else, errors included, goes on to FastAPI unchanged, so the
answers, the error messages and the OpenAPI schema stay FastAPI's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from bertclf.serve.families import route_path
from bertclf.serve.guard import read_body, replaying

Handler = Callable[[Any], Awaitable[Response]]


class FastRoute:
    """ASGI middleware: a POST to one of ``handlers``' paths (``{path: (request model, handler)}``)
    with a JSON body its model accepts is answered by ``handler(body)``; a ``ServeError``-like
    exception it raises becomes ``refuse(exc, scope)``'s response. ``routes`` are the app's routes, so
    that the request is counted under its route's path as FastAPI's own would be."""

    def __init__(self, app: Any, handlers: Mapping[str, tuple[type[BaseModel], Handler]],
                 refuse: Callable[[Any, dict[str, Any]], Response], refused: type[Exception],
                 routes: list[Any]) -> None:
        self.app, self.handlers, self.refuse, self.refused = app, dict(handlers), refuse, refused
        self.routes = {getattr(route, "path", None): route for route in routes}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = route_path(scope)
        found = self.handlers.get(path) if scope["type"] == "http" and scope.get("method") == "POST" else None
        if found is None or not _json_or_untyped(scope):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive) or b""
        try:
            request = found[0].model_validate_json(body)
        except ValidationError:  # FastAPI says what is wrong, in the app's error format
            await self.app(scope, replaying(body, receive), send)
            return
        scope["route"] = self.routes.get(path)
        try:
            response = await found[1](request)
        except self.refused as exc:
            response = self.refuse(exc, scope)
        await response(scope, receive, send)


def _json_or_untyped(scope: dict[str, Any]) -> bool:
    """Whether FastAPI would read the body as JSON: no Content-Type, or application/json."""
    kind = next((v for k, v in scope.get("headers") or [] if k == b"content-type"), None)
    return kind is None or kind.split(b";", 1)[0].strip().lower() == b"application/json"

