"""`bertclf serve` under load, beside what a user would otherwise run, in the same run on the
same machine: latency of one-text requests at concurrency 1 (p50/p95/p99), throughput (texts/s)
at concurrency 8 and 32 with one text and with 32 texts per request, the serving process's
memory; beside offline `bertclf predict` of the same texts and a naive server (FastAPI +
``SentenceTransformer.encode`` + scikit-learn ``LogisticRegression``, each request encoded on its
own). The model: frozen MiniLM embeddings + logistic regression on banking77 (77 labels), the
texts: banking77's test set. Writes the "serve-load" section of docs/performance.md ("serve-load-avx2"
on a CPU without VNNI: the encoder's share of each request differs between the two).

    python benchmarks/serve_load.py [--data ../shared/data] [--model FOLDER] [--requests 1500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from http_load import percentiles, post_many
from pydantic import BaseModel
from results_md import PERFORMANCE, cpu_line, isa_section, publish

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BIN = Path(sys.executable).parent


def texts_of(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], port: int, log: Path) -> subprocess.Popen:
    """A server process; returns once it answers /health."""
    import httpx

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} failed: {log.read_text()[-800:]}") from None
            time.sleep(0.2)
    raise RuntimeError(f"{command[:4]} did not start")


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MB of a process."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def process_cpu(pid: int) -> float:
    """CPU seconds a process has used (user + system, every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, path: str, texts: list[str], key: str, requests: int,
            repeats: int = 1, pid: int | None = None) -> dict[str, float]:
    """Each load of the benchmark against one server: latency alone, then throughput (the best
    of ``repeats`` runs: this machine's speed wanders between runs, by a third at times), and
    with ``pid`` the server's CPU milliseconds a request at 32 clients, one text a request."""
    def bodies(count: int, per_request: int):
        for i in range(count):
            chunk = [texts[(i * per_request + k) % len(texts)] for k in range(per_request)]
            yield i, json.dumps({key: chunk}).encode()

    out: dict[str, float] = {}
    asyncio.run(post_many(url, path, bodies(64, 1), 8))  # warm up
    alone = asyncio.run(post_many(url, path, bodies(min(requests, 400), 1), 1))
    assert not alone.errors and all(a.status == 200 for a in alone.answers.values())
    for p, ms in percentiles([a.seconds for a in alone.answers.values()]).items():
        out[f"p{p}"] = ms
    for per_request in (1, 32):
        for clients in (8, 32):
            count = requests if per_request == 1 else max(64, requests // 16)
            for _ in range(repeats):
                cpu = process_cpu(pid) if pid else 0.0
                result = asyncio.run(post_many(url, path, bodies(count, per_request), clients))
                if pid and (per_request, clients) == (1, 32):
                    used = (process_cpu(pid) - cpu) * 1000 / count
                    out["cpu"] = min(out.get("cpu", used), used)
                ok = not result.errors and all(a.status == 200 for a in result.answers.values())
                assert ok, result.errors[:3]
                name = f"{per_request}x{clients}"
                out[name] = max(out.get(name, 0.0), count * per_request / result.seconds)
    return out


class NaiveBody(BaseModel):
    texts: list[str]


def naive_server(port: int, train: Path) -> None:
    """What a user writes first: encode each request's texts, then the classifier; FastAPI runs
    the sync endpoint in its thread pool."""
    import uvicorn
    from fastapi import FastAPI
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    texts, labels = texts_of(train)
    from bertclf.encode.sources import bundled_model_dir

    encoder = SentenceTransformer(str(bundled_model_dir()), device="cpu")  # all-MiniLM-L6-v2, offline
    head = LogisticRegression(max_iter=1000).fit(encoder.encode(texts[:3000], batch_size=64), labels[:3000])
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(body: NaiveBody) -> dict[str, list[dict[str, float]]]:
        proba = head.predict_proba(encoder.encode(body.texts))
        return {"predictions": [dict(zip(head.classes_, map(float, row), strict=True)) for row in proba]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def offline(model: Path, texts: list[str], work: Path, repeats: int) -> tuple[float, float, float]:
    """(texts/s of `bertclf predict` as a whole process, texts/s of the runtime in a process,
    the runtime's CPU milliseconds a text), each the best of ``repeats`` runs."""
    from bertclf import runtime

    source = work / "texts.txt"
    source.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
    loaded = runtime.load(model, progress=False)
    loaded.predict_proba(texts[:64])
    cli = engine = 0.0
    cpu = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([str(BIN / "bertclf"), "predict", str(model), str(source), "--out",
                        str(work / "out.csv")], check=True, capture_output=True)
        cli = max(cli, len(texts) / (time.perf_counter() - began))
        began, used = time.perf_counter(), process_cpu(os.getpid())
        loaded.predict_proba(texts)
        engine = max(engine, len(texts) / (time.perf_counter() - began))
        cpu = min(cpu, (process_cpu(os.getpid()) - used) * 1000 / len(texts))
    return cli, engine, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", type=Path, default=None, help="a frozen banking77 model (else trained)")
    parser.add_argument("--requests", type=int, default=1500, help="one-text requests per throughput load")
    parser.add_argument("--repeats", type=int, default=3, help="offline and bertclf serve: best of N")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--naive", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    train = args.data / "banking77" / "train.csv"
    if args.naive is not None:
        naive_server(args.naive, train)
        return
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bertclf-serve-load-"))
    model = args.model
    if model is None:
        model = work / "banking77"
        subprocess.run([str(BIN / "bertclf"), "train", str(train), "--out", str(model),
                        "--features", "embedding", "-q"], check=True)
    texts, _ = texts_of(args.data / "banking77" / "test.csv")
    cli, engine, cpu = offline(model, texts, work, args.repeats)
    rows = {}
    port = free_port()
    server = start([str(BIN / "bertclf"), "serve", str(model), "--port", str(port)], port, work / "serve.log")
    try:
        row = rows["bertclf serve"] = measure(f"http://127.0.0.1:{port}", "/v1/predict", texts, "texts",
                                              args.requests, args.repeats, server.pid)
        row["rss"], row["peak"] = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(60)
    again = offline(model, texts, work, args.repeats)
    cli, engine, cpu = max(cli, again[0]), max(engine, again[1]), min(cpu, again[2])
    port = free_port()
    naive = start([sys.executable, __file__, "--data", str(args.data), "--naive", str(port)], port,
                  work / "naive.log")
    try:
        row = rows["naive FastAPI + sentence-transformers"] = measure(f"http://127.0.0.1:{port}", "/predict",
                                                                      texts, "texts", args.requests)
        row["rss"], row["peak"] = rss_mb(naive.pid)
    finally:
        naive.terminate()
        naive.wait(60)
    ours, theirs = rows["bertclf serve"], rows["naive FastAPI + sentence-transformers"]
    section, on = isa_section("serve-load")
    lines = [f"### Serving under load: `bertclf serve`{on}", "",
             f"{cpu_line()}; best of {args.repeats} runs for bertclf, of {2 * args.repeats} for offline "
             f"(before and after the server: this machine's speed drifts), one for the naive server; "
             f"{len(texts):,} banking77 test texts (short: questions to a bank), a frozen "
             f"MiniLM + logistic regression model (77 labels); clients on the same machine "
             f"(benchmarks/http_load.py, keep-alive connections).", "",
             "| server | p50 / p95 / p99 ms, 1 text, 1 client | texts/s, 1 text a request, 8 / 32 clients "
             "| texts/s, 32 texts a request, 8 / 32 clients | RSS / peak MB |",
             "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['p50']:.1f} / {r['p95']:.1f} / {r['p99']:.1f} | {r['1x8']:.0f} / "
                     f"{r['1x32']:.0f} | {r['32x8']:.0f} / {r['32x32']:.0f} | "
                     f"{r['rss']:.0f} / {r['peak']:.0f} |")
    lines += ["", f"Offline, same texts: `bertclf predict` (whole process) {cli:.0f} texts/s; the runtime "
              f"inside a process (`Model.predict_proba`) {engine:.0f} texts/s.", "",
              f"- At 32 clients with one text a request, bertclf serve gives {ours['1x32'] / engine:.0%} "
              f"of the runtime's offline throughput ({ours['1x32'] / cli:.0%} of `bertclf predict`'s) and "
              f"{ours['1x32'] / theirs['1x32']:.1f}x the naive server's. The server spent "
              f"{ours['cpu']:.2f} ms of CPU a request there, the runtime offline {cpu:.2f} ms a text: "
              f"the rest is HTTP (uvloop, httptools, the kernel's loopback), FastAPI and the "
              f"answer's JSON.",
              f"- With 32 texts a request: {ours['32x32'] / engine:.0%} of offline, "
              f"{ours['32x32'] / theirs['32x32']:.1f}x the naive server."]
    publish(section, "\n".join(lines), "python benchmarks/serve_load.py", not args.no_write,
            time.perf_counter() - began, PERFORMANCE)


if __name__ == "__main__":
    main()
