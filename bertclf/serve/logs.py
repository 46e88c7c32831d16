"""One log line per request, on stderr: plain for people, JSON (``--log-json``) for collectors."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

LOGGER = "bertclf.serve"


class JsonFormatter(logging.Formatter):
    """A request's fields, the time and the process (one of --workers), as one JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "request", None) or {"message": record.getMessage()}
        when = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        return json.dumps({"time": when, "pid": record.process, **fields})


def configure(as_json: bool = False) -> logging.Logger:
    """Send the service's request lines to stderr (the CLI calls this; a host app configures its own)."""
    logger = logging.getLogger(LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def log_request(fields: dict[str, Any]) -> None:
    logging.getLogger(LOGGER).info("%s %s %s %.1f ms", fields["method"], fields["path"], fields["status"],
                                   fields["ms"], extra={"request": fields})
