"""The three families of routes and how each says an error.

bertclf serves its own routes (``/v1/predict``, ``/v1/embed``), OpenAI's (``/v1/embeddings``,
``/v1/models``) and text-embeddings-inference's (``POST /``, ``/embed``, ``/predict``, ``/info``).
Each family's clients read errors in their own shape, so each route answers in its family's:

- bertclf: ``{"error": message, "type": kind}``;
- OpenAI: ``{"error": {"message", "type", "param", "code"}}``, the statuses its SDK maps to
  exceptions (400 ``BadRequestError``, 401, 404 ``NotFoundError``, 413, 422, 429
  ``RateLimitError``, 503);
- TEI: ``{"error": message, "error_type": kind}`` with TEI's kinds (validation, empty,
  overloaded, unhealthy, unauthorized).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

OPENAI_PREFIXES = ("/v1/embeddings", "/v1/models")
TEI_PATHS = frozenset({"/embed", "/predict", "/info"})

_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error",
                 429: "rate_limit_error"}
_TEI_TYPES = {401: "unauthorized", 429: "overloaded", 503: "unhealthy"}


def family(method: str | None, path: str) -> str:
    """'openai', 'tei' or 'bertclf', by a request's method and path (as the app's routes name it).
    ``GET /`` is the page; ``POST /`` is TEI's root."""
    if path.startswith(OPENAI_PREFIXES):
        return "openai"
    if path in TEI_PATHS or (path == "/" and method == "POST"):
        return "tei"
    return "bertclf"


def error_body(kind_of_route: str, status: int, message: str, kind: str,
               param: str | None = None) -> dict[str, Any]:
    """An error as the route's family writes it; ``kind`` is bertclf's type for it (OpenAI's
    ``code``), ``param`` the request field at fault (OpenAI's ``param``)."""
    if kind_of_route == "openai":
        kind_name = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return {"error": {"message": message, "type": kind_name, "param": param, "code": kind}}
    if kind_of_route == "tei":
        empty = kind == "invalid_request" and "empty" in message
        return {"error": message, "error_type": _TEI_TYPES.get(status, "empty" if empty else "validation")}
    return {"error": message, "type": kind}


def route_path(scope: dict[str, Any]) -> str:
    """The request's path as the app's routes name it: without the prefix it is mounted under."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return (path[len(root):] or "/") if root and path.startswith(root) else path


def error_response(scope: dict[str, Any], status: int, message: str, kind: str, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response for an error on the request of ``scope``, in its route family's shape."""
    shape = family(scope.get("method"), route_path(scope))
    return JSONResponse(error_body(shape, status, message, kind, param), status, headers=headers)
