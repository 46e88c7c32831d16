"""`bertclf serve`: model folders behind an HTTP API."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bertclf.cli._common import CONTEXT, _stderr, check_address


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf serve tickets-model                       # http://127.0.0.1:8000: a page at /, docs at /docs
  bertclf serve tickets-model news-model --port 9000
  bertclf serve models/ --api-key-file keys.txt     # every model folder inside models/
  bertclf serve tickets-model --host 0.0.0.0 --workers 2
  bertclf serve tickets-model --root-path /classify   # behind a proxy at https://host/classify/
  bertclf serve tickets-model --max-batch-tokens 8192 --batch-wait-ms 2 --log-json
  curl -s localhost:8000/v1/predict -H 'Content-Type: application/json' \\
       -d '{"texts": ["I was charged twice"]}'
  curl -s localhost:8000/v1/embeddings -H 'Content-Type: application/json' \\
       -d '{"model": "tickets-model", "input": "where is my parcel"}'   # as OpenAI's SDK asks
  curl -s localhost:8000/ -H 'Content-Type: application/json' \\
       -d '{"inputs": "I was charged twice", "parameters": {}}'   # as huggingface_hub asks

\b
Endpoints: POST /v1/predict, /v1/embed; OpenAI's POST /v1/embeddings, GET /v1/models; TEI's
POST /, /predict, /embed, GET /info; GET /health, /ready, /metrics (Prometheus); OpenAPI at
/openapi.json. Errors are JSON in each family's shape (bertclf: {"error": ..., "type": ...}).
OpenAI's SDK (base_url .../v1) and huggingface_hub's InferenceClient (model=the server's URL) work
with their defaults. Listens on 127.0.0.1 unless --host says otherwise; SIGTERM or Ctrl+C
finishes the requests in flight, then exits 0.""",
)
@click.argument("models", nargs=-1, required=True, metavar="MODEL...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", default=None, metavar="KEY",
              help="Require 'Authorization: Bearer KEY' (also $BERTCLF_API_KEY). [default: none]")
@click.option("--api-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Accept any key of this file, one a line ('#' starts a comment).")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="Server processes, each with its own models and an equal share of the cores "
                   "(for machines with many cores).")
@click.option("--max-batch-texts", type=click.IntRange(1), default=256, show_default=True,
              help="Texts per request and per merged model call, at most (413 beyond, per request).")
@click.option("--max-batch-tokens", type=click.IntRange(1), default=None,
              help="Tokens per merged model call, at most (a request alone always runs). [default: no limit]")
@click.option("--batch-wait-ms", type=click.FloatRange(0, 50), default=0.0, show_default=True,
              help="Milliseconds an idle model waits for more requests before a call (0: none).")
@click.option("--max-request-bytes", type=click.IntRange(1), default=1 << 20, show_default=True,
              help="Request body size, at most (413 beyond, refused unread).")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Allow browser calls from this origin (repeatable). [default: CORS off]")
@click.option("--max-queue-texts", type=click.IntRange(1), default=4096, show_default=True,
              help="Texts waiting for a model, at most (429 with Retry-After beyond).")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True,
              help="Seconds a request may wait for its answer (503 beyond).")
@click.option("--root-path", default="", metavar="PREFIX",
              help="The path prefix a reverse proxy serves this under (e.g. /classify), for /docs' links.")
@click.option("--log-json", is_flag=True, help="Log one JSON object per request instead of a plain line.")
def serve(models: tuple[str, ...], host: str, port: int, api_key: str | None, api_key_file: Path | None,
          workers: int, max_batch_texts: int, max_batch_tokens: int | None, batch_wait_ms: float,
          max_request_bytes: int, cors_origins: tuple[str, ...], max_queue_texts: int, timeout: float,
          root_path: str, log_json: bool) -> None:
    """Serve model folders over HTTP (a folder of model folders serves each of them).

    Models load before the port opens: a broken folder is one error line and exit 2.
    """
    import gc
    import json
    import signal

    import uvicorn

    from bertclf.encode.rowwise import default_workers
    from bertclf.serve.app import SETTINGS_VARIABLE, create_app
    from bertclf.serve.logs import configure

    keys = _keys(api_key or os.environ.get("BERTCLF_API_KEY") or None, api_key_file)
    check_address(host, port)  # before the models load: a busy port is one line, not a stack of logs
    # Each worker process runs its encoders on its share of the cores: N processes of a thread
    # per core each would run N times as many threads as there are cores.
    share = max(1, default_workers() // workers) if workers > 1 else None
    settings = {"api_key": keys, "max_batch_texts": max_batch_texts, "max_batch_tokens": max_batch_tokens,
                "threads": share, "batch_wait": batch_wait_ms / 1000, "max_request_bytes": max_request_bytes,
                "cors_origins": list(cors_origins), "max_queue_texts": max_queue_texts, "timeout": timeout}
    app = create_app(list(models), **settings)  # with --workers, only to fail before the port opens
    names = ", ".join(app.state.models)
    configure(as_json=log_json)
    _stderr(f"serving {names} on http://{host}:{port} ({'API key required' if keys else 'no API key'}"
            f"{f', {workers} workers' if workers > 1 else ''}); try it at http://{host}:{port}/, "
            f"docs at /docs")
    # What start-up made (models, modules) lives as long as the server: out of the collector's
    # sight, so its collections under load scan only what requests make.
    gc.collect()
    gc.freeze()
    # uvicorn finishes the requests in flight on SIGTERM or Ctrl+C, then raises the signal again
    # for the handler it found: this one lets the command end there, with exit status 0.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda number, frame: None)
    common = {"host": host, "port": port, "log_level": "warning", "root_path": root_path,
              "timeout_graceful_shutdown": int(timeout) + 5}  # in-flight requests may take --timeout
    if workers == 1:
        uvicorn.run(app, **common)
        return
    del app
    os.environ[SETTINGS_VARIABLE] = json.dumps({"models": [os.path.abspath(m) for m in models],
                                                "log_json": log_json, **settings})
    uvicorn.run("bertclf.serve.app:from_environment", factory=True, workers=workers, **common)


def _keys(key: str | None, path: Path | None) -> list[str]:
    """The accepted API keys: the one given (or from the environment) and a file's, one a line."""
    from bertclf.errors import InputError

    keys = [key] if key else []
    if path is not None:
        lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
        found = [line for line in lines if line]
        if not found:
            raise InputError(f"{path} holds no API key (one a line; '#' starts a comment)")
        keys += found
    return keys
