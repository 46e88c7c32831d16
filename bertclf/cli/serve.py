"""`bertclf serve`: model folders behind an HTTP API."""

from __future__ import annotations

import os

import click

from bertclf.cli._common import CONTEXT, _stderr


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf serve tickets-model                       # http://127.0.0.1:8000, docs at /docs
  bertclf serve tickets-model news-model --port 9000
  bertclf serve models/ --api-key "$KEY"            # every model folder inside models/
  curl -s localhost:8000/v1/predict -H 'Content-Type: application/json' \\
       -d '{"texts": ["I was charged twice"]}'

\b
Endpoints: POST /v1/predict, GET /v1/models, GET /health, GET /ready, GET /metrics (Prometheus),
OpenAPI at /openapi.json.
Errors are JSON: {"error": ..., "type": ...}. Listens on 127.0.0.1 unless --host says otherwise.""",
)
@click.argument("models", nargs=-1, required=True, metavar="MODEL...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", default=None, metavar="KEY",
              help="Require 'Authorization: Bearer KEY' (also $BERTCLF_API_KEY). [default: none]")
@click.option("--max-batch-texts", type=click.IntRange(1), default=256, show_default=True,
              help="Texts per request, at most (413 beyond).")
@click.option("--max-request-bytes", type=click.IntRange(1), default=1 << 20, show_default=True,
              help="Request body size, at most (413 beyond, refused unread).")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Allow browser calls from this origin (repeatable). [default: CORS off]")
@click.option("--max-queue-texts", type=click.IntRange(1), default=4096, show_default=True,
              help="Texts waiting for a model, at most (429 with Retry-After beyond).")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True,
              help="Seconds a request may wait for its answer (503 beyond).")
@click.option("--log-json", is_flag=True, help="Log one JSON object per request instead of a plain line.")
def serve(models: tuple[str, ...], host: str, port: int, api_key: str | None, max_batch_texts: int,
          max_request_bytes: int, cors_origins: tuple[str, ...], max_queue_texts: int,
          timeout: float, log_json: bool) -> None:
    """Serve model folders over HTTP (a folder of model folders serves each of them).

    Models load before the port opens: a broken folder is one error line and exit 2.
    """
    import uvicorn

    from bertclf.serve.app import create_app
    from bertclf.serve.logs import configure

    key = api_key or os.environ.get("BERTCLF_API_KEY") or None
    app = create_app(list(models), api_key=key, max_batch_texts=max_batch_texts,
                     max_request_bytes=max_request_bytes, cors_origins=cors_origins,
                     max_queue_texts=max_queue_texts, timeout=timeout)
    names = ", ".join(app.state.models)
    configure(as_json=log_json)
    _stderr(f"serving {names} on http://{host}:{port} ({'API key required' if key else 'no API key'}); "
            f"docs at http://{host}:{port}/docs")
    uvicorn.run(app, host=host, port=port, log_level="warning")
