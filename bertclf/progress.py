"""A texts-per-second progress bar on stderr that stays out of pipes, logs and CI output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Advance(Protocol):
    def __call__(self, n: int, description: str | None = None) -> None: ...


def _columns(unit: str = "texts") -> tuple[Any, ...]:
    """The bar's columns; rich is imported only when a bar is shown (a one-text predict does
    not pay for it)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            # The average since the start, not rich's sliding window: matches the final summary.
            elapsed = task.elapsed
            speed = task.completed / elapsed if elapsed else 0.0
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s", style="progress.data.speed")

    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())


def should_show(enabled: bool | None) -> bool:
    """None means: show only when stderr is a terminal."""
    return sys.stderr.isatty() if enabled is None else bool(enabled)


@contextmanager
def progress_bar(total: int, description: str, enabled: bool | None = None,
                 unit: str = "texts") -> Iterator[Advance]:
    """Yield a function that advances the bar by n texts (or other ``unit``s; it may change its
    description too); a no-op when hidden."""
    if not should_show(enabled) or total == 0:
        yield lambda n, description=None: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(*_columns(unit), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n, description=None: bar.update(task, advance=n, description=description)
