"""Requests that arrive together share one model call: throughput under load without making a
lone request wait.

While the model is busy, requests queue; when it is free, what is queued (up to ``max_texts``
texts and ``max_tokens`` tokens) becomes the next call. By default there is no timer: a request
that finds the model idle runs at once, and under load calls grow with the queue. ``wait``
seconds (a few milliseconds at most) lets an idle model collect a few requests first, which only
pays when many clients send one text each. Merging cannot change an answer: the runtime's vectors
do not depend on their batch, and everything after the encoder is row by row.

While one call is in the model, the next gathers company: it starts once as many texts wait as
that call holds (or its model work returns), not as soon as one request arrives. The cores are
busy meanwhile, so waiting costs no throughput, and calls stay about even in size instead of a
third of them holding one text (32 clients of one text each), each call's fixed costs shared by
more texts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from bertclf.io.table import Table


class QueueFull(Exception):
    """More texts wait than the queue holds: the client should come back later."""


@dataclass(eq=False)
class _Job:
    table: Table
    tokens: int
    options: Any
    future: asyncio.Future
    since: float = field(default_factory=time.perf_counter)


class Batcher:
    """One per served model and kind of call: ``submit(table, tokens, options)`` gives
    ``call(table)``'s rows for that table, or ``finish(table, rows, options)`` of them: work per
    request (usage, the answer's JSON) done in the worker thread too, off the event loop, which
    under load is the server's busiest thread. At most ``max_queue`` texts wait; beyond that ``submit`` raises
    QueueFull at once. ``observe_call(texts)`` and ``observe_wait(seconds)`` feed metrics.

    Up to ``calls`` model calls run at once (2): while one tokenizes, pools and applies the head
    in Python, the other's texts keep the encoder's threads busy, which alone sat idle a
    quarter of the time under load (py-spy, benchmarks/serve_load.py)."""

    def __init__(self, call: Callable[[Table], np.ndarray], max_texts: int = 256,
                 max_tokens: int | None = None, wait: float = 0.0, max_queue: int = 4096,
                 observe_call: Callable[[int], Any] | None = None,
                 observe_wait: Callable[[float], Any] | None = None, calls: int = 2,
                 finish: Callable[[Table, np.ndarray, Any], Any] | None = None) -> None:
        self.call, self.max_texts, self.max_tokens, self.wait = call, max_texts, max_tokens, wait
        self.finish = finish
        self.max_queue, self.observe_call, self.observe_wait = max_queue, observe_call, observe_wait
        self.calls = calls
        self.pending: list[_Job] = []
        self.running = 0  # model calls under way (at most ``calls``)
        self.computing = 0  # texts of the calls inside ``call`` now (in a worker thread)
        self._changed: asyncio.Event | None = None  # set when a request arrives or a call returns

    @property
    def waiting(self) -> int:
        return sum(len(job.table) for job in self.pending)

    async def submit(self, table: Table, tokens: int = 0, options: Any = None) -> Any:
        if self.waiting + len(table) > self.max_queue:
            raise QueueFull(f"{self.waiting} texts are waiting; the queue holds {self.max_queue}")
        job = _Job(table, tokens, options, asyncio.get_running_loop().create_future())
        self.pending.append(job)
        if self._changed is not None:
            self._changed.set()
        if self.running < self.calls:
            self.running += 1
            asyncio.get_running_loop().create_task(self._drain())
        try:
            return await job.future
        except asyncio.CancelledError:  # the request timed out or went away: do not compute it
            if job in self.pending:
                self.pending.remove(job)
            raise

    def _fits(self, taken: list[_Job], texts: int, tokens: int, job: _Job) -> bool:
        if not taken:
            return True  # a request alone always runs, whatever its size
        if texts + len(job.table) > self.max_texts:
            return False
        return self.max_tokens is None or tokens + job.tokens <= self.max_tokens

    async def _drain(self) -> None:
        try:
            while self.pending:
                if self.wait and self.waiting < self.max_texts:
                    await asyncio.sleep(self.wait)
                await self._gather()
                if not self.pending:  # what waited went away (timed out) meanwhile
                    continue
                taken: list[_Job] = []
                texts = tokens = 0
                while self.pending and self._fits(taken, texts, tokens, self.pending[0]):
                    job = self.pending.pop(0)
                    taken.append(job)
                    texts, tokens = texts + len(job.table), tokens + job.tokens
                if self.observe_wait is not None:
                    now = time.perf_counter()
                    for job in taken:
                        self.observe_wait(now - job.since)
                await self._run(taken)
        finally:
            self.running -= 1

    async def _gather(self) -> None:
        """While another call is in the model (the cores are busy), let requests gather until
        as many texts wait as it holds, or its model work returns."""
        if self._changed is None:
            self._changed = asyncio.Event()
        while self.pending and self.waiting < min(self.computing, self.max_texts):
            self._changed.clear()
            await self._changed.wait()

    def _returned(self, texts: int) -> None:  # on the event loop, when a call's ``call`` has returned
        self.computing -= texts
        if self._changed is not None:
            self._changed.set()

    async def _run(self, taken: list[_Job]) -> None:
        merged = taken[0].table if len(taken) == 1 else concat([job.table for job in taken])
        loop = asyncio.get_running_loop()

        def work() -> list[Any]:  # in a worker thread: the call, then each request's own finish
            try:
                rows = self.call(merged)
            finally:
                loop.call_soon_threadsafe(self._returned, len(merged))
            start, out = 0, []
            for job in taken:
                part = rows[start:start + len(job.table)]
                start += len(job.table)
                out.append(self.finish(job.table, part, job.options) if self.finish else part)
            return out

        self.computing += len(merged)
        try:
            results = await run_in_threadpool(work)
        except Exception as exc:  # noqa: BLE001 - handed to the requests that asked
            if len(taken) > 1:  # one bad request must not fail the others: run them one by one
                for job in taken:
                    await self._run([job])
                return
            _settle(taken[0].future, exc=exc)
            return
        if self.observe_call is not None:
            self.observe_call(len(merged))
        for job, result in zip(taken, results, strict=True):
            _settle(job.future, result)


def concat(tables: list[Table]) -> Table:
    """Tables of the same columns, one after another."""
    columns = tables[0].columns
    return Table({c: [v for t in tables for v in t[c]] for c in columns}, sum(len(t) for t in tables))


def _settle(future: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():  # the client went away
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
