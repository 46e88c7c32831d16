"""Contrastive tuning of the encoder for few labelled texts (``FewShot``, ``train --few-shot``).

SetFit (Tunstall et al. 2022) tunes a sentence encoder on pairs of texts (same class: similar,
different classes: not) before a logistic regression reads its embeddings; each pair costs a
forward and backward pass over two texts, and its recipe draws 2·R·N pairs for N texts (R = 20).
Here every batch holds a few texts of each of several classes, and the supervised contrastive
loss (Khosla et al. 2020) compares every text with every other text in the batch: b texts teach
b·(b−1) ordered pairs for b passes. Texts of similar length share batches (less padding), bf16
autocast runs where the CPU has it, and the run stops once the loss has settled.

SetFit's own objective is here too (``objective="pairs"``): each text paired with a random text
of its class (cosine target 1) and one of another class (target 0), a few rounds of them in one
pass, CosineSimilarityLoss. With a few classes of longer texts (AG News) it generalised better
than the batch loss (docs/results.md, "Few labels").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bertclf.encode.pooling import pool_tensor
from bertclf.encode.tokenization import Encoded, pad_batch
from bertclf.finetune.schedule import adamw, lr_factor
from bertclf.progress import progress_bar

LENGTH_POOL = 4  # batches whose groups are ordered by length together: less padding, still mixed
SETTLE_WINDOW = 3  # epochs compared with the three before them to decide the loss has settled


@dataclass
class ContrastiveConfig:
    epochs: int
    lr: float
    batch_size: int
    per_class: int  # texts of one class side by side in a batch (each text's positives)
    temperature: float
    warmup: float
    weight_decay: float
    settle: float  # stop when the last epochs' loss improved on the ones before by less than this share
    seed: int
    objective: str = "supcon"  # or "pairs": SetFit's sampled pairs and cosine loss, one pass
    rounds: int = 5  # pairs: each text's same-class and other-class partners drawn this many times


def class_batches(labels: np.ndarray, lengths: np.ndarray, cfg: ContrastiveConfig,
                  epoch: int) -> list[np.ndarray]:
    """One epoch's batches: each class's texts shuffled and cut into groups of ``per_class``
    (never a group of one, which would have no positive), the groups shuffled, ordered by
    length within pools of a few batches, and packed into batches of about ``batch_size``."""
    rng = np.random.default_rng([cfg.seed, epoch])
    groups: list[np.ndarray] = []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        cut = [rows[i:i + cfg.per_class] for i in range(0, len(rows), cfg.per_class)]
        if len(cut) > 1 and len(cut[-1]) < 2:
            cut[-2:] = [np.concatenate(cut[-2:])]
        groups += cut
    groups = [groups[i] for i in rng.permutation(len(groups))]
    pool = max(1, LENGTH_POOL * cfg.batch_size // cfg.per_class)
    ordered: list[np.ndarray] = []
    for start in range(0, len(groups), pool):
        chunk = groups[start:start + pool]
        ordered += sorted(chunk, key=lambda g: -int(lengths[g].max()))
    batches, current = [], []
    for group in ordered:
        current.append(group)
        if sum(map(len, current)) >= cfg.batch_size:
            batches.append(np.concatenate(current))
            current = []
    if current:
        batches.append(np.concatenate(current))
    return [batches[i] for i in rng.permutation(len(batches))]


def pair_batches(labels: np.ndarray, cfg: ContrastiveConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """SetFit's pairs in batches of ``batch_size`` pairs: in each of ``rounds`` rounds every text
    with a random other text of its class (similar: 1) and a random text of another class (0),
    all shuffled. A batch's rows are its pairs' first texts, then their partners."""
    rng = np.random.default_rng([cfg.seed, 0])
    members = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
    others = {label: np.flatnonzero(labels != label) for label in members}
    mates = [members[label][members[label] != i] for i, label in enumerate(labels)]  # once, not each round
    firsts, partners, similar = [], [], []
    for _ in range(cfg.rounds):
        for i, label in enumerate(labels):
            firsts += [i, i]
            partners += [int(rng.choice(mates[i])), int(rng.choice(others[label]))]
            similar += [1.0, 0.0]
    order = rng.permutation(len(firsts))
    first, partner, target = (np.asarray(v)[order] for v in (firsts, partners, similar))
    return [(np.concatenate([first[i:i + cfg.batch_size], partner[i:i + cfg.batch_size]]),
             target[i:i + cfg.batch_size]) for i in range(0, len(order), cfg.batch_size)]


def cosine_pair_loss(vectors: torch.Tensor, similar: torch.Tensor) -> torch.Tensor:
    """SetFit's CosineSimilarityLoss: the squared gap between each pair's cosine similarity and
    its target (1 same class, 0 not); ``vectors`` holds the pairs' first texts, then partners."""
    half = len(similar)
    cosine = torch.nn.functional.cosine_similarity(vectors[:half].float(), vectors[half:].float())
    return ((cosine - similar) ** 2).mean()


def supcon_loss(vectors: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Supervised contrastive loss: for each text, the mean over its same-class batch-mates of
    -log softmax of their cosine similarity among all its batch-mates (texts with no positive
    in the batch do not count)."""
    z = torch.nn.functional.normalize(vectors.float(), dim=1)
    n = len(labels)
    itself = torch.eye(n, dtype=torch.bool, device=z.device)
    similarity = (z @ z.T / temperature).masked_fill(itself, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~itself
    counted = positive.any(dim=1)
    per_text = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[counted] / positive.sum(dim=1)[counted]
    return -per_text.mean()


def settled(losses: list[float], settle: float) -> bool:
    """Whether the mean loss of the last few epochs improved on the few before by less than
    ``settle`` of it."""
    if settle <= 0 or len(losses) < 2 * SETTLE_WINDOW:
        return False
    before = float(np.mean(losses[-2 * SETTLE_WINDOW:-SETTLE_WINDOW]))
    recent = float(np.mean(losses[-SETTLE_WINDOW:]))
    return before - recent < settle * before


def tune_encoder(encoder: torch.nn.Module, encoded: Encoded, labels: np.ndarray, pad_id: int, pooling: str,
                 cfg: ContrastiveConfig, device: str = "cpu", dtype: torch.dtype | None = None,
                 progress: bool | None = None,
                 log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Tune ``encoder`` in place on the labelled texts; the history of epochs (mean loss,
    seconds, pairs). Seeded: the same seed gives the same weights on a CPU."""
    torch.manual_seed(cfg.seed)
    encoder.to(device).train()
    optimizer = adamw(encoder, cfg.lr, cfg.weight_decay)
    lengths = encoded.lengths()
    pairs = cfg.objective == "pairs"
    epochs = 1 if pairs else cfg.epochs  # SetFit's one pass over its sampled pairs

    def plan(epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if pairs:
            return pair_batches(labels, cfg)
        return [(rows, labels[rows]) for rows in class_batches(labels, lengths, cfg, epoch)]

    first = plan(0)
    total_steps = len(first) * epochs
    warmup_steps = max(1, round(cfg.warmup * total_steps)) if cfg.warmup < 1 else int(cfg.warmup)
    pairs_per_epoch = sum(len(t) if pairs else len(r) * (len(r) - 1) for r, t in first)
    history: list[dict[str, Any]] = []
    step = 0
    with progress_bar(pairs_per_epoch * epochs, "contrastive tuning", progress, unit="pairs") as advance:
        for epoch in range(epochs):
            start, losses = time.perf_counter(), []
            for rows, targets in (first if epoch == 0 else plan(epoch)):
                padded = pad_batch(encoded, rows, pad_id)
                batch = {k: torch.from_numpy(v).to(device) for k, v in padded.items()}
                with torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                    hidden = encoder(**batch, return_dict=True).last_hidden_state
                    vectors = pool_tensor(hidden, batch["attention_mask"], pooling)
                if pairs:
                    loss = cosine_pair_loss(vectors, torch.from_numpy(targets).float().to(device))
                else:
                    loss = supcon_loss(vectors, torch.from_numpy(targets.astype(np.int64)).to(device),
                                       cfg.temperature)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
                for group in optimizer.param_groups:
                    group["lr"] = cfg.lr * lr_factor(step, warmup_steps, total_steps)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                losses.append(float(loss.detach()))
                advance(len(targets) if pairs else len(rows) * (len(rows) - 1),
                        description=f"epoch {epoch + 1}/{epochs} loss {np.mean(losses):.3f}")
            history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 5),
                            "seconds": round(time.perf_counter() - start, 2), "pairs": pairs_per_epoch})
            if settled([h["loss"] for h in history], cfg.settle):
                if log:
                    log(f"contrastive loss settled after {epoch + 1} of {cfg.epochs} epochs")
                break
    encoder.eval()
    return history
