"""``train --auto``'s fine-tuned candidate: priced before it starts, held to the budget, stopped
when it cannot catch the best cross-validated candidate, and scored on the same check rows.

Its cost comes from a timed forward pass of this machine (an epoch of training costs about
``TRAIN_PASSES`` of them; measured 1.2–1.8× high on the shared sets, docs/results.md). It gets as
many epochs as fit, up to the tuner's, and a time limit where the budget ends; where not even
one epoch fits (sst2's 65k search texts), the part of one that does, its rate decaying to zero at the
limit (issue 43: docs/results.md, "Fine-tuning in a fixed time"); on large sets the search keeps
``TUNE_SHARE`` of the budget back for it, having filled the budget alone before. A winner is kept
as trained on the search rows: a CPU cannot afford a second run on every row. Where few-shot
tuning was scored (a few texts per class) it is skipped: a softmax layer trained end to end
underfits there (the shipped tickets: 92.3 against 96.2 frozen), and with no check rows it would
be compared on the three or four texts of one fold (sst2 at 8 per class: it won there 1.0 to 0.8
and scored 50.7 on test).
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from bertclf.classify.compatibility import why_unsupported
from bertclf.errors import BertclfWarning
from bertclf.evaluate.intervals import interval
from bertclf.search.space import Candidate

TRAIN_PASSES = 3.0  # an epoch of fine-tuning costs about this many forward passes
FINETUNE_SAVE_SECONDS = 30.0  # writing a fine-tuned folder: its encoder, ONNX export and int8 graph
MIN_TEXTS = 2000  # fewer texts than this seen in the time left: not worth starting
# FineTuner's peak rate is 5e-5; in the minutes --auto has, twice that reached more (chosen
# leave-one-set-out over four sets: docs/results.md, "Fine-tuning in a fixed time")
AUTO_LR = 1e-4
# where TRAIN is large, the search alone fills the budget (sst2 on two AVX2 cores: 570 of 600 s);
# half, not a quarter: chosen leave-one-set-out over the ten shared sets; where it changed the
# score it helped on 3 of 4 (sst2 +1.95, tweepfake +1.10; docs/results.md, "auto-43")
TUNE_SHARE = 0.5


def fine_tuning_share(search: Any, space: list[Candidate]) -> float:
    """Seconds the search keeps back for fine-tuning: ``TUNE_SHARE`` of the budget where it may
    run, the search rows hold ``MIN_TEXTS`` (fewer, and the search ends early anyway) and the
    share leaves time to train on them once a fine-tuned winner's finish (predicting the check
    rows and the report's texts at the tuner's speed) is paid: ag_news's 7,600 report texts took
    the whole 150 s of the quarter kept then. The texts a class it buys are logged, not judged: as
    an estimate of the gain they sorted only 4 of 7 shared sets right leave-one-set-out
    (benchmarks/tune_share.py). Fine-tuning also gets whatever the search leaves."""
    if (not any(c.features == "finetune" for c in space) or len(search.rows) < MIN_TEXTS
            or why_unsupported("fine-tune", search.base, search.multilabel)):
        return 0.0
    share = TUNE_SHARE * search.budget
    seen, finish = share_estimate(search)
    per_class = seen / max(1, search.n_classes)
    said = (f"{share:.0f} s ({TUNE_SHARE:.0%} of the budget) for fine-tuning, time for ~{max(seen, 0):,} "
            f"texts (~{max(per_class, 0):,.0f} a class) after ~{finish:.0f} s to finish with it")
    if seen < MIN_TEXTS:
        search.log(f"not keeping {said} (it needs {MIN_TEXTS:,}); the search gets it")
        return 0.0
    search.log(f"keeping {said}; it also gets what the search leaves")
    return share


def share_estimate(search: Any) -> tuple[int, float]:
    """(texts fine-tuning trains on in ``TUNE_SHARE`` of the budget, seconds its winner's finish
    takes out of it), from the tuner's forward pass timed on this machine."""
    forward, finish = forward_seconds(search), finish_seconds(search)
    return texts_in(TUNE_SHARE * search.budget - finish, forward, len(search.rows)), finish


def forward_seconds(search: Any, dtype: str | None = None) -> float:
    """The fine-tuner's forward seconds a text on this machine in ``dtype`` (None: the precision
    it trains in), timed once per search and precision (uncached: a cache hit would say nothing
    of what training costs)."""
    dtype = dtype or training_dtype(default_finetuner(search.base, search.finetuner))
    if dtype not in search.tune_forward:
        torch_pass = clone(search.base.embedder_).set_params(backend="torch", progress=False, cache=False,
                                                             dtype=dtype)
        search.tune_forward[dtype] = search.seconds_per_text(torch_pass.encode_texts)
    return search.tune_forward[dtype]


def training_dtype(tuner: Any) -> str:
    """"bf16" where ``tuner`` trains under bf16 autocast here (a GPU, or a CPU with bf16
    instructions: 1.4-1.6x the texts of fp32 in the same time), else "fp32"."""
    import torch

    from bertclf.encode.backends import resolve_device
    from bertclf.finetune.schedule import autocast_dtype

    dtype = autocast_dtype(resolve_device(tuner.device), tuner.precision)
    return "bf16" if dtype == torch.bfloat16 else "fp32"


def texts_in(seconds: float, forward: float, untimed: int) -> int:
    """Texts fine-tuning trains on in ``seconds`` (``untimed`` where no pass was timed)."""
    return int(seconds / (forward * TRAIN_PASSES)) if forward > 0 else untimed


def finish_seconds(search: Any) -> float:
    """A fine-tuned winner's finish: saving, and predicting the check rows (or the first fold's)
    and the caller's later texts, in fp32 (a CPU predicts so whatever the tuner trained in)."""
    scored = len(search.check_rows) or len(search.splits[0][1])
    return FINETUNE_SAVE_SECONDS + forward_seconds(search, "fp32") * (scored + search.after_texts)


def default_finetuner(base: Any, finetuner: Any = None) -> Any:
    """The given ``FineTuner`` (unfitted copy), or one starting from the base's encoder at
    ``AUTO_LR``."""
    from bertclf.finetune.finetuner import FineTuner

    if finetuner is not None:
        return clone(finetuner)
    embedder = base.embedder_
    return FineTuner(model=embedder.model, max_length=embedder.max_length, device=embedder.device,
                     seed=base.random_state if base.random_state is not None else 13, lr=AUTO_LR,
                     progress=embedder.progress)


def cannot_reach(history: list[dict[str, Any]], goal: float, epochs: int, n_val: int) -> str | None:
    """Why fine-tuning should stop: its validation accuracy (on ``n_val`` texts), gaining what the
    last epoch gained for each epoch left, stays below ``goal`` by more than twice its standard
    error (the goal was measured on other texts); None while it might still get there."""
    scores = [h.get("val_accuracy") for h in history]
    if len(scores) < 2 or None in scores:
        return None
    gain, left = max(0.0, scores[-1] - scores[-2]), epochs - len(scores)
    noise = 2 * math.sqrt(max(scores[-1] * (1 - scores[-1]), 0.01) / n_val)
    if scores[-1] + gain * left + noise >= goal:
        return None
    return (f"validation accuracy {scores[-1]:.4f}, gaining {gain:.4f} an epoch, cannot reach {goal:.4f} "
            f"in {left} more")


def finetune_candidate(search: Any, c: Candidate, rival: Candidate | None) -> Any:
    """Fine-tune for ``search`` (an ``auto.Search``) on its search rows and score ``c`` on its
    check rows (without check rows: the first fold's), when the time left allows an epoch, or
    ``MIN_TEXTS`` of one (then the rate decays to zero at the time limit, and no validation
    split is held back: one epoch leaves nothing to choose); the fitted ``FineTuner``, or None
    when it was skipped (``c.status`` says why)."""
    search.tune_reserve = 0.0  # what the search kept back is fine-tuning's now
    few_shot = any(f.features == "fewshot" and f.scores for f in search.scored)
    why = why_unsupported("fine-tune", search.base, search.multilabel)
    if why or few_shot:
        c.status = f"skipped: {why or 'few texts per class, where few-shot tuning tunes the encoder instead'}"
        search.log(f"  fine-tuning {c.status}")
        return None
    model = default_finetuner(search.base, search.finetuner)
    checked = len(search.check_rows) > 0
    train, test = (search.rows, search.check_rows) if checked else search.splits[0]
    forward, finish = forward_seconds(search), finish_seconds(search)  # finish: if it wins
    # the rival's refit and save must stay affordable (its own, checked already, not the search's
    # reserve, which covers the slowest candidate it screened), and so must its own finish
    kept = search.refit_seconds(rival, checked=rival.check is not None) if rival is not None else 0.0
    room = search.left() + search.reserve - max(kept, finish)
    share = f"{max(room, 0):.0f} s of the {search.budget:.0f} s budget are left for it"
    seen = texts_in(room, forward, len(train))  # texts trained on
    needed = min(MIN_TEXTS, len(train))
    if seen < needed:
        c.status = f"skipped: {share}, time for ~{max(seen, 0):,} texts (it needs {needed:,})"
        search.log(f"  fine-tuning {c.status}")
        return None
    partial = seen < len(train)
    epochs = 1 if partial else min(int(model.epochs), seen // len(train))
    if epochs == 1:  # no epochs to choose between: every text trains, the check rows judge it
        model.set_params(val_fraction=0)
    val = float(model.val_fraction or 0)
    epoch = forward * len(train) * (TRAIN_PASSES * (1 - val) + val)
    plan = (f"~{seen:,} of {len(train):,} texts (one partial epoch, the rate decaying to zero at the limit)"
            if partial else f"{epochs} epoch(s) on {len(train):,} texts, ~{epoch * epochs:.0f} s")
    search.log(f"  fine-tuning: {share}, time for {plan}")
    model.set_params(epochs=epochs, time_limit=room)
    goal = search.rival_score(rival) if rival is not None else None
    n_val = max(1, round(len(train) * val))  # the tuner's own validation texts
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BertclfWarning)
        judge = (lambda history: cannot_reach(history, goal, epochs, n_val)) if goal else None
        model.fit([search.texts[i] for i in train], search.classes[search.target[train]], stop_when=judge)
    c.fit_seconds.append(time.perf_counter() - start)
    predicted = model.predict([search.texts[i] for i in test])
    c.check = float((np.asarray(predicted) == search.classes[search.target[test]]).mean())
    c.scores.append(c.check)
    c.interval = interval(c.check, len(test))
    reason = model.training_.get("stop_reason")
    where = "check texts" if checked else "texts of fold 1"
    steps = model.training_["optimizer_steps"] * int(model.batch_size) * int(model.grad_accum)
    run, planned = ((f"{min(steps, len(train)):,} of {len(train):,} texts", f"limit {room:.0f} s") if partial
                    else (f"{model.training_['epochs_run']} epoch(s)", f"~{epoch * epochs:.0f} s estimated"))
    c.status = (f"{run} in {c.fit_seconds[0]:.0f} s ({planned}), scored on the {where}"
                + (f"; stopped: {reason}" if reason else ""))
    search.log(f"  {c.name}: accuracy {c.check:.4f} on {len(test)} {where} ({c.fit_seconds[0]:.0f} s)")
    return model
