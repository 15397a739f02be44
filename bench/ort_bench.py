#!/usr/bin/env python3
"""Raw Python onnxruntime throughput on the bench texts, doing the same work as songmatch.

Timed: tokenising, padding each batch of --batch to its longest text, session.run with
--threads intra-op threads, mean pooling and L2, over all texts; --runs runs after one
warm-up run.  Batches are taken in input order (the headline), and once more longest
first, as songmatch plans them (for information).  Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from embedder import Embedder


def vmrss_kb() -> int | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def timed_runs(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="raw onnxruntime texts/s, tokenising and pooling included")
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    texts = [l.rstrip("\n") for l in open(args.texts, encoding="utf-8") if l.strip()]
    # For comparison with the backend's numbers: cold start (session creation + first embed)
    # and resident-memory growth over the first 64 texts, in this Python process.
    rss0 = vmrss_kb()
    t0 = time.perf_counter()
    emb = Embedder(args.model_dir, threads=args.threads)
    emb.embed(["hello"])
    first_ms = (time.perf_counter() - t0) * 1000
    emb.embed_all(texts[:64], args.batch)
    rss1 = vmrss_kb()
    emb.embed_all(texts, args.batch)  # warm-up: first runs allocate and tune
    plain = timed_runs(lambda: emb.embed_all(texts, args.batch), args.runs)
    srt = timed_runs(lambda: emb.embed_all(texts, args.batch, sort_by_length=True), args.runs)
    n = len(texts)
    print(json.dumps({
        "ort_texts_per_s": round(n / min(plain), 1),
        "ort_texts_per_s_median": round(n / statistics.median(plain), 1),
        "ort_sorted_texts_per_s": round(n / min(srt), 1),
        "ort_runs_s": [round(x, 4) for x in plain],
        "n_texts": n,
        "mean_tokens": round(sum(emb.token_counts(texts)) / n, 1),
        "ort_first_call_ms": round(first_ms, 1),
        "ort_rss_growth_mb": round((rss1 - rss0) / 1024, 1) if rss0 and rss1 else None,
        "threads": args.threads,
        "batch": args.batch,
    }))


if __name__ == "__main__":
    main()
