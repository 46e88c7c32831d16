"""FineTuner on the tiny random BERT: learning, saving, loading, determinism, checkpoints, resume."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from bertclf import FineTuner, TextClassifier, runtime
from bertclf.errors import BertclfError, SpecError
from bertclf.finetune.checkpoint import ResumeError, checkpoint_folder, read_state, read_tensors
from bertclf.finetune.loop import Interrupted, epoch_batches, lr_factor

TOPICS = {
    "money": "bank rate money loan",
    "water": "river water flood city",
    "sport": "game team play win lost sport",
}


def toy(n_per_class: int = 10, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, words in TOPICS.items():
        vocab = words.split()
        for _ in range(n_per_class):
            texts.append(" ".join(rng.choice(vocab, size=rng.integers(3, 7))))
            labels.append(label)
    return texts, labels


def tuner(model: str, **kwargs) -> FineTuner:
    settings = {"epochs": 3, "lr": 2e-3, "batch_size": 4, "val_fraction": 0.2, "progress": False,
                "verbose": False, "device": "cpu", **kwargs}
    return FineTuner(model=model, **settings)


def weights(model: FineTuner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.trainer_.network.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_lowers_the_loss_and_learns_the_toy_task(tiny_model):
    texts, labels = toy()
    model = tuner(tiny_model, epochs=6, early_stopping=0).fit(texts, labels)
    losses = [h["train_loss"] for h in model.history_]
    assert losses[-1] < 0.7 * losses[0]
    assert model.score(texts, labels) > 0.8
    assert model.training_["optimizer_steps"] == 6 * int(np.ceil(24 / 4))


def test_saved_model_loads_like_any_model_and_predicts_the_same(tiny_model, tmp_path):
    from transformers import AutoModel

    texts, labels = toy()
    model = tuner(tiny_model).fit(texts, labels)
    model.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m", progress=False, backend="torch")
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-5)
    assert list(loaded.classes_) == ["money", "sport", "water"]
    encoder = AutoModel.from_pretrained(tmp_path / "m" / "encoder")
    assert torch.equal(encoder.state_dict()["embeddings.word_embeddings.weight"],
                       model.trainer_.network.encoder.state_dict()["embeddings.word_embeddings.weight"])
    names = {p.name for p in (tmp_path / "m").rglob("*")}
    assert "model.safetensors" in names and not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["approach"] == "finetune" and config["head"]["name"] == "linear"


def test_same_seed_same_weights_other_seed_other_weights(tiny_model):
    texts, labels = toy()
    a, b = tuner(tiny_model).fit(texts, labels), tuner(tiny_model).fit(texts, labels)
    c = tuner(tiny_model, seed=14).fit(texts, labels)
    assert same_weights(weights(a), weights(b))
    assert not same_weights(weights(a), weights(c))


def test_best_epoch_is_kept_and_early_stopping_stops(tiny_model):
    texts, labels = toy()
    model = tuner(tiny_model, epochs=8, lr=0.05, early_stopping=1).fit(texts, labels)
    history = model.history_
    best = max(history, key=lambda h: (h["val_accuracy"], -h["val_loss"]))
    assert model.training_["best_epoch"] == best["epoch"]
    if model.training_["stopped_early"]:
        assert len(history) < 8 and history[-1]["val_accuracy"] <= best["val_accuracy"]


def test_saving_again_to_the_same_folder_is_never_served_stale(tiny_model, tmp_path):
    texts, labels = toy()
    first = tuner(tiny_model, seed=1).fit(texts, labels)
    first.save(tmp_path / "m")
    p1 = TextClassifier.load(tmp_path / "m", progress=False, backend="torch").predict_proba(texts)
    second = tuner(tiny_model, seed=2, lr=0.01).fit(texts, labels)
    second.save(tmp_path / "m")
    p2 = TextClassifier.load(tmp_path / "m", progress=False, backend="torch").predict_proba(texts)
    np.testing.assert_allclose(p2, second.predict_proba(texts), atol=1e-5)
    assert not np.allclose(p1, p2)


def interrupt_at_step(monkeypatch, step: int) -> None:
    """Press Ctrl-C (a real SIGINT) during the given optimizer step."""
    real = torch.nn.utils.clip_grad_norm_
    calls = {"n": 0}

    def clip(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)


def test_ctrl_c_checkpoints_and_resume_continues_exactly(tiny_model, tmp_path, monkeypatch):
    texts, labels = toy()
    straight = tuner(tiny_model, early_stopping=0).fit(texts, labels)
    out = tmp_path / "run"
    interrupt_at_step(monkeypatch, 8)  # mid-way through epoch 2 (6 steps per epoch)
    with pytest.raises(Interrupted) as caught:
        tuner(tiny_model, early_stopping=0, output_dir=str(out)).fit(texts, labels)
    assert caught.value.checkpoint == str(checkpoint_folder(out))
    state = read_state(out)
    assert state["run"]["step"] == 8 and state["run"]["epoch"] == 1 and state["run"]["batch"] == 2
    monkeypatch.undo()
    resumed = tuner(tiny_model, early_stopping=0, output_dir=str(out)).fit(texts, labels, resume=True)
    assert resumed.training_["optimizer_steps"] == straight.training_["optimizer_steps"] == 18
    assert resumed.history_[-1]["val_accuracy"] == straight.history_[-1]["val_accuracy"]
    assert same_weights(weights(resumed), weights(straight))


def test_resume_refuses_other_settings_data_model_and_non_checkpoints(tiny_model, tiny_st_model, tmp_path):
    texts, labels = toy()
    out = tmp_path / "run"
    tuner(tiny_model, epochs=1, output_dir=str(out)).fit(texts, labels)  # leaves an epoch checkpoint
    with pytest.raises(ResumeError, match="settings differ.*lr"):
        tuner(tiny_model, epochs=1, lr=0.1, output_dir=str(out)).fit(texts, labels, resume=True)
    with pytest.raises(ResumeError, match="training data differ"):
        tuner(tiny_model, epochs=1, output_dir=str(out)).fit(texts[:-1], labels[:-1], resume=True)
    with pytest.raises(ResumeError, match="another model"):
        tuner(tiny_st_model, epochs=1, output_dir=str(out)).fit(texts, labels, resume=True)
    with pytest.raises(ResumeError, match="holds no fine-tuning checkpoint"):
        tuner(tiny_model, output_dir=str(tmp_path)).fit(texts, labels, resume=True)
    finished = tuner(tiny_model, epochs=1).fit(texts, labels)
    finished.save(tmp_path / "done")
    with pytest.raises(ResumeError, match="finished model"):
        tuner(tiny_model, output_dir=str(tmp_path / "done")).fit(texts, labels, resume=True)


def test_an_interrupted_checkpoint_write_leaves_the_previous_one(tiny_model, tmp_path, monkeypatch):
    import bertclf.io.modelio as modelio

    texts, labels = toy()
    out = tmp_path / "run"
    tuner(tiny_model, epochs=1, output_dir=str(out)).fit(texts, labels)
    before = {p.name: p.read_bytes() for p in checkpoint_folder(out).iterdir()}
    real = modelio.os.fsync
    calls = {"n": 0}

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] == 2:  # the second file of the new checkpoint
            raise KeyboardInterrupt
        return real(fd)

    monkeypatch.setattr(modelio.os, "fsync", failing_fsync)
    with pytest.raises(KeyboardInterrupt):
        tuner(tiny_model, epochs=2, output_dir=str(out)).fit(texts, labels)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in checkpoint_folder(out).iterdir()} == before
    assert read_tensors(out, read_state(out))["weights"]  # checksums still verify
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_bad_settings_fail_before_any_work(tiny_model):
    texts, labels = toy()
    for bad in ({"epochs": 0}, {"lr": 0}, {"val_fraction": 1.0}, {"grad_accum": 0},
                {"precision": "fp8"}, {"max_length": 10_000}, {"pooling": "median"}):
        with pytest.raises(SpecError):
            tuner(tiny_model, **bad).fit(texts, labels)
    with pytest.raises(BertclfError, match="one class"):
        tuner(tiny_model).fit(texts[:5], labels[:5])


def test_gpu_out_of_memory_becomes_one_clear_error(tiny_model, monkeypatch):
    from bertclf.finetune import loop as training

    def boom(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(training.Trainer, "run", boom)
    texts, labels = toy()
    with pytest.raises(BertclfError, match=r"ran out of memory.*--batch-size 2 --grad-accum 2"):
        tuner(tiny_model).fit(texts, labels)


def test_grad_accumulation_steps_once_per_group(tiny_model):
    texts, labels = toy()
    model = tuner(tiny_model, epochs=1, grad_accum=4, val_fraction=0).fit(texts, labels)
    assert model.training_["optimizer_steps"] == int(np.ceil(np.ceil(30 / 4) / 4))


def test_schedule_and_batches():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == 0.0
    lengths = np.array([5, 30, 7, 30, 6, 29, 8, 31])
    batches = epoch_batches(lengths, 2, seed=1, epoch=0)
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    assert all(abs(int(lengths[b].max()) - int(lengths[b].min())) <= 3 for b in batches)
    again = epoch_batches(lengths, 2, seed=1, epoch=0)
    assert all(np.array_equal(x, y) for x, y in zip(batches, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in
                   zip(batches, epoch_batches(lengths, 2, seed=1, epoch=1), strict=True))


def test_a_time_limited_schedule_decays_to_zero_at_the_limit():
    from bertclf.finetune.schedule import budget_factor

    # the steps lead: the same as the step schedule
    assert budget_factor(55, 0.1, 100, time_share=0.2) == pytest.approx(lr_factor(55, 10, 100), abs=0.02)
    # the time leads: warm-up and decay follow it, and the rate is near zero at the limit
    assert budget_factor(3, 0.1, 10_000, time_share=0.05) == pytest.approx(0.5)
    assert budget_factor(3, 0.1, 10_000, time_share=0.55) == pytest.approx(0.5)
    assert budget_factor(3, 0.1, 10_000, time_share=0.999) < 0.01
    assert budget_factor(3, 0.1, 10_000, time_share=1.5) == 0.0
    assert budget_factor(2, 4, 100, time_share=0.5) == pytest.approx(0.5)  # warm-up in steps


def test_a_time_limit_ends_the_run_near_a_zero_rate(tiny_model, monkeypatch):
    import bertclf.finetune.loop as loop

    rates = []
    monkeypatch.setattr(loop.Trainer, "_step", lambda self, factor: rates.append(factor))
    texts, labels = toy(40)
    tuner(tiny_model, epochs=200, val_fraction=0, time_limit=3.0).fit(texts, labels)
    assert len(rates) > 10 and max(rates) > 0.5 and rates[-1] < 0.1  # planned: 200 epochs
    rates.clear()
    old_way = tuner(tiny_model, epochs=2000, warmup=0, val_fraction=0, time_limit=3.0, schedule="steps")
    old_way.fit(texts, labels)
    assert rates[-1] > 0.9  # the old way: cut off near full speed (60,000 steps were planned)


def test_frozen_lower_layers_do_not_move(tiny_model):
    from bertclf.finetune.schedule import freeze_lower

    texts, labels = toy()
    model = tuner(tiny_model, epochs=1, val_fraction=0, freeze_layers=1).fit(texts, labels)
    fresh = FineTuner(tiny_model).check_params()[0]
    from bertclf.encode.sources import load_torch_encoder

    before = load_torch_encoder(fresh).state_dict()
    after = model.trainer_.network.encoder.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    trained = ("encoder.layer.1.", "encoder.layer.2.")  # the embeddings and layer 0 were frozen
    assert moved and all(k.startswith(trained) for k in moved)
    with pytest.raises(SpecError, match="freeze_layers=9, but the encoder has 3 layers"):
        freeze_lower(load_torch_encoder(fresh), 9)
    with pytest.raises(SpecError, match="freeze_layers must be an integer"):
        tuner(tiny_model, freeze_layers=-1).fit(texts, labels)
    with pytest.raises(SpecError, match="unknown schedule 'cosine'"):
        tuner(tiny_model, schedule="cosine").fit(texts, labels)


def test_loaded_fine_tuned_model_refuses_a_tampered_or_padded_encoder(tiny_model, tmp_path):
    from bertclf.errors import ModelLoadError

    texts, labels = toy()
    tuner(tiny_model, epochs=1).fit(texts, labels).save(tmp_path / "m")
    weights_file = Path(tmp_path / "m" / "encoder" / "model.safetensors")
    data = bytearray(weights_file.read_bytes())
    data[-1] ^= 1
    weights_file.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="checksum"):
        TextClassifier.load(tmp_path / "m")
    data[-1] ^= 1
    weights_file.write_bytes(bytes(data))
    TextClassifier.load(tmp_path / "m")  # restored: loads again
    (tmp_path / "m" / "encoder" / "pytorch_model.bin").write_bytes(b"a pickle")
    with pytest.raises(ModelLoadError, match=r"does not list \(pytorch_model.bin\)"):
        TextClassifier.load(tmp_path / "m")


def test_bf16_autocast_trains_on_a_cpu_and_fp16_needs_a_gpu(tiny_model):
    texts, labels = toy()
    model = tuner(tiny_model, precision="bf16", epochs=4, early_stopping=0).fit(texts, labels)
    assert model.trainer_.dtype == torch.bfloat16
    assert model.history_[-1]["train_loss"] < model.history_[0]["train_loss"]
    assert model.predict_proba(texts).dtype == np.float64
    with pytest.raises(SpecError, match="fp16 training needs a GPU"):
        tuner(tiny_model, precision="fp16").fit(texts, labels)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_on_a_cpu_with_bf16_instructions(tiny_model, monkeypatch, native):
    """On a CPU, "auto" trains under bf16 autocast only where the CPU computes bf16 itself;
    elsewhere torch would emulate it, several times slower than fp32."""
    from bertclf.encode import backends
    from bertclf.search.finetune_trial import training_dtype

    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: native)
    texts, labels = toy()
    model = tuner(tiny_model, epochs=1).fit(texts, labels)
    assert model.trainer_.dtype == (torch.bfloat16 if native else None)
    assert model.training_["precision"] == ("bf16" if native else "fp32")
    assert training_dtype(model) == ("bf16" if native else "fp32")  # --auto times its pass so
    fp32 = tuner(tiny_model, epochs=1, precision="fp32")
    assert training_dtype(fp32) == "fp32"
    assert fp32.fit(texts, labels).trainer_.dtype is None and fp32.training_["precision"] == "fp32"


def test_finetuner_is_a_scikit_learn_estimator(tiny_model):
    from sklearn.base import clone

    model = tuner(tiny_model, epochs=2, lr=1e-3)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    copy.set_params(epochs=1)
    texts, labels = toy()
    assert copy.fit(texts, labels).training_["epochs_run"] == 1
    assert not hasattr(model, "trainer_")  # cloning never copies fitted state


def test_half_precision_checkpoints_are_upcast_for_training(tiny_model, tmp_path):
    """An fp16 checkpoint (common on the Hub) must not train in fp16: that goes to NaN."""
    from transformers import AutoModel

    half = tmp_path / "half"
    AutoModel.from_pretrained(tiny_model).half().save_pretrained(half)
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if (Path(tiny_model) / name).exists():
            shutil.copy(Path(tiny_model) / name, half / name)
    texts, labels = toy(6)
    tuner = FineTuner(str(half), epochs=1, lr=1e-3, batch_size=4, device="cpu", val_fraction=0,
                      progress=False, verbose=False)
    tuner.fit(texts, labels)
    assert next(tuner.trainer_.network.parameters()).dtype == torch.float32
    assert np.isfinite(tuner.history_[0]["train_loss"])


def test_a_fine_tuned_model_is_explained_by_both_methods(tiny_model, tmp_path, run):
    texts, labels = toy()
    tuner(tiny_model, epochs=6, early_stopping=0).fit(texts, labels).save(tmp_path / "m")
    result = run("export", tmp_path / "m", "--out", tmp_path / "rt")
    assert result.exit_code == 0, result.output
    model = runtime.Model(tmp_path / "rt", progress=False)
    text = texts[0]
    for method in ("occlusion", "tokens"):
        (found,) = model.explain([text], k=3, method=method)[0]
        assert found.method == method and found.label == model.predict([text])[0]
        words = found.toward + found.against
        assert words and all(text[w["start"]:w["end"]] == w["word"] for w in words)
