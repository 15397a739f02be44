#!/usr/bin/env python3
"""songmatch measured in PostgreSQL, through psycopg.  Prints one JSON line.

  embed_texts_per_s  one `select count(*) from songmatch.embed_batch($texts)` over all texts,
                     in a backend warmed up by the same call; best (and median) of --runs
  first_call_ms      `select songmatch.embed('hello')` as the first statement of a fresh
                     backend (connect first, time only the statement); median of --fresh
  backend_rss_mb     VmRSS growth of a fresh backend (/proc/<pg_backend_pid()>/status) from
                     before its first embed to after embed_batch over --rss-texts texts
  parity             max |songmatch - Python pipeline| over a few texts (same work check)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import psycopg


def connect(dsn: str, threads: int, batch: int) -> psycopg.Connection:
    # in-backend inference, one thread: the comparison with raw onnxruntime these rows have always made
    # (the inference service is measured by bench/service_bench.py)
    opts = f"-c songmatch.inference=backend -c songmatch.intra_op_threads={threads} -c songmatch.max_batch_texts={batch}"
    return psycopg.connect(dsn, autocommit=True, options=opts)


def rss_kb(pid: int) -> dict[str, int] | None:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None  # server on another host, or not readable by this user
    out = {}
    for line in lines:
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
            out[k] = int(v.split()[0])
    return out


def parse_vector(s: str) -> np.ndarray:
    return np.array([float(x) for x in s.strip("[]").split(",")], dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description="songmatch in SQL: throughput, first call, backend RSS")
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fresh", type=int, default=3)
    ap.add_argument("--rss-texts", type=int, default=64)
    ap.add_argument("--model-dir", help="also check parity with the Python pipeline (embedder.py)")
    args = ap.parse_args()

    texts = [l.rstrip("\n") for l in open(args.texts, encoding="utf-8") if l.strip()]
    res: dict = {"n_texts": len(texts)}

    with connect(args.dsn, args.threads, args.batch) as c:
        c.execute("create extension if not exists songmatch cascade")

    # 1. throughput in a warm backend
    q = "select count(*) from songmatch.embed_batch(%s::text[])"
    with connect(args.dsn, args.threads, args.batch) as c:
        if c.execute(q, (texts,)).fetchone()[0] != len(texts):  # warm-up, same call
            raise SystemExit("pg_bench: embed_batch returned the wrong number of rows")
        res["settings"] = dict(c.execute(  # as the extension sees them, once loaded
            "select name, setting from pg_settings where name in "
            "('songmatch.intra_op_threads', 'songmatch.max_batch_texts', 'songmatch.max_batch_tokens')"
        ).fetchall())
        runs = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            c.execute(q, (texts,)).fetchone()
            runs.append(time.perf_counter() - t0)
        res["embed_texts_per_s"] = round(len(texts) / min(runs), 1)
        res["embed_texts_per_s_median"] = round(len(texts) / statistics.median(runs), 1)
        res["embed_runs_s"] = [round(x, 4) for x in runs]

        if args.model_dir:  # same work as the Python pipeline?
            from embedder import Embedder
            sample = texts[:8]
            rows = c.execute("select ord, embedding::text from songmatch.embed_batch(%s::text[]) order by ord",
                             (sample,)).fetchall()
            ords = [r[0] for r in rows]
            base = min(ords)  # ord may count from 0 or 1
            pg = np.stack([parse_vector(r[1]) for r in sorted(rows)])
            py = Embedder(args.model_dir, threads=1).embed_all(sample, args.batch)
            if len(rows) != len(sample) or base not in (0, 1):
                raise SystemExit(f"pg_bench: unexpected ord values {ords}")
            res["parity_max_abs_diff"] = float(np.abs(pg - py).max())
            res["parity_min_cosine"] = float((pg * py).sum(axis=1).min())

    # 2. first call in fresh backends
    firsts = []
    for _ in range(args.fresh):
        with connect(args.dsn, args.threads, args.batch) as c:
            t0 = time.perf_counter()
            c.execute("select songmatch.embed('hello')").fetchone()
            firsts.append((time.perf_counter() - t0) * 1000)
    res["first_call_ms"] = round(statistics.median(firsts), 1)
    res["first_call_runs_ms"] = [round(x, 1) for x in firsts]

    # 3. backend memory growth
    with connect(args.dsn, args.threads, args.batch) as c:
        pid = c.execute("select pg_backend_pid()").fetchone()[0]
        before = rss_kb(pid)
        n = c.execute(q, (texts[:args.rss_texts],)).fetchone()[0]
        after = rss_kb(pid)
    res["rss_texts"] = n
    if before and after:
        res["backend_rss_mb"] = round((after["VmRSS"] - before["VmRSS"]) / 1024, 1)
        res["rss_before_mb"] = round(before["VmRSS"] / 1024, 1)
        res["rss_after_mb"] = round(after["VmRSS"] / 1024, 1)
        res["rss_anon_growth_mb"] = round((after.get("RssAnon", 0) - before.get("RssAnon", 0)) / 1024, 1)
        res["rss_file_growth_mb"] = round((after.get("RssFile", 0) - before.get("RssFile", 0)) / 1024, 1)
    else:
        res["backend_rss_mb"] = None
    print(json.dumps(res))


if __name__ == "__main__":
    main()
