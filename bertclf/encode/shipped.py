"""An encoder that travels inside a model folder: its ONNX graph and its ``tokenizer.json``, run
with ONNX Runtime and the tokenizers library alone (no torch, no transformers).

``ShippedEncoder`` is a model-folder part (see ``io.part_files``): ``onnx_export.ship`` takes the
very graph the Embedder ran while training (from the ONNX cache) and the tokenizer's own JSON;
the runtime reads them back, checksummed with every other file. Pooling, layers and the long-text
strategy are stored resolved, so the folder needs nothing of the model it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bertclf.encode import rowwise
from bertclf.encode.pipeline import Settings
from bertclf.encode.tokenization import LongSpec

GRAPH_FILE, TOKENIZER_FILE = "encoder.onnx", "tokenizer.json"
# Lists up to this long are tokenized in the calling thread. encode_batch wakes the tokenizers'
# thread pool: 24 us for one text on an idle machine, but 0.26 ms in a busy server, whose cores
# are all taken (measured with benchmarks/serve_load.py).
SMALL_BATCH = 8
QUANTIZATION = {"onnx-int8": "int8", "onnx": "fp32"}  # backend -> graph shipped


class _Encoding:
    """One tokenized text or pair, as transformers' BatchEncoding shows it to ``tokenization``."""

    def __init__(self, encoding: Any) -> None:
        self.encoding = encoding
        self.data = {"input_ids": list(encoding.ids), "token_type_ids": list(encoding.type_ids)}

    def __getitem__(self, key: str) -> list[int]:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def sequence_ids(self, index: int = 0) -> list[int | None]:
        return list(self.encoding.sequence_ids)


class ShippedTokenizer:
    """What ``tokenization`` and the long-text guide ask of a transformers fast tokenizer, served
    by ``tokenizers.Tokenizer`` from the shipped JSON (the same Rust code transformers calls)."""

    def __init__(self, json_text: str, pad_token_id: int, model_input_names: list[str]) -> None:
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_str(json_text)
        self.backend.no_truncation()  # a saved tokenizer may carry the settings of its last call
        self.backend.no_padding()
        self.pad_token_id = pad_token_id
        self.model_input_names = list(model_input_names)

    def __call__(self, text: Any, pair: str | None = None, add_special_tokens: bool = True,
                 **ignored: Any) -> Any:
        if isinstance(text, (list, tuple)):
            if len(text) <= SMALL_BATCH:  # in this thread: no hand-off to the tokenizers' thread pool
                rows = [self.backend.encode(t, add_special_tokens=add_special_tokens) for t in text]
                return {"input_ids": [row.ids for row in rows]}
            rows = self.backend.encode_batch(list(text), add_special_tokens=add_special_tokens)
            return {"input_ids": [row.ids for row in rows]}
        return _Encoding(self.backend.encode(text, pair, add_special_tokens=add_special_tokens))


class ShippedEncoder:
    """The graph, the tokenizer and the resolved embedding settings of one model folder."""

    def __init__(self, settings: dict[str, Any], graph: bytes | Path, tokenizer_json: bytes,
                 threads: int | None = None) -> None:
        self.meta = settings
        self.graph = graph  # bytes, or the verified file (the runtime lets ONNX Runtime map it)
        self.tokenizer_json = tokenizer_json
        self.threads = threads
        self.name = {v: k for k, v in QUANTIZATION.items()}[settings["quantization"]]
        self._session: Any = None
        self._tokenizer: ShippedTokenizer | None = None

    def settings(self) -> Settings:
        m = self.meta
        return Settings(None, m["pooling"], tuple(m["layers"]), m["layer_agg"], int(m["max_length"]),
                        bool(m["normalize"]), int(m["num_layers"]), int(m["hidden_size"]),
                        LongSpec(**m["long"]))

    @property
    def tokenizer(self) -> ShippedTokenizer:
        if self._tokenizer is None:
            self._tokenizer = ShippedTokenizer(self.tokenizer_json.decode("utf-8"),
                                               int(self.meta["pad_token_id"]), self.meta["model_input_names"])
        return self._tokenizer

    def session(self) -> Any:
        """The ONNX Runtime session, made on first use (a TF-IDF-only prediction never pays it)."""
        if self._session is None:
            # From the file when there is one: ONNX Runtime maps it, 40% faster than parsing bytes.
            # int8 runs one thread per call, calls side by side (encode.rowwise).
            self._session = rowwise.make_session(self.graph, 1 if self.rowwise else self.threads)
            self.inputs = [i.name for i in self._session.get_inputs()]
        return self._session

    @property
    def rowwise(self) -> bool:
        return self.meta["quantization"] == "int8"

    def hidden_states(self, batch: dict[str, np.ndarray], layers: Any) -> list[np.ndarray]:
        session = self.session()
        if self.rowwise:
            return rowwise.hidden_states(session, self.inputs, batch, layers,
                                         self.threads or rowwise.default_workers())
        return rowwise.batched_states(session, self.inputs, batch, layers)

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        graph = self.graph.read_bytes() if isinstance(self.graph, Path) else self.graph
        return dict(self.meta), {GRAPH_FILE: graph, TOKENIZER_FILE: self.tokenizer_json}

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> ShippedEncoder:
        if settings.get("quantization") not in QUANTIZATION.values():
            raise ValueError(f"unknown encoder quantization {settings.get('quantization')!r}")
        return cls(settings, files[GRAPH_FILE], files[TOKENIZER_FILE])
