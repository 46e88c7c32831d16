"""CTranslate2's int8 encoder on the bundled MiniLM, for benchmarks/embed_speed.py (issue 44): runs
in CTranslate2's own venv, never with bertclf's dependencies. Its vectors are the encoder's last
hidden states, mean-pooled over the attention mask and normalised, as bertclf's default; texts go
in batches of 32 (sentence-transformers' default; other sizes not measured), every core one
CTranslate2 thread.

    python3 -m venv benchmarks/.venv-ct2 && cd benchmarks/.venv-ct2/bin
    ./pip install torch==2.13.0 && ./pip install ctranslate2 transformers  # torch: for the converter

embed_speed.py --ct2 benchmarks/.venv-ct2/bin/python runs it as

    python ct2_worker.py convert MODEL_DIR OUT_DIR
    python ct2_worker.py run MODEL_DIR CT2_DIR TEXTS.json REPEATS VECTORS.npy
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # start-up counts imports too, as in embed_speed.py's workers

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

BATCH = 32


def convert(model_dir: str, out_dir: str) -> None:
    """The Hugging Face folder as a CTranslate2 model with int8 weights."""
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(model_dir).convert(out_dir, quantization="int8", force=True)


def run(model_dir: str, ct2_dir: str, texts_file: str, repeats: int, vectors_out: str) -> dict:
    import ctranslate2
    import numpy as np
    from tokenizers import Tokenizer

    texts = json.loads(open(texts_file, encoding="utf-8").read())
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.no_padding()  # the bundled tokenizer.json pads to 128: CTranslate2 pads each batch itself
    tokenizer.enable_truncation(256)
    encoder = ctranslate2.Encoder(ct2_dir, device="cpu", compute_type="int8",
                                  intra_threads=os.cpu_count() or 1)

    def embed(items: list[str]) -> np.ndarray:
        out = []
        for i in range(0, len(items), BATCH):
            ids = [e.ids for e in tokenizer.encode_batch(items[i:i + BATCH])]
            hidden = np.asarray(encoder.forward_batch(ids).last_hidden_state)  # padded to the longest
            mask = np.zeros(hidden.shape[:2], dtype=np.float32)
            for row, seq in enumerate(ids):
                mask[row, :len(seq)] = 1.0
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.concatenate(out)

    from embed_speed import best_of  # standard library only at its top: it imports in this venv

    vectors, result = best_of(embed, texts, repeats, STARTED)
    np.save(vectors_out, vectors.astype(np.float32))
    return result


if __name__ == "__main__":
    if sys.argv[1] == "convert":
        convert(*sys.argv[2:4])
    else:
        model, ct2, texts, repeats, vectors = sys.argv[2:7]
        print(json.dumps(run(model, ct2, texts, int(repeats), vectors)))
