"""How input files are decoded and split, and good guesses when the defaults do not fit.

``--encoding`` and ``--sep`` are set once per command (``reading``); every reader in
``textio`` and ``streaming`` asks ``current()``. When a file is not UTF-8, charset-normalizer
names the likely encoding; when its rows do not split on the separator, the standard library's
``csv.Sniffer`` names the one that does, so the warning or error can say what to type.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bertclf.errors import SpecError

FEW_BAD_BYTES = 3  # fewer undecodable sequences than this are stray bytes, not another encoding
# A file is not text when a NUL byte is among its first 8,000 bytes (git's and grep's rule), or when
# more than 30% of its bytes do not decode. Measured (benchmarks/text_rule.py): the 12 shared sets
# have no NUL and decode whole; re-encoded to cp1252 or latin-1 at most 0.55% of their bytes fail
# as UTF-8; 325 of 400 system files have a NUL that early, every one a binary (the rest are scripts).
NUL_WINDOW = 8000
MAX_UNDECODABLE = 0.30
SEPARATORS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_SAMPLE_BYTES = 200_000


@dataclass(frozen=True)
class Reading:
    """An input encoding (None: UTF-8, a BOM allowed) and a CSV separator (None: ',' for .csv,
    a tab for .tsv)."""

    encoding: str | None = None
    sep: str | None = None

    @property
    def codec(self) -> str:
        return self.encoding or "utf-8-sig"

    def separator(self, kind: str) -> str:
        return self.sep or ("\t" if kind == "tsv" else ",")


_DEFAULT = Reading()
_CURRENT: ContextVar[Reading | None] = ContextVar("bertclf_reading", default=None)


def current() -> Reading:
    return _CURRENT.get() or _DEFAULT


def check_encoding(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise SpecError(f"unknown encoding {name!r} (try utf-8, latin-1, cp1252, utf-16)") from None


def check_sep(value: str | None) -> str | None:
    if value is None:
        return None
    sep = SEPARATORS.get(value.lower(), value)
    if len(sep) != 1 or sep in "\"\r\n":
        raise SpecError(f"--sep must be one character (or tab, comma, semicolon, pipe), got {value!r}")
    return sep


def set_reading(encoding: str | None = None, sep: str | None = None) -> None:
    """Set how files are read for the rest of this context (the CLI does it once per command)."""
    _CURRENT.set(Reading(check_encoding(encoding), check_sep(sep)))


@contextmanager
def reading(encoding: str | None = None, sep: str | None = None) -> Iterator[Reading]:
    """Read files with this encoding and separator inside the block."""
    token = _CURRENT.set(Reading(check_encoding(encoding), check_sep(sep)))
    try:
        yield current()
    finally:
        _CURRENT.reset(token)


def likely_encoding(raw: bytes) -> str | None:
    """The encoding ``raw`` most likely is in (a Python codec name), or None when unsure or UTF-8.

    Western European text is ambiguous between several single-byte code pages; it is named
    latin-1, or cp1252 when it uses cp1252's extra characters (curly quotes, dashes, euro)."""
    from charset_normalizer import from_bytes

    sample = raw[:_SAMPLE_BYTES]
    results = list(from_bytes(sample))
    if not results:
        return None
    best = results[0]
    tied = [r for r in results if r.chaos == best.chaos and r.coherence == best.coherence]
    if any("cp1252" in r.could_be_from_charset or r.encoding == "cp1252" for r in tied):
        return "cp1252" if any(0x80 <= b <= 0x9F for b in sample) else "latin-1"
    name = codecs.lookup(best.encoding).name
    return None if name in ("utf-8", "ascii") else name


def check_text(head: bytes, name: str, bad: int | None = None, size: int | None = None) -> None:
    """Refuse a file that is not text in the chosen encoding: one clear error, not rows of garbage.
    ``head`` is its first bytes (or all of them); ``bad``, the undecodable sequences found in
    ``size`` bytes, is counted in the first MB of ``head`` when not given."""
    from bertclf.errors import InputError

    codec = current().codec
    if bad is None:
        head = head[:_SAMPLE_BYTES * 5]
        replaced = head.decode(codec, errors="replace").count("\ufffd")
        bad, size = replaced - (head.count("\ufffd".encode("utf-8")) if "utf" in codec else 0), len(head)
    if "16" not in codec and "32" not in codec and b"\0" in head[:NUL_WINDOW]:
        guess = likely_encoding(head)
        if guess and ("16" in guess or "32" in guess):
            raise InputError(f"{name}: NUL bytes among its first bytes: looks like {guess}: "
                             f"try --encoding {guess}")
        raise InputError(f"{name}: not a text file (NUL bytes among its first {NUL_WINDOW:,} bytes): give "
                         f"CSV, TSV, JSONL, Parquet or one text a line")
    size = len(head) if size is None else size
    if size and bad > MAX_UNDECODABLE * size:
        hint = encoding_hint(head, bad) or "; it may not be a text file"
        raise InputError(f"{name}: {bad / size:.0%} of its bytes do not decode as "
                         f"{current().encoding or 'UTF-8'}{hint}")


def encoding_hint(raw: bytes, bad: int) -> str:
    """'; looks like latin-1: try --encoding latin-1', when enough bytes failed to say."""
    if bad < FEW_BAD_BYTES:
        return ""
    guess = likely_encoding(raw)
    return f"; looks like {guess}: try --encoding {guess}" if guess else ""


def other_separator(text: str, sep: str) -> str | None:
    """A separator other than ``sep`` that splits the first lines of ``text`` into the same
    number (at least 2) of fields on every line, or None."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        found = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return None
    if found == sep:
        return None
    widths = {len(row) for row in csv.reader(sample.splitlines(), delimiter=found) if row}
    return found if len(widths) == 1 and widths.pop() >= 2 else None


def sep_hint(text: str, sep: str) -> str:
    found = other_separator(text, sep)
    if found is None:
        return ""
    shown = "tab" if found == "\t" else repr(found)
    return f"; its rows split on {shown}: try --sep {shown}"
