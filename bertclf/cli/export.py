"""`bertclf export`: make a model folder self-contained, for the runtime."""

from __future__ import annotations

import time

import click

from bertclf.cli._common import CONTEXT, _stderr, json_option, print_json


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  bertclf export old-model --out old-model-runtime
  bertclf export tuned-model --out tuned-model          # in place (replaced atomically)
  bertclf export tickets-model --out fp32-model --backend onnx --json

\b
`train` and `finetune` write self-contained folders already (unless --slim); export is for folders
saved slim or by bertclf 0.2 and earlier. The copy predicts with `pip install bertclf` alone: no
torch, transformers or scikit-learn, and a one-text predict starts in well under a second.""",
)
@click.argument("model_path", metavar="MODEL")
@click.option("--out", "-o", required=True, metavar="DIR", help="Folder to write (may be MODEL itself).")
@click.option("--backend", type=click.Choice(["onnx-int8", "onnx"]), default="onnx-int8", show_default=True,
              help="The graph to ship: dynamic int8 (the default CPU path) or fp32.")
@json_option
def export(model_path: str, out: str, backend: str, as_json: bool) -> None:
    """Add the encoder's ONNX graph and tokenizer to a model folder (written to --out).

    Everything else in MODEL is copied unchanged, after its checksums are verified.
    """
    from bertclf.classify.self_contained import export as make_self_contained

    began = time.perf_counter()
    written = make_self_contained(model_path, out, backend)
    written["seconds"] = round(time.perf_counter() - began, 2)
    if as_json:
        print_json(written)
        return
    encoder = f"its {written['encoder']} encoder ({written['encoder_bytes'] / 1e6:.1f} MB)" \
        if written["encoder"] else "no encoder (a TF-IDF model needs none)"
    _stderr(f"wrote {out}: self-contained, {written['bytes'] / 1e6:.1f} MB with {encoder}, "
            f"in {written['seconds']:.1f} s")
