"""What order the texts come in and how fast the weights move: length-grouped shuffled batches,
linear warm-up and decay (over the steps or a time limit), which layers train, and which
precision autocast runs in."""

from __future__ import annotations

import numpy as np
import torch

from bertclf.encode import backends
from bertclf.errors import SpecError

NO_DECAY = ("bias", "LayerNorm.weight", "layernorm.weight", "norm.weight")
BUCKET = 50  # batches per pool when grouping texts of similar length (less padding, same shuffle)


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """A seeded shuffle, then texts of similar length grouped within pools of 50 batches, then
    the batches shuffled: random like a plain shuffle, with far less padding."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), batch_size * BUCKET):
        pool = order[start:start + batch_size * BUCKET]
        pool = pool[np.argsort(-lengths[pool], kind="stable")]
        batches += [pool[i:i + batch_size] for i in range(0, len(pool), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to the full rate over ``warmup_steps``, then linear decay to zero."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def budget_factor(step: int, warmup: float, total_steps: int, time_share: float) -> float:
    """``lr_factor`` measured in whichever is further along, the planned steps or the time limit
    (``time_share``: the share of it used). A run that the time limit ends mid-epoch then ends
    at a rate near zero, as a run of planned steps does, instead of where the steps' decay had
    got to (on a CPU an epoch of a few thousand texts often does not fit a budget). ``warmup``
    is a share of the run (below 1) or a step count."""
    progress = min(1.0, max((step + 1) / max(1, total_steps), time_share))
    if warmup >= 1:
        return min((step + 1) / warmup, 1.0 - progress) if step < warmup else 1.0 - progress
    if progress < warmup:
        return progress / warmup
    return max(0.0, (1.0 - progress) / max(1e-9, 1.0 - warmup))


def freeze_lower(encoder: torch.nn.Module, layers: int) -> None:
    """Stop gradients through the embeddings and the lowest ``layers`` transformer layers: their
    backward pass and optimizer step are skipped, which on a CPU is most of an epoch's cost
    beyond the forward pass."""
    if layers:
        stack = next((m for name, m in encoder.named_modules() if isinstance(m, torch.nn.ModuleList)
                      and name.split(".")[-1] in ("layer", "layers")), None)
        if stack is None or layers > len(stack):
            have = "no layer stack it can find" if stack is None else f"{len(stack)} layers"
            raise SpecError(f"freeze_layers={layers}, but the encoder has {have}")
        embeddings = getattr(encoder, "embeddings", None)
        for module in ([embeddings] if embeddings is not None else []) + list(stack[:layers]):
            for weight in module.parameters():
                weight.requires_grad_(False)


def autocast_dtype(device: str, precision: str) -> torch.dtype | None:
    """None for fp32. 'auto' is bf16 on a GPU, or fp16 (with loss scaling) on a GPU without
    bf16; on a CPU it is bf16 where the CPU has bf16 instructions (AVX-512 BF16, AMX: in a
    fixed time it trained on 1.4-1.6x the texts of fp32, no less accurate on average:
    docs/results.md "finetune-bf16") and fp32 elsewhere, where torch would emulate bf16 slowly.
    'bf16' and 'fp16' are taken as asked, fp16 on a GPU only."""
    gpu = device.startswith("cuda")
    if precision == "fp32" or (precision == "auto" and not gpu and not backends.cpu_has_bf16()):
        return None
    if precision == "fp16" and not gpu:
        raise SpecError("fp16 training needs a GPU (it relies on CUDA loss scaling); use bf16 on a CPU")
    if precision == "fp16" or (precision == "auto" and gpu and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def adamw(module: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on every weight but biases and LayerNorm's. Fused (one
    kernel for all the weights) where torch has it for their device: on a CPU the default loop
    over tensors took 50-57 ms a step for all-MiniLM-L6-v2's 22M weights, the fused kernel 9-10."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for _, p in named) or None
    return torch.optim.AdamW(
        [{"params": [p for n, p in named if not n.endswith(NO_DECAY)], "weight_decay": weight_decay},
         {"params": [p for n, p in named if n.endswith(NO_DECAY)], "weight_decay": 0.0}], lr=lr, fused=fused)
