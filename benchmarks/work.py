"""Work per text against the CPU's int8 peak (issue 44): how much of the machine an embedding
speed uses.

A text of T tokens costs, in each of the encoder's L layers, 4·T·H² multiply-adds for the query,
key, value and output projections, 2·T·H·I for the feed-forward pair and 2·T²·H for the
attention products (H hidden, I intermediate width); the embedding lookup and the LayerNorms are
left out. The int8 peak assumes two vector multiply-add instructions a cycle on every core:
VPDPBUSD on AVX-512 VNNI (64 u8×s8 products each), VPMADDUBSW on AVX2 (32 each, summed in pairs
into saturating 16-bit lanes; the exact u8×u8 products bertclf asks for there run VPMADDWD, 16 each,
so half of this peak is their ceiling). The clock is the one /proc/cpuinfo reports, which on a
virtual machine is the nominal one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# u8×s8 multiply-adds one 256- or 512-bit instruction does, by the widest instruction set
PER_INSTRUCTION = {"AVX-512 VNNI": 64, "AVX-512": 64, "AVX2": 32}
PER_CYCLE = 2  # instructions a cycle a core (two vector multiply ports)


def macs_per_text(config: dict, tokens: list[int]) -> float:
    """Mean multiply-adds of the encoder layers over texts of these token counts."""
    layers, hidden, inner = config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]
    total = sum(layers * (4 * t * hidden ** 2 + 2 * t * hidden * inner + 2 * t * t * hidden) for t in tokens)
    return total / max(1, len(tokens))


def clock_hz() -> float:
    """The first core's clock from /proc/cpuinfo (0 where it is not given)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1]) * 1e6
    except (OSError, ValueError):
        pass
    return 0.0


def int8_peak(isa: str) -> float:
    """Multiply-adds a second all cores could do at the int8 peak of ``isa`` (0 when unknown)."""
    return (os.cpu_count() or 1) * clock_hz() * PER_CYCLE * PER_INSTRUCTION.get(isa, 0)


def share(rate: float, peak: float) -> str:
    """``rate`` multiply-adds a second as a share of ``peak`` ('–' where the peak is unknown)."""
    return f"{rate / peak:.0%}" if peak else "–"


def token_counts(texts: list[str], max_length: int = 256) -> list[int]:
    """Tokens a text takes in the bundled model, [CLS] and [SEP] included, cut at ``max_length``."""
    from tokenizers import Tokenizer

    from bertclf.encode.sources import bundled_model_dir

    tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # the shipped file pads and cuts at 128
    tokenizer.no_truncation()
    return [min(max_length, len(e.ids)) for e in tokenizer.encode_batch(texts)]


def bundled_config() -> dict:
    from bertclf.encode.sources import bundled_model_dir

    return json.loads((bundled_model_dir() / "config.json").read_text())


def share_line(isa: str) -> str:
    """How the share column is computed, for the table's caption."""
    peak = int8_peak(isa)
    if not peak:
        return "The int8 peak of this CPU is unknown: no share column."
    return (f"Share of int8 peak: texts/s × the encoder's multiply-adds per text, over {peak / 1e9:,.0f} G "
            f"multiply-adds/s ({os.cpu_count()} cores × {clock_hz() / 1e9:.2f} GHz × {PER_CYCLE} × "
            f"{PER_INSTRUCTION[isa]} u8×s8 products an instruction on {isa}; see benchmarks/work.py).")
