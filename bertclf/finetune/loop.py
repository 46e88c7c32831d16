"""The fine-tuning loop: an encoder plus a softmax layer, trained end to end.

AdamW with decoupled weight decay (none on biases and LayerNorm), a linear warm-up then linear
decay, gradient clipping, gradient accumulation, bf16 (or fp16 with loss scaling) autocast on a
GPU, and a validation pass after every epoch that keeps the best weights. Everything a resumed run
needs (weights, optimizer moments, random state, position in the epoch) is in ``snapshot``, and the
batches of an epoch depend only on (seed, epoch), so a resumed run continues exactly where the
interrupted one stopped.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from bertclf.encode.pooling import pool_tensor
from bertclf.encode.tokenization import Encoded, length_batches, pad_batch
from bertclf.errors import BertclfError
from bertclf.finetune.schedule import adamw, autocast_dtype, budget_factor, epoch_batches, lr_factor
from bertclf.progress import progress_bar


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; ``checkpoint`` says where the run was saved, if it was."""

    def __init__(self, message: str, checkpoint: str | None = None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


class Network(torch.nn.Module):
    """Encoder, pooling over the last layer, dropout, one linear layer: logits per class."""

    def __init__(self, encoder: torch.nn.Module, pooling: str, n_classes: int, dropout: float,
                 multilabel: bool = False) -> None:
        super().__init__()
        self.multilabel = multilabel  # a sigmoid per label (BCE) instead of one softmax
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(int(encoder.config.hidden_size), n_classes)
        std = float(getattr(encoder.config, "initializer_range", 0.02))
        torch.nn.init.normal_(self.classifier.weight, std=std)  # as BERT initialises its heads
        torch.nn.init.zeros_(self.classifier.bias)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encoder(**batch, return_dict=True).last_hidden_state
        return self.classifier(self.dropout(pool_tensor(hidden, batch["attention_mask"], self.pooling)))


@dataclass
class TrainConfig:
    epochs: int
    lr: float
    batch_size: int
    warmup: float
    weight_decay: float
    early_stopping: int
    grad_accum: int
    max_grad_norm: float
    seed: int
    schedule: str = "steps"  # "time": with a deadline, the decay ends at whichever comes first


@dataclass
class TrainData:
    """Tokenized texts, a class index per text (or an (n, L) 0/1 matrix for multi-label), and
    which rows train and which validate."""

    encoded: Encoded
    labels: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    pad_id: int


@dataclass
class RunState:
    """Where a run is: JSON-able, saved in every checkpoint."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # micro-batches done in the current epoch (always at an optimizer step)
    step: int = 0  # optimizer steps done
    loss_sum: float = 0.0  # this epoch's training loss so far
    loss_count: int = 0
    best: dict[str, Any] | None = None  # the best validation epoch so far
    stale: int = 0  # epochs since the best one
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # why it stopped before its last epoch


class Trainer:
    """Runs the epochs of one fine-tuning job on ``network``."""

    def __init__(self, network: Network, cfg: TrainConfig, device: str, precision: str = "auto") -> None:
        self.network = network.to(device)
        self.cfg = cfg
        self.device = device
        self.dtype = autocast_dtype(device, precision)
        self.optimizer = adamw(network, cfg.lr, cfg.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)
        self.state = RunState()
        self.best_weights: dict[str, torch.Tensor] | None = None

    def autocast(self) -> Any:
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.split(":")[0], dtype=self.dtype)

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, data: TrainData, checkpoint: Callable[[], str] | None = None,
            checkpoint_seconds: float = 600.0, progress: bool | None = None,
            log: Callable[[str], None] | None = None, deadline: float | None = None,
            judge: Callable[[list[dict[str, Any]]], str | None] | None = None) -> RunState:
        """Train; ``deadline`` (``time.monotonic()``) ends the run after the step that passes it,
        the partial epoch validated like a whole one; ``judge`` sees the history after each
        epoch and may end the run by giving a reason."""
        cfg, state = self.cfg, self.state
        self.judge = judge
        lengths = data.encoded.lengths()[data.train_rows]
        per_epoch = math.ceil(len(data.train_rows) / cfg.batch_size)
        total_steps = cfg.epochs * math.ceil(per_epoch / cfg.grad_accum)
        warmup_steps = round(cfg.warmup * total_steps) if cfg.warmup < 1 else int(cfg.warmup)
        done = state.epoch * len(data.train_rows) + min(state.batch * cfg.batch_size, len(data.train_rows))
        remaining = cfg.epochs * len(data.train_rows) - done  # the bar's rate and ETA cover this run
        last_save = began = time.monotonic()

        def factor(step: int) -> float:
            if cfg.schedule != "time" or deadline is None:
                return lr_factor(step, warmup_steps, total_steps)
            share = (time.monotonic() - began) / max(deadline - began, 1e-9)
            return budget_factor(step, cfg.warmup, total_steps, share)

        bar = progress_bar(remaining, "fine-tuning", progress)
        with _deferred_interrupt() as interrupted, bar as advance:
            while state.epoch < cfg.epochs and not state.stopped_early:
                if deadline is not None and time.monotonic() > deadline:
                    state.stopped_early, state.stop_reason = True, "out of time"
                    if log:
                        log(f"stopping: the time limit came before epoch {state.epoch + 1}")
                    break
                started = time.monotonic()
                batches = epoch_batches(lengths, cfg.batch_size, cfg.seed, state.epoch)
                self.network.train()
                for index in range(state.batch, len(batches)):
                    rows = data.train_rows[batches[index]]
                    group = index - index % cfg.grad_accum
                    loss = self._backward(data, rows, min(cfg.grad_accum, len(batches) - group))
                    state.loss_sum += loss * len(rows)
                    state.loss_count += len(rows)
                    if (index + 1) % cfg.grad_accum and index + 1 < len(batches):
                        advance(len(rows), None)
                        continue
                    self._step(factor(state.step))
                    state.step, state.batch = state.step + 1, index + 1
                    advance(len(rows), self._status(loss))
                    if interrupted["hit"]:
                        raise self._interrupt(checkpoint() if checkpoint else None)
                    if checkpoint and time.monotonic() - last_save > checkpoint_seconds:
                        checkpoint()
                        last_save = time.monotonic()
                    if deadline is not None and time.monotonic() > deadline and index + 1 < len(batches):
                        state.stopped_early, state.stop_reason = True, "out of time"
                        if log:
                            log(f"stopping: the time limit came {index + 1} of {len(batches)} batches into "
                                f"epoch {state.epoch + 1}")
                        break
                self._end_epoch(data, time.monotonic() - started, log)
                where = checkpoint() if checkpoint else None
                last_save = time.monotonic()
                if interrupted["hit"]:
                    raise self._interrupt(where)
        if self.best_weights is not None:
            self.network.load_state_dict(self.best_weights)
        self.network.eval()
        return state

    def _status(self, loss: float) -> str:
        text = f"epoch {self.state.epoch + 1}/{self.cfg.epochs} loss {loss:.3f}"
        last = self.state.history[-1] if self.state.history else {}
        if "val_loss" not in last:
            return text
        return text + (f" val micro-F1 {last['val_micro_f1']:.3f}" if "val_micro_f1" in last
                       else f" val acc {last['val_accuracy']:.3f}")

    def _backward(self, data: TrainData, rows: np.ndarray, group_size: int) -> float:
        batch = self._tensors(data.encoded, rows, data.pad_id)
        labels = torch.from_numpy(data.labels[rows]).to(self.device)
        with self.autocast():
            logits = self.network(batch)
        loss = _loss(logits.float(), labels, self.network.multilabel)
        self.scaler.scale(loss / group_size).backward()
        return float(loss.detach())

    def _step(self, factor: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.lr * factor
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.cfg.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    def _end_epoch(self, data: TrainData, seconds: float, log: Callable[[str], None] | None) -> None:
        state, cfg = self.state, self.cfg
        record: dict[str, Any] = {"epoch": state.epoch + 1,
                                  "train_loss": round(state.loss_sum / max(state.loss_count, 1), 5),
                                  "seconds": round(seconds, 1)}
        if len(data.val_rows):
            scores = self.validate(data)
            record.update(scores)
            if state.best is None or _better(scores, state.best):
                state.best, state.stale = dict(record), 0
                self.best_weights = _cpu(self.network.state_dict(), copy=True)
            else:
                state.stale += 1
        state.history.append(record)
        state.epoch, state.batch, state.loss_sum, state.loss_count = state.epoch + 1, 0, 0.0, 0
        if log:
            log(_describe(record, state.best))
        if state.stopped_early or state.epoch >= cfg.epochs:
            return
        if cfg.early_stopping and state.stale >= cfg.early_stopping:
            state.stopped_early, state.stop_reason = True, "no better validation score"
            if log:
                log(f"stopping early: the validation score has not improved for {state.stale} epochs")
            return
        reason = self.judge(state.history) if getattr(self, "judge", None) else None
        if reason:
            state.stopped_early, state.stop_reason = True, reason
            if log:
                log(f"stopping early: {reason}")

    def validate(self, data: TrainData) -> dict[str, float]:
        from sklearn.metrics import f1_score

        logits = self.logits(data.encoded, data.val_rows, data.pad_id)
        truth = data.labels[data.val_rows]
        loss = float(_loss(torch.from_numpy(logits), torch.from_numpy(truth), self.network.multilabel))
        if self.network.multilabel:  # micro-F1 at 0.5 ranks epochs (thresholds are tuned after)
            predicted = (logits > 0).astype(truth.dtype)
            micro, macro = (float(f1_score(truth, predicted, average=kind, zero_division=0))
                            for kind in ("micro", "macro"))
            return {"val_micro_f1": round(micro, 5), "val_macro_f1": round(macro, 5),
                    "val_loss": round(loss, 5)}
        predicted = logits.argmax(axis=1)
        return {"val_accuracy": round(float((predicted == truth).mean()), 5),
                "val_macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 5),
                "val_loss": round(loss, 5)}

    # -- inference --------------------------------------------------------------------------------

    def logits(self, encoded: Encoded, rows: np.ndarray, pad_id: int) -> np.ndarray:
        """Float32 logits for ``rows`` of ``encoded``, in eval mode, longest texts first. On a CPU
        they are computed in fp32 whatever the training precision: the saved model predicts so,
        and a check score taken under bf16 would not be the saved model's."""
        out = np.empty((len(rows), self.network.classifier.out_features), dtype=np.float32)
        was_training = self.network.training
        self.network.eval()
        with torch.inference_mode():
            for batch_index in length_batches(encoded.lengths()[rows], self.cfg.batch_size):
                batch = self._tensors(encoded, rows[batch_index], pad_id)
                with self.autocast() if self.device.startswith("cuda") else nullcontext():
                    out[batch_index] = self.network(batch).float().cpu().numpy()
        self.network.train(was_training)
        return out

    def _tensors(self, encoded: Encoded, rows: np.ndarray, pad_id: int) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v).to(self.device) for k, v in pad_batch(encoded, rows, pad_id).items()}

    # -- checkpoints ------------------------------------------------------------------------------

    def snapshot(self) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
        """(JSON-able state, tensor groups): everything needed to continue this run exactly."""
        opt = self.optimizer.state_dict()
        moments = {f"{index}.{key}": value.detach().cpu().contiguous()
                   for index, slots in opt["state"].items() for key, value in slots.items()}
        moments["rng.cpu"] = torch.get_rng_state()
        if self.device.startswith("cuda"):
            moments["rng.cuda"] = torch.cuda.get_rng_state()
        groups = {"weights": _cpu(self.network.state_dict()), "optimizer": moments}
        if self.best_weights is not None:
            groups["best"] = self.best_weights
        return {"run": asdict(self.state), "param_groups": opt["param_groups"]}, groups

    def restore(self, saved: dict[str, Any], groups: dict[str, dict[str, torch.Tensor]]) -> None:
        """Load a snapshot; shapes that do not fit this network raise ValueError."""
        try:
            self.network.load_state_dict(groups["weights"])
            if "best" in groups:
                self.network.load_state_dict(groups["best"])  # shape check only
                self.best_weights = groups["best"]
                self.network.load_state_dict(groups["weights"])
            moments = groups["optimizer"]
            state: dict[int, dict[str, torch.Tensor]] = {}
            for key, value in moments.items():
                if not key.startswith("rng."):
                    index, slot = key.split(".", 1)
                    state.setdefault(int(index), {})[slot] = value
            self.optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
            torch.set_rng_state(moments["rng.cpu"])
            if "rng.cuda" in moments and self.device.startswith("cuda"):
                torch.cuda.set_rng_state(moments["rng.cuda"])
            self.state = RunState(**saved["run"])
        except (KeyError, RuntimeError, TypeError) as exc:
            raise ValueError(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)) from None

    def _interrupt(self, where: str | None) -> Interrupted:
        at = f"epoch {self.state.epoch + 1}, step {self.state.step}"
        if where is None:
            return Interrupted(f"interrupted at {at}; no checkpoint folder was set, nothing was saved")
        return Interrupted(f"interrupted at {at}; checkpoint saved in {where}", where)


def _cpu(weights: dict[str, torch.Tensor], copy: bool = False) -> dict[str, torch.Tensor]:
    """Weights on the CPU; ``copy`` detaches them from the live ones (on a CPU, .to() would not)."""
    return {k: v.detach().to("cpu", copy=copy).contiguous() for k, v in weights.items()}


def _loss(logits: torch.Tensor, labels: torch.Tensor, multilabel: bool) -> torch.Tensor:
    if multilabel:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    return torch.nn.functional.cross_entropy(logits, labels)


def score_key(record: dict[str, Any]) -> str:
    """The validation score that ranks epochs: accuracy, or micro-F1 for multi-label runs."""
    return "val_micro_f1" if "val_micro_f1" in record else "val_accuracy"


def _better(scores: dict[str, Any], best: dict[str, Any]) -> bool:
    """A higher validation score wins; on a tie, lower validation loss."""
    key = score_key(scores)
    return (scores[key], -scores["val_loss"]) > (best[key], -best["val_loss"])


def _describe(record: dict[str, Any], best: dict[str, Any] | None) -> str:
    text = f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}"
    if "val_loss" in record:
        first = "micro-F1" if "val_micro_f1" in record else "accuracy"
        text += (f", validation {first} {record[score_key(record)]:.4f}, "
                 f"macro-F1 {record['val_macro_f1']:.4f}, loss {record['val_loss']:.4f}")
        if best is not None and best["epoch"] == record["epoch"]:
            text += " (best so far)"
    return text + f" [{record['seconds']:.0f} s]"


@contextmanager
def _deferred_interrupt() -> Iterator[dict[str, bool]]:
    """Ctrl-C sets a flag the loop checks between optimizer steps (so a checkpoint is never taken
    half-way through an update); a second Ctrl-C stops at once."""
    flag = {"hit": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag["hit"]:
            raise KeyboardInterrupt
        flag["hit"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def out_of_memory(batch_size: int, grad_accum: int, max_length: int) -> BertclfError:
    smaller = max(1, batch_size // 2)
    return BertclfError(
        f"the GPU ran out of memory with batches of {batch_size} texts of up to {max_length} tokens: "
        f"try --batch-size {smaller} --grad-accum {grad_accum * batch_size // smaller} (the same "
        f"effective batch), or a smaller --max-length"
    )
