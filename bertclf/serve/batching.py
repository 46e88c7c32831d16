"""Requests that arrive together share one model call: throughput under load without making a
lone request wait.

There is no timer. While the model is busy, requests queue; when it is free, everything queued
(up to ``max_texts`` texts) becomes the next call. A request alone runs at once. Merging cannot
change an answer: the runtime's vectors do not depend on their batch, and a call over merged
rows is row by row everywhere else.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from bertclf.io.table import Table


class QueueFull(Exception):
    """More texts wait than the queue holds: the client should come back later."""


class Batcher:
    """One per served model: ``predict(table)`` gives that table's probabilities. At most
    ``max_queue`` texts wait; beyond that ``predict`` raises QueueFull at once."""

    def __init__(self, model: Any, max_texts: int = 256, observe: Any = None, max_queue: int = 4096) -> None:
        self.model, self.max_texts, self.observe, self.max_queue = model, max_texts, observe, max_queue
        self.pending: list[tuple[Table, asyncio.Future]] = []
        self.running = False

    @property
    def waiting(self) -> int:
        return sum(len(table) for table, _ in self.pending)

    async def predict(self, table: Table) -> np.ndarray:
        if self.waiting + len(table) > self.max_queue:
            raise QueueFull(f"{self.waiting} texts are waiting; the queue holds {self.max_queue}")
        future = asyncio.get_running_loop().create_future()
        item = (table, future)
        self.pending.append(item)
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        try:
            return await future
        except asyncio.CancelledError:  # the request timed out or went away: do not compute it
            if item in self.pending:
                self.pending.remove(item)
            raise

    async def _drain(self) -> None:
        try:
            while self.pending:
                taken, size = [], 0
                while self.pending and (not taken or size + len(self.pending[0][0]) <= self.max_texts):
                    item = self.pending.pop(0)
                    taken.append(item)
                    size += len(item[0])
                await self._run(taken)
        finally:
            self.running = False

    async def _run(self, taken: list[tuple[Table, asyncio.Future]]) -> None:
        tables = [table for table, _ in taken]
        merged = tables[0] if len(tables) == 1 else concat(tables)
        try:
            proba = await run_in_threadpool(self.model.predict_proba, merged)
        except Exception as exc:  # noqa: BLE001 - handed to the requests that asked
            if len(taken) > 1:  # one bad request must not fail the others: run them one by one
                for item in taken:
                    await self._run([item])
                return
            _settle(taken[0][1], exc=exc)
            return
        if self.observe is not None:
            self.observe(len(merged))
        start = 0
        for table, future in taken:
            _settle(future, proba[start:start + len(table)])
            start += len(table)


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
