#!/usr/bin/env python3
"""Backfill throughput: `CALL songmatch.backfill('embeddings', batch_size => ...)` over a catalogue of
--n song-like tracks (rows and analyses generated in SQL, in a database of its own, created and
dropped here), against raw Python onnxruntime's batch throughput on the same documents
(`songmatch.track_document(to_jsonb(t), a.analysis)`, embedded by bench/embedder.py in batches of
--ort-batch in track id order).  Prints one JSON line.

  backfill_items_per_s      items / wall time of the CALL (a warmed backend: the model session is
                            loaded before the CALL); songmatch.backfill_status's own items/s too
  ort_backfill_texts_per_s  texts / time of Embedder.embed_all over all the documents (tokenising,
                            padding, inference, pooling; the documents are read beforehand)
  backfill_vs_ort           the ratio (goal >= 0.9)

The backfill does more than inference (DB reads, canonical documents, content hashes, upserts of
the vectors, job bookkeeping, a COMMIT per batch): that is what the ratio measures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from embedder import Embedder

# Word lists for the fictional catalogue (the same flavour as bench/match_data.py).
ADJ = ["Paper", "Silver", "Broken", "Golden", "Quiet", "Electric", "Velvet", "Hollow", "Crimson", "Midnight",
       "Neon", "Salt", "Copper", "Glass", "Wild", "Lonely", "Endless", "Faded", "Northern", "Burning",
       "Secret", "Sunday", "Slow", "Heavy", "Little", "Distant", "Tender", "Restless"]
NOUN = ["Boats", "Lanterns", "Highway", "Heartbeat", "Windows", "Rivers", "Engines", "Echoes", "Streetlights",
        "Harbour", "Satellites", "Summer", "Letters", "Mirrors", "Horizon", "Orchard", "Static", "Tides",
        "Wolves", "Radio", "Kingdom", "Postcards", "Thunder", "Fireflies", "Compass", "Garden", "Signals"]
FIRST = ["Maren", "Tobias", "Ingrid", "Felix", "Clara", "Juniper", "Wren", "Otto", "Sunniva", "Ravi",
         "Lena", "Marcus", "Noor", "Elio", "Hana", "Dario", "Ada", "Kofi", "Mila", "Soren"]
LAST = ["Oakhollow", "Fenwright", "Sallow", "Marrowby", "Wendeburg", "Vane", "Halloway", "Brask",
        "Rook", "Delacroix", "Kettleman", "Stone", "Osaragi", "Farrow", "Quell", "Lindqvist"]
GENRES = ["indie folk", "edm", "lo-fi hip hop", "jazz", "rock", "soul", "disco", "ambient", "synth pop",
          "country", "punk", "r&b", "techno", "blues", "reggae", "metal"]
MOODS = ["melancholic", "calm", "wistful", "energetic", "aggressive", "mellow", "dreamy", "relaxed", "warm",
         "playful", "euphoric", "nostalgic", "sad", "tender", "joyful", "groovy", "serene", "hypnotic"]
THEMES = ["rain", "home", "memories", "strength", "night", "study", "city lights", "morning", "friends",
          "driving", "summer", "freedom", "a broken heart", "loss", "dancing", "romance", "focus", "the ocean"]
INSTR = ["fingerpicked guitar", "a cello", "a hushed voice", "a distorted bass drop", "pounding drums",
         "a dusty drum loop", "electric piano", "a piano trio", "brushed drums", "jangling guitars",
         "a string section", "a lonely saxophone", "a slap bass", "analog synth pads", "field recordings"]
VERBS = ["remembers", "chases", "mourns", "celebrates", "drifts through", "waits for", "dreams of",
         "runs from", "sings about", "dances around"]


def arr(words: list[str]) -> sql.Composable:
    return sql.SQL("array[{}]::text[]").format(sql.SQL(", ").join(sql.Literal(w) for w in words))


def pick(name: str, k: int) -> sql.Composable:
    """A deterministic pseudo-random element of the word array `name` for row g (salt k)."""
    return sql.SQL("{n}[1 + (abs(hashint8(g * 64 + {k})) % cardinality({n}))]").format(n=sql.Identifier(name), k=sql.Literal(k))


def unit(k: int) -> sql.Composable:
    """A deterministic number in [0, 1) with 3 decimals for row g (salt k)."""
    return sql.SQL("(abs(hashint8(g * 64 + {k})) % 1000) / 1000.0").format(k=sql.Literal(k))


def load_catalogue(c: psycopg.Connection, n: int, offset: int = 0) -> None:
    words = sql.SQL(", ").join(sql.SQL("{} as {}").format(arr(w), sql.Identifier(nm)) for nm, w in
                               [("adj", ADJ), ("noun", NOUN), ("first", FIRST), ("last", LAST), ("genres", GENRES),
                                ("moods", MOODS), ("themes", THEMES), ("instr", INSTR), ("verbs", VERBS)])
    c.execute(sql.SQL("""
        insert into songmatch.tracks (id, external_id, name, artist, album, release_date, popularity, duration_ms)
        select g, 'bench:backfill:' || g,
               {a1} || ' ' || {n1} || case when g % 5 = 0 then ' (Live)' else '' end,
               case when g % 2 = 0 then {f} || ' ' || {l} else 'The ' || {a2} || ' ' || {n2} end,
               {a3} || ' ' || {n3},
               (1965 + abs(hashint8(g * 64 + 10)) % 60)::text,
               (abs(hashint8(g * 64 + 11)) % 100)::int,
               (120000 + abs(hashint8(g * 64 + 12)) % 210000)::int
          from (select {words}) w, generate_series({o} + 1, {o} + {n}) g
    """).format(a1=pick("adj", 1), n1=pick("noun", 2), f=pick("first", 3), l=pick("last", 4), a2=pick("adj", 5),
                n2=pick("noun", 6), a3=pick("adj", 7), n3=pick("noun", 8), words=words, n=sql.Literal(n), o=sql.Literal(offset)))
    c.execute(sql.SQL("""
        insert into songmatch.track_analyses (track_id, analysis)
        select g, jsonb_build_object(
                   'summary', format('A %s %s song with %s; the singer %s %s.', {m1}, {g1}, {i1}, {v}, {t1}),
                   'moods', jsonb_build_array({m1}, {m2}),
                   'themes', jsonb_build_array({t1}, {t2}),
                   'genres', jsonb_build_object('primary', {g1}, 'secondary', jsonb_build_array({g2})),
                   'language', 'en',
                   'audio', jsonb_build_object(
                       'danceability', {u1}, 'energy', {u2}, 'valence', {u3}, 'acousticness', {u4},
                       'instrumentalness', {u5} / 4, 'speechiness', {u6} / 10, 'liveness', {u7} / 3,
                       'tempo', 60 + abs(hashint8(g * 64 + 40)) % 120, 'loudness', -20 + {u8} * 16,
                       'key', abs(hashint8(g * 64 + 41)) % 12, 'mode', abs(hashint8(g * 64 + 42)) % 2))
          from (select {words}) w, generate_series({o} + 1, {o} + {n}) g
    """).format(m1=pick("moods", 20), m2=pick("moods", 21), g1=pick("genres", 22), g2=pick("genres", 23),
                i1=pick("instr", 24), v=pick("verbs", 25), t1=pick("themes", 26), t2=pick("themes", 27),
                u1=unit(30), u2=unit(31), u3=unit(32), u4=unit(33), u5=unit(34), u6=unit(35), u7=unit(36),
                u8=unit(37), words=words, n=sql.Literal(n), o=sql.Literal(offset)))
    c.execute("select setval(pg_get_serial_sequence('songmatch.tracks', 'id'), %s)", (offset + n,))
    c.execute("analyze songmatch.tracks, songmatch.track_analyses")


def parse_vector(s: str) -> np.ndarray:
    return np.array([float(x) for x in s.strip("[]").split(",")], dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description="songmatch.backfill('embeddings') vs raw onnxruntime on the same documents")
    ap.add_argument("--dsn", required=True, help="any database of the server; the bench creates its own")
    ap.add_argument("--db", default="songmatch_bench_backfill")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=256, help="backfill batch_size (items per COMMIT)")
    ap.add_argument("--model-dir", required=True, help="the installed embedding model of the default bundle")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32, help="songmatch.max_batch_texts and the Python batch")
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()

    def log(msg: str) -> None:
        print(f"    {msg}  (load {' '.join(f'{x:.2f}' for x in os.getloadavg())})", file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the database is dropped
    # in-backend inference, one thread: the comparison with raw onnxruntime these rows have always made
    # (the inference service is measured by bench/service_bench.py)
    opts = f"-c songmatch.inference=backend -c songmatch.intra_op_threads={args.threads} -c songmatch.max_batch_texts={args.batch}"
    res: dict = {"backfill_n": args.n, "backfill_batch_size": args.batch_size}
    t_all = time.perf_counter()
    with psycopg.connect(args.dsn, autocommit=True) as a:
        a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
        a.execute(sql.SQL("create database {}").format(sql.Identifier(args.db)))
        # the background refresher stays off: these measure their own calls
        a.execute(sql.SQL("alter database {} set songmatch.auto_refresh = off").format(sql.Identifier(args.db)))
        # (every document run by the model, as raw onnxruntime runs it: no answer from the service's recent results)
        a.execute(sql.SQL("alter database {} set songmatch.inference_reuse = off").format(sql.Identifier(args.db)))
    dsn = make_conninfo(args.dsn, dbname=args.db)
    try:
        with psycopg.connect(dsn, autocommit=True, options=opts) as c:
            c.execute("create extension songmatch cascade")
            t0 = time.perf_counter()
            load_catalogue(c, args.n)
            res["backfill_load_s"] = round(time.perf_counter() - t0, 1)
            docs_rows = c.execute(
                "select t.id, songmatch.track_document(to_jsonb(t), a.analysis) from songmatch.tracks t"
                " join songmatch.track_analyses a on a.track_id = t.id order by t.id").fetchall()
        ids = [r[0] for r in docs_rows]
        docs = [r[1] for r in docs_rows]
        res["backfill_distinct_documents"] = len(set(docs))
        log(f"catalogue: {args.n} tracks and analyses in {res['backfill_load_s']} s;"
            f" {res['backfill_distinct_documents']} distinct documents")

        # songmatch: one CALL at top level (autocommit), in a backend whose model session is warm
        notices: list[str] = []
        with psycopg.connect(dsn, autocommit=True, options=opts) as c:
            c.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            c.execute("select songmatch.embed('warm up')").fetchone()
            t0 = time.perf_counter()
            c.execute("call songmatch.backfill('embeddings', batch_size => %s)", (args.batch_size,))
            wall = time.perf_counter() - t0
            st = c.execute("select job_id, status, total, done, failed, items_per_s::float8,"
                           " extract(epoch from finished_at - started_at)::float8"
                           " from songmatch.backfill_status where job_type = 'embeddings' order by job_id desc limit 1"
                           ).fetchone()
            stored = c.execute("select count(*) from songmatch.track_embeddings").fetchone()[0]
            res["backfill_bundle"], res["backfill_model"] = c.execute(
                "select name, embedding_model from songmatch.model_bundles where is_active").fetchone()
            sample = c.execute("select track_id, embedding::text from songmatch.track_embeddings"
                               " where embedding_kind = 'document' order by track_id limit 16").fetchall()
        _, status, total, done, failed, status_rate, status_s = st
        if status != "done" or done != args.n or failed != 0 or stored != args.n:
            raise SystemExit(f"backfill_bench: the backfill did not finish cleanly: status {status}, total {total},"
                             f" done {done}, failed {failed}, stored {stored}")
        res["backfill_items_per_s"] = round(done / wall, 1)
        res["backfill_s"] = round(wall, 1)
        res["backfill_status_items_per_s"] = None if status_rate is None else round(status_rate, 1)
        res["backfill_status_s"] = None if status_s is None else round(status_s, 1)
        res["backfill_batches"] = sum(1 for m in notices if "/" in m)
        res["backfill_last_notice"] = notices[-1] if notices else None
        log(f"songmatch backfill: {done} items in {wall:.1f} s = {res['backfill_items_per_s']} items/s")

        # raw onnxruntime: the same documents, batches of --batch in track id order
        emb = Embedder(args.model_dir, threads=args.threads)
        res["backfill_mean_tokens"] = round(float(np.mean(emb.token_counts(docs))), 1)
        emb.embed_all(docs[:4 * args.batch], args.batch)  # warm-up
        t0 = time.perf_counter()
        vecs = emb.embed_all(docs, args.batch)
        py_s = time.perf_counter() - t0
        res["ort_backfill_texts_per_s"] = round(len(docs) / py_s, 1)
        res["ort_backfill_s"] = round(py_s, 1)
        res["backfill_vs_ort"] = round(res["backfill_items_per_s"] / res["ort_backfill_texts_per_s"], 3)
        log(f"Python onnxruntime: {len(docs)} documents in {py_s:.1f} s = {res['ort_backfill_texts_per_s']} texts/s")
        pos = {i: k for k, i in enumerate(ids)}
        res["backfill_parity_max_abs_diff"] = float(max(np.abs(parse_vector(v) - vecs[pos[i]]).max() for i, v in sample))
    finally:
        if not args.keep_db:
            with psycopg.connect(args.dsn, autocommit=True) as a:
                a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
    res["backfill_total_s"] = round(time.perf_counter() - t_all, 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
