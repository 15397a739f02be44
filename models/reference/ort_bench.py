#!/usr/bin/env python3
"""Raw onnxruntime throughput of an installed embedding model (texts per second).

    target/venv-ref/bin/python models/reference/ort_bench.py \
        --model-dir target/models/all-minilm-l6-v2-int8 --threads 1 --batch 32 --n 1024

Tokenises once up front (not timed), pads each batch to its longest text, runs
the graph with intra_op_num_threads=N and graph optimisation "all", and prints
one JSON line: {"ort_texts_per_s": ..., "threads": N, "batch": B, "n": n, ...}.
Only the session.run calls are timed (no tokenising, pooling or I/O), after one
warm-up batch.  Default texts are song descriptions of about 16 tokens.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

DEFAULT_TEXTS = [
    "A melancholic acoustic ballad about leaving home on a rainy autumn night",
    "Upbeat synth pop with a driving beat and bright female vocals for summer",
    "Dark brooding techno with industrial percussion and a rolling bass line",
    "Lo-fi hip hop beats with vinyl crackle to study and relax to at night",
    "A slow jazz standard with brushed drums, upright bass and a muted trumpet",
    "Energetic punk rock anthem with shouted choruses and fast distorted guitars",
    "Soft piano lullaby that slowly builds into a warm string arrangement",
    "Country song about a pickup truck, a dusty road and a long lost love",
]


def main() -> None:
    ap = argparse.ArgumentParser(description="raw onnxruntime texts/s")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n", type=int, default=1024, help="texts to run (timed)")
    ap.add_argument("--texts-file", help="one text per line (default: built-in song descriptions)")
    args = ap.parse_args()

    model_dir = Path(args.model_dir)
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    tok = Tokenizer.from_file(str(model_dir / manifest["files"]["tokenizer"]["path"]))
    tok.no_padding()
    tok.enable_truncation(max_length=int(manifest["max_tokens"]))
    if args.texts_file:
        texts = [l.rstrip("\n") for l in open(args.texts_file, encoding="utf-8") if l.strip()]
    else:
        texts = DEFAULT_TEXTS
    texts = [texts[i % len(texts)] for i in range(args.n)]
    encs = tok.encode_batch(texts)

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(model_dir / manifest["files"]["model"]["path"]), so,
                                providers=["CPUExecutionProvider"])
    names = manifest["inputs"]

    feeds = []
    for i in range(0, len(encs), args.batch):
        chunk = encs[i:i + args.batch]
        width = max(len(e.ids) for e in chunk)
        ids = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, e in enumerate(chunk):
            ids[r, :len(e.ids)] = e.ids
            mask[r, :len(e.ids)] = 1
        feed = {names["input_ids"]: ids, names["attention_mask"]: mask}
        if "token_type_ids" in names:
            feed[names["token_type_ids"]] = np.zeros_like(ids)
        feeds.append(feed)

    out = [manifest["output"]]
    sess.run(out, feeds[0])  # warm-up
    t0 = time.perf_counter()
    for feed in feeds:
        sess.run(out, feed)
    dt = time.perf_counter() - t0
    mean_tokens = float(np.mean([len(e.ids) for e in encs]))
    print(json.dumps({
        "ort_texts_per_s": round(len(texts) / dt, 1),
        "threads": args.threads,
        "batch": args.batch,
        "n": len(texts),
        "mean_tokens": round(mean_tokens, 1),
        "seconds": round(dt, 3),
        "model": manifest["id"],
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
