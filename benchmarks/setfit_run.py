"""One SetFit run for benchmarks/few_shot.py, in SetFit's own environment (not bertclf's).

    SETFIT_PYTHON=/path/to/venv/bin/python   # a venv with torch==2.13.0 and setfit installed
    $SETFIT_PYTHON benchmarks/setfit_run.py MODEL_DIR TRAIN.csv TEST.csv SEED

The paper's recipe (Tunstall et al. 2022): 20 iterations of one positive and one negative pair per
text, one epoch of CosineSimilarityLoss, batch 16, body learning rate 2e-5, max length 256, then
logistic regression on the tuned embeddings. It loads the bundled model from its local folder,
reports to nothing and scores with a callable, so nothing is fetched. Prints one JSON line:
test accuracy and training seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def main() -> None:
    import pandas as pd
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    model_dir, train_csv, test_csv, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    train["label"], test["label"] = train["label"].astype(str), test["label"].astype(str)
    model = SetFitModel.from_pretrained(model_dir)
    args = TrainingArguments(batch_size=16, num_iterations=20, num_epochs=1, body_learning_rate=2e-5,
                             max_length=256, seed=seed, report_to="none", show_progress_bar=False)
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_pandas(train[["text", "label"]]),
                      metric=lambda predicted, truth: {"accuracy": sum(
                          str(p) == str(t) for p, t in zip(predicted, truth, strict=True)) / len(truth)})
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    predicted = model.predict(test["text"].tolist(), batch_size=64)
    accuracy = sum(str(p) == t for p, t in zip(predicted, test["label"], strict=True)) / len(test)
    print(json.dumps({"accuracy": accuracy, "train_seconds": seconds}))


if __name__ == "__main__":
    main()
