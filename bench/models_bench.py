#!/usr/bin/env python3
"""Emotions and reranking: songmatch in SQL against raw Python onnxruntime on the same model and
the same texts, measured in the same run (runs interleaved: songmatch, Python, songmatch, ...;
best of --runs after one warm-up of each).  Prints one JSON line.

  emotions_per_s        `select count(*) from songmatch.emotions_batch($texts)` with the default
                        bundle's emotion model (an embedding-head: MiniLM embeddings, MLP head,
                        sigmoid); Python: models_ref.EmotionHead, the same two steps
  rerank_pairs_per_s    `select count(*) from songmatch.rerank($query, $docs, model => 'fixture-qwen3-reranker')`
                        (songmatch.model_dir = the installed fixtures); Python: models_ref.CausalLmReranker
  cross_encoder_pairs_per_s   the same with 'fixture-cross-encoder'; Python: models_ref.CrossEncoder
  *_max_abs_diff        songmatch's probabilities / scores against Python's on the same inputs

The rerankers are tiny random-weight fixtures: they measure songmatch's per-pair overhead
(prompt building, tokenising, batching, SQL), not a real reranker's speed.  The bench works in a
database of its own (--db), created and dropped here.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from models_ref import CausalLmReranker, CrossEncoder, EmotionHead

QUERY = "an upbeat summer song with bright vocals for a road trip with friends"
QWEN = "fixture-qwen3-reranker"
CROSS = "fixture-cross-encoder"


def log(msg: str) -> None:
    print(f"    {msg}", file=sys.stderr, flush=True)


def connect(dsn: str, threads: int, batch: int, model_dir: str | None = None) -> psycopg.Connection:
    # in-backend inference, one thread: the comparison with raw onnxruntime these rows have always made
    # (the inference service is measured by bench/service_bench.py)
    opts = f"-c songmatch.inference=backend -c songmatch.intra_op_threads={threads} -c songmatch.max_batch_texts={batch}"
    if model_dir:
        opts += f" -c songmatch.model_dir={model_dir}"
    return psycopg.connect(dsn, autocommit=True, options=opts)


def interleaved(pg_fn, py_fn, runs: int) -> tuple[list[float], list[float]]:
    """One warm-up of each, then `runs` rounds of (songmatch, Python); seconds per run."""
    pg_fn()
    py_fn()
    pg, py = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        pg_fn()
        pg.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        py_fn()
        py.append(time.perf_counter() - t0)
    return pg, py


def rates(prefix: str, ratio_key: str, n: int, pg: list[float], py: list[float], res: dict, unit: str) -> None:
    res[f"{prefix}_per_s"] = round(n / min(pg), 1)
    res[f"ort_{prefix}_per_s"] = round(n / min(py), 1)
    res[f"{prefix}_per_s_median"] = round(n / statistics.median(pg), 1)
    res[f"ort_{prefix}_per_s_median"] = round(n / statistics.median(py), 1)
    res[f"{prefix}_runs_s"] = [round(x, 4) for x in pg]
    res[f"ort_{prefix}_runs_s"] = [round(x, 4) for x in py]
    res[ratio_key] = round(res[f"{prefix}_per_s"] / res[f"ort_{prefix}_per_s"], 3)
    log(f"{prefix}: songmatch {res[f'{prefix}_per_s']} {unit}/s, Python onnxruntime {res[f'ort_{prefix}_per_s']} {unit}/s")


def bench_emotions(c: psycopg.Connection, texts: list[str], models_dir: Path, threads: int, batch: int,
                   runs: int, res: dict) -> None:
    head_id = c.execute("select emotion_model from songmatch.model_bundles where is_active").fetchone()
    head_id = head_id[0] if head_id and head_id[0] else "minilm-goemotions-head"
    head_dir = models_dir / head_id
    base = json.loads((head_dir / "manifest.json").read_text())["base_model"]
    py = EmotionHead(head_dir, models_dir / base, threads=threads)
    q = "select count(*) from songmatch.emotions_batch(%s::text[])"

    def pg_run():
        if c.execute(q, (texts,)).fetchone()[0] != len(texts):
            raise SystemExit("models_bench: emotions_batch returned the wrong number of rows")

    pg, pyr = interleaved(pg_run, lambda: py.probabilities(texts, batch), runs)
    rates("emotions", "emotions_vs_ort", len(texts), pg, pyr, res, "texts")
    # same work: songmatch's 28 probabilities (rounded to 6 decimals in its JSON) vs Python's
    labels = py.manifest["labels"]
    rows = c.execute("select ord, emotions -> 'labels' from songmatch.emotions_batch(%s::text[]) order by ord",
                     (texts,)).fetchall()
    sm = np.array([[r[1][l] for l in labels] for r in rows], dtype=np.float64)
    res["emotions_max_abs_diff"] = float(np.abs(sm - py.probabilities(texts, batch).astype(np.float64)).max())
    res["emotion_model"] = f"{head_id} over {base}"


def bench_reranker(c: psycopg.Connection, model: str, py, key: str, ratio_key: str, docs: list[str], batch: int, runs: int,
                   res: dict) -> None:
    q = "select count(*) from songmatch.rerank(%s, %s::text[], model => %s)"

    def pg_run():
        if c.execute(q, (QUERY, docs, model)).fetchone()[0] != len(docs):
            raise SystemExit(f"models_bench: rerank with {model} returned the wrong number of rows")

    pg, pyr = interleaved(pg_run, lambda: py.scores(QUERY, docs, max_texts=batch), runs)
    rates(key, ratio_key, len(docs), pg, pyr, res, "pairs")
    rows = c.execute("select index, score from songmatch.rerank(%s, %s::text[], model => %s)",
                     (QUERY, docs, model)).fetchall()
    sm = np.full(len(docs), np.nan)
    for i, s in rows:
        sm[i - 1] = s
    pys = py.scores(QUERY, docs, max_texts=batch).astype(np.float64)
    res[f"{key}_max_abs_diff"] = float(np.abs(sm - pys).max())


def main() -> None:
    ap = argparse.ArgumentParser(description="emotions and rerankers: songmatch vs raw onnxruntime")
    ap.add_argument("--dsn", required=True, help="any database of the server; the bench creates its own")
    ap.add_argument("--db", default="songmatch_bench_models")
    ap.add_argument("--texts", required=True)
    ap.add_argument("--models-dir", required=True, help="the installed model directory (songmatch.model_dir default)")
    ap.add_argument("--fixtures-dir", required=True, help="the installed fixture models")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()
    texts = [l.rstrip("\n") for l in open(args.texts, encoding="utf-8") if l.strip()]
    models_dir, fixtures_dir = Path(args.models_dir), Path(args.fixtures_dir)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the database is dropped
    res: dict = {"n_texts": len(texts), "rerank_query": QUERY}
    with psycopg.connect(args.dsn, autocommit=True) as a:
        a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
        a.execute(sql.SQL("create database {}").format(sql.Identifier(args.db)))
        # the background refresher stays off: these measure their own calls
        a.execute(sql.SQL("alter database {} set songmatch.auto_refresh = off").format(sql.Identifier(args.db)))
    dsn = make_conninfo(args.dsn, dbname=args.db)
    try:
        with connect(dsn, args.threads, args.batch) as c:
            c.execute("create extension songmatch cascade")
            if c.execute("select count(*) from songmatch.model_bundles where is_active").fetchone()[0] == 0:
                c.execute("select songmatch.register_bundle('default', true)")
        with connect(dsn, args.threads, args.batch) as c:
            bench_emotions(c, texts, models_dir, args.threads, args.batch, args.runs, res)
        with connect(dsn, args.threads, args.batch, model_dir=str(fixtures_dir)) as c:
            qwen = CausalLmReranker(fixtures_dir / QWEN, threads=args.threads)
            bench_reranker(c, QWEN, qwen, "rerank_pairs", "rerank_vs_ort", texts, args.batch, args.runs, res)
            lens = [len(qwen.prompt_ids(QUERY, d)) for d in texts]
            res["rerank_mean_prompt_tokens"] = round(sum(lens) / len(lens), 1)
            cross = CrossEncoder(fixtures_dir / CROSS, threads=args.threads)
            bench_reranker(c, CROSS, cross, "cross_encoder_pairs", "cross_encoder_vs_ort", texts, args.batch, args.runs, res)
            lens = [len(cross.tok.encode(QUERY, d).ids) for d in texts]
            res["cross_encoder_mean_tokens"] = round(sum(lens) / len(lens), 1)
    finally:
        if not args.keep_db:
            with psycopg.connect(args.dsn, autocommit=True) as a:
                a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
