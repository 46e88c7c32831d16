"""ONNX Runtime's transformer optimiser before int8 quantisation (issue 44): does fusing
attention, SkipLayerNormalization and GELU into single kernels make the batch-independent
default faster on this CPU, and does it keep the cosine goal?

The smoothed fp32 graph the export quantises is fused by ``onnxruntime.transformers.optimizer``
(model type "bert"), then quantised as the export does (per-channel s8 weights, dynamic u8
activations), MatMul only and, in a second graph, MatMul and the fused Attention (QAttention).
Each runs one text per call on single-threaded sessions, one per core, as the default backend
does, beside the default graph and sentence-transformers in the same run.

    python benchmarks/int8_fused.py [--limit 500] [--long-limit 100] [--repeats 2]
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

from int8_variants import arguments, compare
from results_md import PERFORMANCE, cpu_line, isa_section, publish

from bertclf import Embedder


def graphs(folder: Path) -> tuple[dict[str, Path], str]:
    """The default int8 graph and the fused ones, and what the optimiser fused."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    from bertclf.encode import onnx_export
    from bertclf.encode.smoothing import smooth
    from bertclf.encode.sources import load_config

    source = Embedder().settings().source
    fp32 = onnx_export.onnx_model(source, "fp32")
    config = load_config(source)
    out = {"default": folder / "default.onnx"}
    onnx_export.quantize(fp32, out["default"], source)
    smoothed = smooth(fp32, folder / "smoothed.onnx", onnx_export._calibration_batches(source),
                      known=onnx_export._calibrated_peaks(source, fp32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = optimize_model(str(smoothed), model_type="bert", num_heads=int(config.num_attention_heads),
                               hidden_size=int(config.hidden_size), opt_level=1)
        counts = fused.get_fused_operator_statistics()
        fused.save_model_to_file(str(folder / "fused.onnx"))
        kinds = {"fused, MatMul": ["MatMul"], "fused, MatMul + Attention": ["MatMul", "Attention"]}
        for name, ops in kinds.items():
            out[name] = folder / f"{name.replace(', ', '-').replace(' + ', '-')}.onnx"
            quantize_dynamic(str(folder / "fused.onnx"), str(out[name]), per_channel=True,
                             op_types_to_quantize=ops, weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})  # contrib ops' outputs
    found = ", ".join(f"{op} {n}" for op, n in counts.items() if n)
    return out, found or "nothing"


def main() -> None:
    args = arguments(__doc__)
    began = time.perf_counter()
    built, found = graphs(Path(tempfile.mkdtemp(prefix="bertclf-int8-fused-")))
    print(f"fused: {found}", flush=True)
    variants = {f"{label}, {'exact u8u8' if exact else 'u8s8'}": (graph, exact)
                for label, graph in built.items() for exact in (True, False)}
    lines = compare(variants, args.limit, args.long_limit, args.repeats)
    body = (f"Texts/s on {cpu_line()}, best of {args.repeats} passes, every core, one text per call; "
            f"{args.limit} short texts (sms_spam) and {args.long_limit} 256-token texts (bbc_news, test "
            f"split). The optimiser fused: {found}. Cosine to the fp32 ONNX graph's vectors.\n\n"
            + "\n".join(lines))
    publish(isa_section("int8-fused")[0], body, "python benchmarks/int8_fused.py", write=not args.no_write,
            seconds=time.perf_counter() - began, doc=PERFORMANCE)


if __name__ == "__main__":
    main()
