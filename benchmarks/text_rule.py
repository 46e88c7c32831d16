"""The rule that tells a text file from one that is not (bertclf.io.sniff.check_text), measured:
no real file may trip it, and binaries should.

Real files: every CSV of ../shared/data as it is (UTF-8), and re-encoded to cp1252 and latin-1
(the usual text in another encoding). Not text: the first MB of up to 400 files of /usr/bin and
/usr/lib. For each it prints whether a NUL byte is among the first 8,000 bytes and the share of
bytes that do not decode as UTF-8, then what the rule says of them.

    python benchmarks/text_rule.py
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from bertclf.io.sniff import MAX_UNDECODABLE, NUL_WINDOW

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


NUL = b"\0"


def undecodable(raw: bytes) -> float:
    text = raw.decode("utf-8", errors="replace")
    return (text.count("\ufffd") - raw.count("\ufffd".encode())) / max(1, len(raw))


def refused(raw: bytes) -> bool:
    return NUL in raw[:NUL_WINDOW] or undecodable(raw) > MAX_UNDECODABLE


def main() -> None:
    real = []
    for path in sorted(DATA.glob("*/*.csv")):
        text = path.read_text(encoding="utf-8")
        for encoding in ("utf-8", "cp1252", "latin-1"):
            raw = text.encode(encoding, errors="replace")
            real.append((f"{path.parent.name}/{path.name} as {encoding}", raw))
    print(f"{'real file':45s} {'NUL':>4s} {'undecodable':>12s} refused")
    for name, raw in real:
        nul = int(NUL in raw[:NUL_WINDOW])
        print(f"{name:45s} {nul:4d} {undecodable(raw):12.4%} {refused(raw)}")
    binaries = [p for p in glob.glob("/usr/bin/*")[:300] + glob.glob("/usr/lib/x86_64-linux-gnu/*.so*")[:100]
                if os.path.isfile(p)]
    raws = [Path(p).read_bytes()[: 1 << 20] for p in binaries]
    raws = [r for r in raws if r]
    with_nul = sum(NUL in r[:NUL_WINDOW] for r in raws)
    print(f"\nreal files refused: {sum(refused(r) for _, r in real)} of {len(real)}; "
          f"largest undecodable share {max(undecodable(r) for _, r in real):.2%}")
    print(f"system files: {len(raws)}, NUL among the first {NUL_WINDOW:,} bytes: {with_nul}, refused: "
          f"{sum(refused(r) for r in raws)} (the rest are scripts: text)")


if __name__ == "__main__":
    main()
