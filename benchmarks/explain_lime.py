"""LIME's explanations of a bertclf model folder, scored by ERASER's measures (benchmarks/eraser.py)
exactly as benchmarks/explain.py scores bertclf's: LIME's default settings and 1,000 samples, the
model's probabilities from bertclf's runtime. Runs in LIME's own venv (LIME and the bertclf
runtime installed there, never LIME in bertclf's dependencies); prints one JSON line.

    benchmarks/.venv-lime/bin/python benchmarks/explain_lime.py MODEL TEXTS.json LIMIT
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from lime.lime_text import LimeTextExplainer

from bertclf import runtime
from bertclf.classify.explain import word_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eraser import faithfulness  # noqa: E402

SAMPLES = 1000


def main() -> None:
    folder, texts_file, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    texts = json.loads(Path(texts_file).read_text())[:limit]
    model = runtime.Model(folder, progress=False)
    model.warn_cut = False

    def proba(rows: list[str]) -> np.ndarray:
        return model.predict_proba(list(rows))

    labels = proba(texts).argmax(axis=1).tolist()
    explainer = LimeTextExplainer(class_names=[str(c) for c in model.classes_], random_state=0)
    spans, orders, seconds = [], [], []
    for text, label in zip(texts, labels, strict=True):
        found = word_spans(text)
        started = time.perf_counter()
        explanation = explainer.explain_instance(text, proba, labels=(label,),
                                                 num_features=max(1, len(found)), num_samples=SAMPLES)
        seconds.append(time.perf_counter() - started)
        weight = {word: w for word, w in explanation.as_list(label=label)}
        # LIME weighs a word (every occurrence at once); each occurrence gets its word's weight
        scores = [weight.get(text[a:b], weight.get(re.sub(r"\W", "", text[a:b]), 0.0)) for a, b in found]
        spans.append(found)
        orders.append(np.argsort(-np.asarray(scores), kind="stable").tolist())
    result = faithfulness(proba, texts, labels, spans, orders)
    result.update({"texts": len(texts), "ms_per_text": 1000 * float(np.median(seconds))})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
