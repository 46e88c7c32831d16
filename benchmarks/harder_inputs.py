"""Harder inputs on the shared real datasets: long documents, multi-label sets, metadata fusion.

Three parts, each writing its own section of docs/results.md:

- ``long``: bbc_news (median ~420 tokens) read by each --long strategy at one token budget:
  accuracy, macro-F1 and embedding time (train + test), beside TF-IDF + logistic regression.
- ``multilabel``: goemotions (28 labels) and ethos_multilabel (8): micro/macro-F1, mean ROC-AUC,
  subset accuracy and Hamming loss with tuned and with fixed 0.5 thresholds, beside TF-IDF.
- ``meta``: sms_spam, disaster_tweets and tweepfake with metadata *derived from the text* (length, digits,
  capitals, links, hashtags/mentions), the text embedding alone and fused with it.

    python benchmarks/harder_inputs.py --parts long,multilabel,meta [--max-length 256] [--no-write]
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from results_md import publish

from bertclf import Embedder, TextClassifier
from bertclf.encode.memory_cache import memo
from bertclf.encode.sources import DEFAULT_MODEL, load_tokenizer, resolve
from bertclf.evaluate.metrics import evaluate_model
from bertclf.search.baseline import baseline_scores, multilabel_baseline_scores

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STRATEGIES = [("truncate", {}), ("head-tail", {}), ("chunk", {"chunk_agg": "mean"}),
              ("chunk", {"chunk_agg": "max"}), ("guide", {})]


def read(name: str, split: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name / f"{split}.csv", dtype=str, keep_default_na=False)


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def part_long(max_length: int) -> str:
    train, test = read("bbc_news", "train"), read("bbc_news", "test")
    tokenizer = load_tokenizer(resolve(DEFAULT_MODEL))
    lengths = np.array([len(ids) for ids in tokenizer(test["text"].tolist(), verbose=False)["input_ids"]])
    base = baseline_scores(train["text"], train["label"], test["text"], test["label"])
    rows = []
    for mode, extra in STRATEGIES:
        memo.clear()
        embedder = Embedder(max_length=max_length, long=mode, progress=False, **extra)
        embedder.load_encoder()
        model = TextClassifier(embedder, reuse_embeddings=False, features="embedding")
        start = time.perf_counter()
        quietly(model.fit, train["text"].tolist(), train["label"].tolist())
        fitted = time.perf_counter()
        report = quietly(evaluate_model, model, test["text"].tolist(), test["label"].tolist())
        done = time.perf_counter()
        name = mode + (f" ({extra['chunk_agg']})" if mode == "chunk" else "")
        rate = len(test) / (done - fitted)
        rows.append((name, report["accuracy"], report["macro_f1"], fitted - start, rate))
        print(f"{name}: acc {report['accuracy']:.4f} macro-F1 {report['macro_f1']:.4f} "
              f"train {fitted - start:.0f} s, predict {rate:.1f} texts/s", flush=True)
    lines = [f"bbc_news: {len(train)} train / {len(test)} test articles; test texts have median "
             f"{int(np.median(lengths))} tokens (p90 {int(np.percentile(lengths, 90))}), and "
             f"{(lengths > max_length).mean():.0%} exceed the {max_length}-token budget. Bundled model, "
             f"mean pooling, logistic regression (C = 1), full train split, scored on the test split; "
             f"train time includes embedding every training text.", "",
             "| strategy | accuracy | macro-F1 | train s | predict texts/s |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {a * 100:.2f} | {f * 100:.2f} | {t:.0f} | {r:.1f} |" for n, a, f, t, r in rows]
    lines.append(f"| TF-IDF + LR | {base['accuracy'] * 100:.2f} | {base['macro_f1'] * 100:.2f} | "
                 f"{base['train_seconds']:.1f} | - |")
    return "\n".join(lines)


def label_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="text").astype(int)


def part_multilabel() -> str:
    lines = ["Bundled model (default backend), mean pooling, one-vs-rest logistic regression (C = 1), "
             "full train split, scored on the test split. \"frozen\" reads the embedding alone (`--features "
             "embedding`), \"hybrid\" word TF-IDF beside it (`train`'s default). Tuned thresholds are "
             "picked per label on a seeded 20% of the train split (maximising that label's F1), then the "
             "heads are refitted on all of it. "
             "TF-IDF + LR is one-vs-rest at a 0.5 cut-off; ROC-AUC needs no cut-off.", "",
             "| set | labels | train / test | approach | micro-F1 | macro-F1 | mean ROC-AUC | subset acc | "
             "Hamming loss | train s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("ethos_multilabel", "goemotions"):
        train, test = read(name, "train"), read(name, "test")
        y_train, y_test = label_frame(train), label_frame(test)
        memo.clear()
        head = f"| {name} | {y_train.shape[1]} | {len(train):,} / {len(test):,} |"
        for features, thresholds in (("embedding", "tune"), ("embedding", 0.5), ("hybrid", "tune")):
            model = TextClassifier(Embedder(progress=False), thresholds=thresholds, features=features)
            start = time.perf_counter()
            quietly(model.fit, train["text"].tolist(), y_train)
            seconds = time.perf_counter() - start
            r = quietly(evaluate_model, model, test["text"].tolist(), y_test)
            kind = "frozen" if features == "embedding" else "hybrid (the default)"
            label = f"{kind} + logreg, " + ("tuned thresholds" if thresholds == "tune" else "0.5")
            lines.append(f"{head} {label} | {r['micro_f1'] * 100:.2f} | {r['macro_f1'] * 100:.2f} | "
                         f"{r['mean_roc_auc']:.4f} | {r['subset_accuracy'] * 100:.2f} | "
                         f"{r['hamming_loss']:.4f} | {seconds:.0f} |")
            print(lines[-1], flush=True)
        b = quietly(multilabel_baseline_scores, train["text"].tolist(), y_train, test["text"].tolist(),
                    y_test)
        lines.append(f"{head} TF-IDF + LR, 0.5 | {b['micro_f1'] * 100:.2f} | {b['macro_f1'] * 100:.2f} | "
                     f"{b['mean_roc_auc']:.4f} | - | - | {b['train_seconds']:.0f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def derived_meta(texts: pd.Series) -> pd.DataFrame:
    """Metadata computed from each text: what a platform would log beside a message."""
    return pd.DataFrame({
        "text": texts,
        "chars": texts.str.len().astype(str),
        "digits": texts.map(lambda t: sum(c.isdigit() for c in t)).astype(str),
        "capitals": texts.map(lambda t: round(sum(c.isupper() for c in t) / max(len(t), 1), 3)).astype(str),
        "link": texts.map(lambda t: "yes" if re.search(r"https?://|www\.", t) else "no"),
        "tags": texts.map(lambda t: len(re.findall(r"[#@]\w+", t))).astype(str),
    })


def part_meta() -> str:
    columns = ["chars", "digits", "capitals", "link", "tags"]
    lines = ["Metadata derived from each text, as a platform would log it beside the message: length in "
             "characters, digit count, share of capitals, whether it holds a link (categorical), count of "
             "#hashtags/@mentions. Bundled model, mean pooling, logistic regression (C = 1); the fused model "
             "concatenates the standardised metadata with the embedding (`--meta-cols "
             f"{','.join(columns)}`).", "",
             "| set | train / test | text only: accuracy | macro-F1 | text + metadata: accuracy | macro-F1 | "
             "metadata alone: accuracy | TF-IDF + LR accuracy |", "|---|---|---|---|---|---|---|---|"]
    for name in ("sms_spam", "disaster_tweets", "tweepfake"):
        train, test = read(name, "train"), read(name, "test")
        X_train, X_test = derived_meta(train["text"]), derived_meta(test["text"])
        scores = []
        for meta in (None, columns):
            model = TextClassifier(Embedder(progress=False), meta_cols=meta, features="embedding")
            quietly(model.fit, X_train, train["label"].tolist())
            r = quietly(evaluate_model, model, X_test, test["label"].tolist())
            scores.append(r)
        from sklearn.linear_model import LogisticRegression

        from bertclf.classify.features import MetaEncoder

        encoder = MetaEncoder(columns).fit(X_train)
        alone = LogisticRegression(max_iter=2000).fit(encoder.transform(X_train), train["label"])
        alone_acc = float((alone.predict(encoder.transform(X_test)) == test["label"]).mean())
        b = baseline_scores(train["text"], train["label"], test["text"], test["label"])
        lines.append(f"| {name} | {len(train):,} / {len(test):,} | {scores[0]['accuracy'] * 100:.2f} | "
                     f"{scores[0]['macro_f1'] * 100:.2f} | {scores[1]['accuracy'] * 100:.2f} | "
                     f"{scores[1]['macro_f1'] * 100:.2f} | {alone_acc * 100:.2f} | "
                     f"{b['accuracy'] * 100:.2f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="long,multilabel,meta")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--no-write", action="store_true", help="Print only; leave docs/results.md alone.")
    args = parser.parse_args()
    for part in args.parts.split(","):
        start = time.perf_counter()
        text = {"long": lambda: part_long(args.max_length), "multilabel": part_multilabel,
                "meta": part_meta}[part]()
        publish(f"harder_inputs.py {part}", text, f"benchmarks/harder_inputs.py --parts {part}",
                write=not args.no_write, seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
