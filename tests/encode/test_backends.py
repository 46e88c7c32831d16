"""Encoder backends: ONNX Runtime fp32 and int8, torch bf16, the export cache and its faults."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from bertclf import Embedder
from bertclf.encode import backends, onnx_export
from bertclf.encode.sources import resolve
from bertclf.errors import BertclfError, BertclfWarning, ExportError, SpecError

TEXTS = ["hello world", "the cat sat on the mat and the dog sat on the rug", "good",
         "bank rate money loan water flood city news sport game team play win lost"]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("layers", ["-1", "0", "-2..-1", "all"])
def test_onnx_fp32_gives_torch_vectors_for_every_layer_choice(tiny_model, layers):
    torch_vectors = Embedder(model=tiny_model, layers=layers, backend="torch").transform(TEXTS)
    onnx_vectors = Embedder(model=tiny_model, layers=layers, backend="onnx").transform(TEXTS)
    np.testing.assert_allclose(onnx_vectors, torch_vectors, atol=1e-5)


def test_onnx_reads_sentence_pairs_with_their_segment_ids(tiny_model):
    pairs = [("the bank rate", "money and loan"), ("hello", "world")]
    torch_vectors = Embedder(model=tiny_model, backend="torch").transform(pairs)
    onnx_vectors = Embedder(model=tiny_model, backend="onnx").transform(pairs)
    np.testing.assert_allclose(onnx_vectors, torch_vectors, atol=1e-5)
    flipped = Embedder(model=tiny_model, backend="onnx").transform([(b, a) for a, b in pairs])
    assert not np.allclose(flipped, onnx_vectors, atol=1e-3)  # segment ids reach the graph


def test_int8_and_bf16_stay_close_to_fp32(tiny_model):
    reference = Embedder(model=tiny_model, backend="torch").transform(TEXTS)
    int8 = Embedder(model=tiny_model, backend="onnx-int8").transform(TEXTS)
    bf16 = Embedder(model=tiny_model, backend="torch", dtype="bf16").transform(TEXTS)
    assert not np.allclose(int8, reference, atol=1e-6) and not np.allclose(bf16, reference, atol=1e-6)
    assert cosine(int8, reference).min() > 0.98
    assert cosine(bf16, reference).min() > 0.99


def test_auto_is_onnx_int8_on_a_cpu_and_bad_combinations_fail_early(tiny_model):
    assert backends.resolve_backend("auto", "cpu") == backends.AUTO_CPU == "onnx-int8"
    assert backends.resolve_backend("auto", "cpu", "bf16") == "torch"
    with pytest.raises(SpecError, match="--dtype bf16 is for the torch backend"):
        Embedder(model=tiny_model, backend="onnx", dtype="bf16").fit()
    with pytest.raises(SpecError, match="unknown backend 'tensorrt'"):
        Embedder(model=tiny_model, backend="tensorrt").fit()
    with pytest.raises(SpecError, match="unknown dtype 'fp8'"):
        Embedder(model=tiny_model, dtype="fp8").fit()
    with pytest.raises(BertclfError):
        backends.resolve_backend("onnx", "cuda")


def test_the_export_is_made_once_and_reused(tiny_model, monkeypatch):
    source = resolve(tiny_model)
    path = onnx_export.onnx_model(source, "fp32")
    stamp = path.stat().st_mtime_ns
    monkeypatch.setattr(onnx_export, "export", lambda *a: pytest.fail("exported a second time"))
    assert onnx_export.onnx_model(source, "fp32") == path and path.stat().st_mtime_ns == stamp
    assert path.parent.name == onnx_export.export_key(source, "fp32")
    assert "onnx" in path.parts and str(path).startswith(str(resolve(tiny_model).location)) is False


def test_a_truncated_export_is_detected_and_rebuilt(tiny_model):
    source = resolve(tiny_model)
    path = onnx_export.onnx_model(source, "fp32")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.warns(BertclfWarning, match="incomplete or changed; rebuilding"):
        again = onnx_export.onnx_model(source, "fp32")
    assert again.read_bytes() == whole or len(again.read_bytes()) == len(whole)
    backends.clear_cache()
    vectors = Embedder(model=tiny_model, backend="onnx").transform(TEXTS[:2])
    np.testing.assert_allclose(vectors, Embedder(model=tiny_model, backend="torch").transform(TEXTS[:2]),
                               atol=1e-5)


def test_a_model_that_cannot_be_exported_falls_back_to_torch_with_one_warning(tiny_model, tmp_path,
                                                                              monkeypatch):
    config = json.loads((Path(tiny_model) / "config.json").read_text())
    shutil.copytree(tiny_model, tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "note": "never exported"}))
    model = str(tmp_path / "m")

    def refuse(source, target):
        raise ExportError(f"cannot export {source.spec} to ONNX: unsupported operator")

    monkeypatch.setattr(onnx_export, "export", refuse)
    backends.clear_cache()
    with pytest.warns(BertclfWarning, match="unsupported operator; using the torch backend instead"):
        vectors = Embedder(model=model, backend="onnx", max_length=64).transform(TEXTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback is remembered: no second warning
        again = Embedder(model=model, backend="onnx", max_length=64).transform(TEXTS)
    np.testing.assert_allclose(again, vectors)
    direct = Embedder(model=model, backend="torch", max_length=64).transform(TEXTS)
    np.testing.assert_allclose(vectors, direct, atol=1e-6)
    backends.clear_cache()


def test_an_unwritable_cache_folder_exports_to_a_temporary_folder(tiny_model, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"  # a file where the folder should be: cannot be written, even by root
    blocker.write_text("")
    monkeypatch.setenv("BERTCLF_CACHE", str(blocker / "cache"))
    with pytest.warns(BertclfWarning, match="cannot be written"):
        path = onnx_export.onnx_model(resolve(tiny_model), "fp32")
    assert not str(path).startswith(str(tmp_path)) and path.is_file()


def test_on_a_gpu_auto_picks_torch_and_onnx_is_refused(monkeypatch):
    monkeypatch.setattr(backends, "resolve_device", lambda device: "cuda")
    assert backends.resolve_backend("auto", "cuda") == "torch"
    assert backends.resolve_backend("auto", "cuda", "bf16") == "torch"
    with pytest.raises(SpecError, match="backend onnx-int8 runs on the CPU: use --backend torch on cuda"):
        backends.resolve_backend("onnx-int8", "cuda")


def test_a_graph_onnx_runtime_cannot_load_is_rebuilt_once_then_torch_takes_over(tiny_model, monkeypatch):
    tries = []

    def refuse(path, threads):
        tries.append(path)
        raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH : Load model failed\nmore lines")

    monkeypatch.setattr(backends.rowwise, "make_session", refuse)  # where every session is made
    backends.clear_cache()
    with pytest.warns(BertclfWarning, match="cannot run the export of .*INVALID_GRAPH.*torch backend"):
        vectors = Embedder(model=tiny_model, backend="onnx").transform(TEXTS[:2])
    assert len(tries) == 2  # the export was rebuilt and tried again before giving up
    np.testing.assert_allclose(vectors, Embedder(model=tiny_model, backend="torch").transform(TEXTS[:2]),
                               atol=1e-6)
    backends.clear_cache()


def test_int8_gives_a_text_the_same_vector_whatever_its_batch(tiny_model):
    from bertclf.encode.onnx_export import ship
    from bertclf.encode.shipped import ShippedEncoder

    texts = ["the cat sat on the mat", "a", "the bank raised the loan rate " * 5, "good", "flood water"]
    embedder = Embedder(model=tiny_model, backend="onnx-int8", progress=False)
    together = embedder.transform(texts)
    alone = np.vstack([embedder.transform([text]) for text in texts])
    mixed = embedder.set_params(batch_size=2).transform(texts[::-1] + ["other " * 20])[:5][::-1]
    assert np.abs(together - alone).max() <= 1e-6 and np.abs(together - mixed).max() <= 1e-6
    shipped = ShippedEncoder.from_files(*ship(embedder.settings(), "onnx-int8").to_files())
    assert shipped.rowwise
    from bertclf.encode.pipeline import embed_rows

    vectors, _ = embed_rows(shipped.settings(), shipped.tokenizer, shipped, texts, None, 3, lambda n: None)
    assert np.abs(vectors - together).max() <= 1e-6


def test_the_cache_keeps_per_text_int8_apart_from_older_vectors(tiny_model):
    assert Embedder(model=tiny_model).cache_setting()["int8_runs"] == (
        "one text per call, exact products, unfused layer norms")
    assert "int8_runs" not in Embedder(model=tiny_model, backend="onnx").cache_setting()


def test_smoothing_keeps_the_fp32_function_and_the_int8_graph_carries_it(tiny_model, tmp_path):
    import onnx
    import onnxruntime as ort

    from bertclf.encode.smoothing import calibration_texts, smooth
    from bertclf.encode.sources import load_tokenizer
    from bertclf.encode.tokenization import encode, pad_batch

    source = resolve(tiny_model)
    fp32 = onnx_export.onnx_model(source, "fp32")
    tokenizer = load_tokenizer(source)
    encoded = encode(tokenizer, calibration_texts()[:40], 32)
    batch = pad_batch(encoded, np.arange(8), tokenizer.pad_token_id)
    calibration = [pad_batch(encoded, np.arange(i, i + 8), 0) for i in (0, 8, 16)]
    smoothed = smooth(fp32, tmp_path / "s.onnx", calibration)
    muls = [n for n in onnx.load(str(smoothed)).graph.node if n.output[0].endswith("_smoothed")]
    assert len(muls) == 2 * 3  # the LayerNorm before Q/K/V and the one before the FFN, per layer
    run = {path: ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
           for path in (fp32, smoothed)}
    feed = {i.name: batch[i.name] for i in run[fp32].get_inputs()}
    np.testing.assert_allclose(run[smoothed].run(["hidden_3"], feed)[0], run[fp32].run(["hidden_3"], feed)[0],
                               atol=1e-4)
    int8 = onnx.load(str(onnx_export.onnx_model(source, "int8")))
    assert sum(n.output[0].endswith("_smoothed") for n in int8.graph.node) == 6
    assert len(calibration_texts()) > 387  # the tickets, and runs of them joined into long texts


def test_peaks_are_measured_once_per_graph_and_a_tuned_copy_borrows_its_base_models(tiny_model, tmp_path,
                                                                                    monkeypatch):
    import onnx

    from bertclf.encode import smoothing

    tuned = tmp_path / "tuned"
    shutil.copytree(tiny_model, tuned)
    (tuned / onnx_export.TEMPORARY).touch()
    marker = tuned / onnx_export.TUNED_FROM
    base_fp32 = onnx_export.onnx_model(resolve(tiny_model), "fp32")
    borrowed = onnx_export._calibrated_peaks(resolve(tiny_model), base_fp32)
    assert (base_fp32.parent / "peaks.npz").is_file() and len(borrowed) == 2 * 3  # 2 LayerNorms a layer
    marker.write_text("", encoding="utf-8")  # no base named: its own graph's peaks
    own_fp32 = onnx_export.onnx_model(resolve(str(tuned)), "fp32")
    onnx_export._calibrated_peaks(resolve(str(tuned)), own_fp32)
    assert (own_fp32.parent / "peaks.npz").is_file() and own_fp32.is_relative_to(tuned)

    def measured(*args, **kwargs):
        raise AssertionError("peaks measured again")

    monkeypatch.setattr(smoothing, "peaks", measured)  # from here on, kept peaks are read, not measured
    (own_fp32.parent / "peaks.npz").unlink()
    marker.write_text(f'{{"tuned_from": "{tiny_model}"}}', encoding="utf-8")
    again = onnx_export._calibrated_peaks(resolve(str(tuned)), own_fp32)  # the base's, kept
    assert all(np.array_equal(again[name], borrowed[name]) for name in borrowed)
    int8 = onnx_export.onnx_model(resolve(str(tuned)), "int8")  # smoothed with the base's peaks
    assert int8.is_relative_to(tuned)
    assert sum(n.output[0].endswith("_smoothed") for n in onnx.load(str(int8)).graph.node) == 6
    with pytest.raises(AssertionError, match="measured again"):  # peaks naming other activations
        smoothing.smooth(base_fp32, tmp_path / "s.onnx", [], known={"elsewhere": np.ones(3)})


def _saturating_graph(folder: Path) -> Path:
    """One MatMulInteger whose pairs of u8 x s8 products overflow 16 bits (255 * 127 * 2 > 32767)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.full((64, 8), 127, dtype=np.int8), "w")
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "w"], ["y"])], "qgemm",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [None, 8])], [weights])
    path = folder / "qgemm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("exact", [True, None], ids=["exact products", "as this cpu chooses"])
def test_int8_sessions_multiply_exactly_on_this_cpu(tmp_path, exact):
    """ONNX Runtime's default u8 x s8 kernel on x86 CPUs without VNNI saturates pairs of
    products: there bertclf asks for exact products, and on a VNNI CPU (where it does not) the
    default kernel must be exact already."""
    from bertclf.encode.rowwise import make_session

    session = make_session(_saturating_graph(tmp_path), 1, exact=exact)
    (y,) = session.run(None, {"a": np.full((4, 64), 255, dtype=np.uint8)})
    assert (y == 255 * 127 * 64).all(), y[0, :3]


@pytest.mark.parametrize(("flags", "asked"), [({"avx2", "fma"}, True), ({"avx2", "avx512f"}, True),
                                               ({"avx2", "avx512f", "avx512_vnni"}, False), (set(), True)])
def test_exact_products_are_asked_for_only_where_the_cpu_lacks_avx512_vnni(monkeypatch, tmp_path, flags,
                                                                           asked):
    """Exact u8 x u8 products cost speed on a VNNI CPU (343 against 486 short texts/s measured),
    where the default kernel is exact already; elsewhere they keep the cosine goal."""
    from bertclf.encode import rowwise

    monkeypatch.setattr(rowwise, "cpu_flags", lambda: frozenset(flags))
    options = rowwise.make_session(_saturating_graph(tmp_path), 1).get_session_options()
    try:
        value = options.get_session_config_entry("session.x64quantprecision")
    except Exception:  # noqa: BLE001 - ONNX Runtime raises where the entry was never set
        value = None
    assert (value == "1") is asked


def test_a_model_answers_the_same_with_either_session_setting(tiny_model, monkeypatch):
    """A model exported on one CPU and opened on another runs the same graph with the other CPU's
    session setting: both multiply exactly, so the vectors agree (on a VNNI CPU this compares
    the two kernels; elsewhere both sessions take the exact path)."""
    from bertclf.encode import rowwise

    chosen = rowwise.needs_exact_products()
    vectors = []
    for exact in (True, chosen):
        monkeypatch.setattr(rowwise, "needs_exact_products", lambda exact=exact: exact)
        backends.clear_cache()
        vectors.append(Embedder(model=tiny_model, backend="onnx-int8", progress=False).transform(TEXTS))
    backends.clear_cache()
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-5)


def test_sessions_leave_out_the_fusions_that_measured_slower(tiny_model, tmp_path):
    """ONNX Runtime fuses residual Adds and LayerNorms into SkipLayerNormalization unless told
    not to; the names in ``UNFUSED`` must still be ones it knows, or the speed-up goes silently."""
    import onnx
    import onnxruntime as ort

    from bertclf.encode import rowwise

    graph = onnx_export.onnx_model(resolve(tiny_model), "int8")

    def fused_ops(disabled: list[str]) -> set[str]:
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / f"optimized-{len(disabled)}.onnx")
        ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"],
                             disabled_optimizers=disabled)
        return {node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node}

    assert "SkipLayerNormalization" in fused_ops([])
    assert "SkipLayerNormalization" not in fused_ops(list(rowwise.UNFUSED))


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_bf16_instructions_warns(tiny_model, monkeypatch, native):
    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: native)
    backends.clear_cache()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Embedder(model=tiny_model, backend="torch", dtype="bf16").transform(TEXTS[:1])
    said = [str(w.message) for w in caught if "no bf16 instructions" in str(w.message)]
    assert bool(said) is not native
    backends.clear_cache()


def test_rows_shared_out_to_workers_come_back_in_order_once_each() -> None:
    import threading

    from bertclf.encode.rowwise import _each_row

    seen: list[int] = []
    names: set[str] = set()

    def one(row: int) -> int:
        seen.append(row)
        names.add(threading.current_thread().name)
        return row * row

    assert _each_row(one, 200, 2) == [r * r for r in range(200)]
    assert sorted(seen) == list(range(200))  # every row once, none twice
    assert all(n.startswith("bertclf-int8") for n in names)
    assert _each_row(one, 1, 4) == [0] and _each_row(one, 0, 2) == []

    def bad(row: int) -> int:
        if row == 7:
            raise ValueError("row 7")
        return row

    with pytest.raises(ValueError, match="row 7"):
        _each_row(bad, 20, 2)
