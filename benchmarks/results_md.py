"""Replacing one marked section of docs/results.md (or docs/performance.md), so each benchmark
rewrites only its own."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.md"
PERFORMANCE = RESULTS.with_name("performance.md")


def write_section(begin: str, end: str, text: str, doc: Path = RESULTS) -> None:
    """Put ``text`` (which starts with ``begin`` and ends with ``end``) in place of the old
    section, or at the end of the file; written to a temporary file, then renamed."""
    doc.parent.mkdir(exist_ok=True)
    old = (doc.read_text() if doc.exists() else
           f"# {doc.stem.title()}\n\nMeasured figures; each section names the script that writes it.\n")
    if begin in old and end in old:
        new = old[: old.index(begin)] + text + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    tmp = doc.with_suffix(".md.tmp")
    tmp.write_text(new)
    os.replace(tmp, doc)


def publish(name: str, body: str, command: str, write: bool = True, seconds: float | None = None,
            doc: Path = RESULTS) -> str:
    """Wrap ``body`` in the markers of section ``name`` with a 'measured on DATE on CPU by
    COMMAND' line, print it, and (``write``) put it in docs/results.md (today's figures only: the
    reasoning goes in docs/notes.md)."""
    from datetime import date

    took = f" in {seconds:.0f} s" if seconds is not None else ""
    section = (f"<!-- {name}: begin -->\n_Measured {date.today()} on {cpu_line()} by `{command}`{took}._\n\n"
               f"{body}\n<!-- {name}: end -->")
    print(section, flush=True)
    if write:
        write_section(f"<!-- {name}: begin -->", f"<!-- {name}: end -->", section, doc)
    return section


def widest_isa() -> str:
    """This CPU's widest vector instruction set, as speed figures name it."""
    from bertclf.encode.backends import cpu_flags

    flags = cpu_flags()
    return ("AVX-512 VNNI" if "avx512_vnni" in flags else "AVX-512" if "avx512f" in flags
            else "AVX2" if "avx2" in flags else "no AVX2")


def cpu_line() -> str:
    """The CPU's name and widest vector instruction set, to print beside speed figures (machines
    differ between sessions: AVX-512 VNNI one day, AVX2 only the next)."""
    import platform

    name = platform.machine()
    try:
        name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, {widest_isa()}"


def isa_section(name: str) -> tuple[str, str]:
    """Section ``name`` and a heading suffix for this CPU: int8 kernels differ between AVX-512 VNNI
    and AVX2, so figures from an AVX2-only (or other) CPU go in a section of their own beside the
    AVX-512 VNNI one instead of replacing it."""
    widest = widest_isa()
    if widest == "AVX-512 VNNI":
        return name, ""
    return f"{name}-{widest.lower().replace(' ', '-').replace('-512', '512')}", f" ({widest} CPU)"


def run_sets(names: list[str], rows: str | None, run: Callable[[str], dict]) -> dict[str, dict]:
    """``run(name)`` for each set not yet in the JSON-lines file ``rows`` (each new row is printed
    and appended as soon as it is done, so a long benchmark resumes where it stopped); every
    set's row, by name."""
    rows_file = Path(rows) if rows else None
    done = {r["set"]: r for r in read_rows(rows_file)}
    for name in names:
        if name in done:
            continue
        row = run(name)
        record(row, rows_file)
        done[name] = row
    return done


def read_rows(rows: str | Path | None) -> list[dict]:
    """The rows of a JSON-lines file of finished runs (none when it is missing or not given;
    blank lines skipped)."""
    import json

    found = Path(rows) if rows else None
    lines = found.read_text().splitlines() if found and found.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def record(row: dict, rows: str | Path | None, stream: Any = None) -> None:
    """Print a finished row (to ``stream``, stdout by default) and append it to the JSON-lines
    file ``rows``, if any, so a long benchmark resumes where it stopped."""
    import json

    print(json.dumps(row), flush=True, file=stream)
    if rows is not None:
        with Path(rows).open("a") as handle:
            handle.write(json.dumps(row) + "\n")
