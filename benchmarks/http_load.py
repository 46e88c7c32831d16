"""A small HTTP/1.1 load generator on asyncio streams, shared by benchmarks/serve_load.py and
the serve tests: N clients, each on its own keep-alive connection, send JSON POSTs one after
another and time them. Far cheaper per request than an HTTP library, so on a small machine the
server, not the client, is what is measured.

Failures are told apart as a client sees them: "connect" (no connection), "closed" (the
connection ended before any byte of the answer: the server never took the request) and "cut"
(it ended inside an answer: a request the server took and lost).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    finished: float  # time.monotonic() when it came back

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Results:
    answers: dict[int, Answer] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def request(host: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def post_many(url: str, path: str, bodies: Iterable[tuple[int, bytes]], clients: int,
                    headers: dict[str, str] | None = None, stop_on_error: bool = False) -> Results:
    """POST each (number, body) of ``bodies`` to ``url + path`` from ``clients`` concurrent
    connections; a client that loses its connection opens another (or, with ``stop_on_error``,
    stops: for a server that is going away)."""
    host, port = url.removeprefix("http://").split(":")
    results, queue = Results(), iter(bodies)
    began = time.monotonic()

    async def client(work: Iterator[tuple[int, bytes]]) -> None:
        reader = writer = None
        for number, body in work:
            started = time.monotonic()
            got_bytes = False
            try:
                if writer is None:
                    try:
                        reader, writer = await asyncio.open_connection(host, int(port))
                    except OSError:
                        results.errors.append("connect")
                        if stop_on_error:
                            return
                        continue
                writer.write(request(f"{host}:{port}", path, body, headers))
                await writer.drain()
                first = await reader.read(1)  # does any answer come back at all?
                if not first:
                    raise ConnectionResetError
                got_bytes = True
                status, payload, keep = await _answer(first, reader)
                done = time.monotonic()
                results.answers[number] = Answer(status, payload, done - started, done)
                if not keep:
                    writer.close()
                    reader = writer = None
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                results.errors.append("cut" if got_bytes else "closed")
                if writer is not None:
                    writer.close()
                reader = writer = None
                if stop_on_error:
                    return
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client(queue) for _ in range(clients)))
    results.seconds = time.monotonic() - began
    return results


async def _answer(first: bytes, reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep the connection?) of a response with a Content-Length whose first
    byte was already read."""
    head = first + await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(fields.get("content-length", 0)))
    return status, body, fields.get("connection", "").lower() != "close"


def percentiles(seconds: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[int, float]:
    """Milliseconds at each percentile of ``seconds``."""
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {p: 1000 * cuts[p - 1] for p in points}
