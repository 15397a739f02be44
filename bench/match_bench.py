#!/usr/bin/env python3
"""Matching latency of songmatch (issue 5), in a database of its own that it creates and drops.
Prints one JSON line.

  stage1_{1k,10k,100k}_ms  match_playlist(pid, candidate_track_ids => first N synthetic tracks,
                           top_k => 20, config => a unique nonce) with every vector persisted
                           (all hits, no inference) and the profile persisted; each timed call
                           misses the match cache (the nonce changes the config hash). p50.
  cached_ms                the same match_playlist call repeated (200 candidates): served from
                           match_contexts / match_results. p50.
  recommend_100k_ms        recommend_for_playlist(pid): candidates from the whole synthetic
                           catalogue (stage 1's screen of the current feature store up to
                           songmatch.discovery_scan_max tracks, else the HNSW index), stage 1 + 2,
                           cache misses. p50; its recall@20 against match_playlist over every
                           track (recommend_detail, with the index type).
  hnsw_100k_ms             top-20 by the partial HNSW expression index over the synthetic
                           vectors (>= 100k rows); EXPLAIN must show the index. p50.
  e2e_*_ms                 one user's liked songs against their playlists (song-like texts):
                           seed = read the catalogue, one HTTP POST per song (liked + members)
                           to bench/http_service.py, cosine to playlist centroids in numpy;
                           cold = match_songs_to_playlists(user) with no stored embeddings,
                           profiles or contexts; cached = the same call again.

Synthetic catalogue: one INSERT ... SELECT per table (generate_series; unit vectors made in SQL
with random() around 64 cluster centres and l2_normalize()), stored through
songmatch.upsert_track_embedding with the track's document hash; the HNSW index is dropped before
loading and re-created after. Timings are wall clock at the client (psycopg, binary parameters;
the candidate ids as an array literal made before the timed calls, as the app's drivers send
arrays: see id_array);
the phases inside songmatch come from the debug1 lines match_playlist logs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

import match_data

SYN_USER = "00000000-0000-4000-8000-0000000b0001"
E2E_USER = "00000000-0000-4000-8000-0000000b0002"
N_MEMBERS_SYN = 30
GENRES = ["indie folk", "edm", "lo-fi hip hop", "jazz", "rock", "soul", "disco", "ambient", "metal", "pop"]


def log(msg: str) -> None:
    print(f"    match: {msg}", file=sys.stderr, flush=True)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3)


# ------------------------------------------------------------------------------------------------
# the debug1 timing lines that match_playlist logs
# ------------------------------------------------------------------------------------------------
DUR = re.compile(r"([0-9.]+)(ns|µs|us|ms|s)\b")
UNIT_MS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}


def dur_ms(text: str) -> float | None:
    m = DUR.search(text)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else None


class DebugLines:
    """Collects songmatch's DEBUG messages of a connection (client_min_messages = debug1)."""

    def __init__(self, conn: psycopg.Connection):
        self.lines: list[str] = []
        conn.add_notice_handler(self._on)

    def _on(self, diag) -> None:
        msg = diag.message_primary or ""
        if msg.startswith("songmatch:"):
            self.lines.append(msg)

    def take(self) -> list[str]:
        out, self.lines = self.lines, []
        return out


def breakdown(lines: list[str]) -> dict:
    """Phases of one match_playlist call from its debug lines (ms); tolerant of format changes.
    A miss logs "N candidates; context T, artifacts T, stage 1 + 2 T, stored T"; a hit "context H
    computed in T; served from cache in T"; discovery "profile T, index search T"."""
    out: dict = {}
    dur = r" ([0-9.]+(?:ns|µs|us|ms|s))\b"
    for l in lines:
        for pat, name in ((r"computed in", "context_hash_ms"), (r"served from cache in", "cache_total_ms"),
                          (r"candidates; context", "context_hash_ms"), (r"artifacts", "artifacts_ms"),
                          (r"stage 1 \+ 2", "stage1_ms"), (r"stored", "stored_ms"), (r"recomputed in", "profile_recompute_ms"),
                          (r"index search", "index_search_ms")):
            m = re.search(pat + dur, l)
            if m:
                out[name] = dur_ms(m.group(1))
    return out


def summed_breakdown(lines: list[str]) -> dict:
    """Phases summed over several match_playlist calls (match_songs_to_playlists: one per playlist)."""
    out: dict = {}
    for l in lines:
        for k, v in breakdown([l]).items():
            if v is not None:
                out[k] = round(out.get(k, 0.0) + v, 3)
    return out


def median_breakdown(items: list[dict]) -> dict:
    keys = sorted({k for d in items for k in d})
    return {k: round(statistics.median([d[k] for d in items if d.get(k) is not None]), 3)
            for k in keys if any(d.get(k) is not None for d in items)}


# ------------------------------------------------------------------------------------------------
# setup
# ------------------------------------------------------------------------------------------------
def connect(dsn: str) -> psycopg.Connection:
    # the bench runs as a superuser and scores up to 100k candidates in one call: above the
    # request limits (max_candidates, max_batch_size) that API roles get by default
    return psycopg.connect(dsn, autocommit=True, options="-c songmatch.max_candidates=10000000 -c songmatch.max_batch_size=10000000")


def stat(c: psycopg.Connection, name: str) -> float:
    return float(c.execute("select songmatch.stat(%s)", (name,)).fetchone()[0])


def stats(c: psycopg.Connection) -> dict:
    return {k: float(v) for k, v in c.execute("select name, value from songmatch.stats order by name").fetchall()}


def library_info(c: psycopg.Connection) -> dict | None:
    """Size and mtime of the installed songmatch library (others may reinstall it meanwhile)."""
    try:
        d = c.execute("select setting from pg_config where name = 'PKGLIBDIR'").fetchone()[0]
        st = (Path(d) / "songmatch.so").stat()
    except Exception:  # noqa: BLE001 - information only
        return None
    return {"bytes": st.st_size, "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime))}


def create_db(admin_dsn: str, db: str) -> None:
    with connect(admin_dsn) as a:
        a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))
        a.execute(sql.SQL("create database {}").format(sql.Identifier(db)))
        # the background refresher stays off: these measure their own calls
        a.execute(sql.SQL("alter database {} set songmatch.auto_refresh = off").format(sql.Identifier(db)))


def drop_db(admin_dsn: str, db: str) -> None:
    with connect(admin_dsn) as a:
        a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))


def build_synthetic(c: psycopg.Connection, n: int, model: str, version: str, res: dict) -> tuple[list[int], list[int], int, str]:
    """n + 30 tracks with small analyses, their unit vectors, one playlist of 30 members.
    Returns (candidate ids in id order, member ids, playlist id, HNSW index definition)."""
    idx = c.execute(
        "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index i "
        " where i.indrelid = 'songmatch.track_embeddings'::regclass and pg_get_indexdef(i.indexrelid) like '%%USING hnsw%%' "
        "   and pg_get_expr(i.indpred, i.indrelid) like %s",
        (f"%'{model}'%",)).fetchone()
    if not idx:
        raise SystemExit(f"match_bench: no HNSW index for {model} on songmatch.track_embeddings")
    idx_name, idx_def = idx
    c.execute(f"drop index {idx_name}")  # loaded without it, re-created after (much faster)

    total = n + N_MEMBERS_SYN
    t0 = time.perf_counter()
    c.execute("select setseed(0.20240615)")
    c.execute(
        "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity, duration_ms) "
        "select 'bench:syn:' || g, 'Synthetic song ' || g, 'Synthetic artist ' || (g %% 997), 'Album ' || (g %% 5003), "
        "       (1960 + g %% 64)::text, (g %% 101)::int, 120000 + (g::bigint * 7919) %% 200000 "
        "  from generate_series(1, %s) g order by g", (total,))
    c.execute(
        "insert into songmatch.track_analyses (track_id, analysis) "
        "select t.id, jsonb_build_object("
        "  'genres', jsonb_build_object('primary', (%s::text[])[1 + (t.id %% %s)::int]),"
        "  'audio', jsonb_build_object("
        "     'danceability', round(random()::numeric, 3), 'energy', round(random()::numeric, 3),"
        "     'valence', round(random()::numeric, 3), 'acousticness', round(random()::numeric, 3),"
        "     'instrumentalness', round(random()::numeric, 3), 'speechiness', round((0.3 * random())::numeric, 3),"
        "     'liveness', round((0.5 * random())::numeric, 3), 'tempo', round((60 + 120 * random())::numeric, 1),"
        "     'loudness', round((-30 + 26 * random())::numeric, 1))) "
        "  from songmatch.tracks t where t.external_id like 'bench:syn:%%'", (GENRES, len(GENRES)))
    t1 = time.perf_counter()
    # Vectors: 64 cluster centres (random), each track a unit vector near one of them (cosine
    # about 0.6 within a cluster, about 0 across: song-embedding-like, and 3x quicker for HNSW
    # to index than uniform noise). One INSERT ... SELECT: 384 random() values a track, made per
    # row (the subquery is correlated), l2_normalize()d, stored through upsert_track_embedding
    # with the track's document hash (songmatch.track_document_hash of its row and analysis, as
    # track_content.document_hash holds it; checked on a sample below).
    # (the centres are vectors, scaled by 1.25 against the noise, and added with pgvector's `+`:
    # subscripting a 384-element float8[] would detoast it once per element.)
    c.execute("create temp table bench_centres as select k, (select array_agg(1.25 * (random() - 0.5)) "
              "  from generate_series(1, 384) where k >= 0)::vector as c from generate_series(0, 63) k")
    stored = c.execute(
        "select count(songmatch.upsert_track_embedding(t.id, 'document', %s, %s,"
        "   songmatch.track_document_hash(to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis),"
        "   l2_normalize(ce.c + (select array_agg(random() - 0.5) from generate_series(1, 384) where t.id > 0)::vector)))"
        "  from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id "
        "  join bench_centres ce on ce.k = t.id %% 64 "
        " where t.external_id like 'bench:syn:%%'", (model, version)).fetchone()[0]
    t2 = time.perf_counter()
    if stored != total:
        raise SystemExit(f"match_bench: stored {stored} synthetic embeddings, expected {total}")
    bad = c.execute(
        "select count(*) from (select e.track_id from songmatch.track_embeddings e "
        "  where e.model_name = %s and e.track_id in (select id from songmatch.tracks "
        "        where external_id like 'bench:syn:%%' order by random() limit 200) "
        "    and e.content_hash is distinct from (select tc.document_hash from songmatch.track_content tc"
        "                                          where tc.track_id = e.track_id)) s", (model,)).fetchone()[0]
    if bad:
        raise SystemExit(f"match_bench: {bad} of 200 sampled synthetic embeddings are not of their track's document")
    # (the HNSW graph is built in memory while it fits: ~2.3 kB a 384-d vector with its links)
    mwm = "512MB" if total <= 200_000 else f"{(total * 2300) // 2**30 + 1}GB"
    c.execute(f"set maintenance_work_mem = '{mwm}'")
    t3 = time.perf_counter()
    c.execute(idx_def)
    t4 = time.perf_counter()
    c.execute("reset maintenance_work_mem")
    c.execute("vacuum analyze songmatch.tracks, songmatch.track_analyses, songmatch.track_embeddings")
    ids = c.execute("select array_agg(id order by id) from songmatch.tracks where external_id like 'bench:syn:%'").fetchone()[0]
    cands, members = ids[:n], ids[n:]
    pid = c.execute(
        "insert into songmatch.playlists (external_id, owner_id, name, description) "
        "values ('bench:syn:p1', %s, 'Synthetic benchmark mix', 'Thirty synthetic songs for the stage-1 bench') returning id",
        (SYN_USER,)).fetchone()[0]
    c.execute("insert into songmatch.playlist_tracks (playlist_id, track_id, position) "
              "select %s, m, row_number() over () from unnest(%s::bigint[]) m", (pid, members))
    # the feature store, as the background refresher builds it once the catalogue has settled
    fs = c.execute("select songmatch.build_feature_store()").fetchone()[0]
    res["feature_store"] = {k: fs[k] for k in ("tracks", "with_embedding", "megabytes", "seconds")}
    log(f"feature store: {fs['tracks']} tracks, {fs['megabytes']} MB in {fs['seconds']} s")
    res["synthetic_rows"] = total
    res["synthetic_load_s"] = {"tracks_analyses": round(t1 - t0, 2), "embeddings": round(t2 - t1, 2),
                               "hnsw_build": round(t4 - t3, 2)}
    res["hnsw_index"] = idx_name
    res["synthetic_sizes_mb"] = {k: round(v / 2**20, 1) for k, v in zip(
        ("hnsw_index", "track_embeddings_total", "tracks_total"),
        c.execute("select pg_relation_size(%s::regclass), pg_total_relation_size('songmatch.track_embeddings'),"
                  " pg_total_relation_size('songmatch.tracks')", (idx_name,)).fetchone())}
    log(f"synthetic catalogue: {total} tracks; tracks+analyses {t1 - t0:.1f}s, vectors {t2 - t1:.1f}s, "
        f"HNSW build {t4 - t3:.1f}s")
    return cands, members, pid, idx_def


# ------------------------------------------------------------------------------------------------
# 1. stage 1 (cache misses, all artifacts persisted)
# ------------------------------------------------------------------------------------------------
MATCH_Q = "select track_id, score, rank, components from songmatch.match_playlist(%s, %s::text::bigint[], %s, %s::jsonb)"


def id_array(ids: list[int]) -> str:
    """The candidate ids as a PostgreSQL array literal, the way the app's driver sends an array
    (node-postgres, PostgREST's JSON): made once, outside the timed calls. (Adapting a Python
    list of 10k ints to binary bigint[] costs psycopg ~8 ms a call, 100k ~90 ms: the client's
    time, reported apart as stage1_detail.*.list_param_ms.)"""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def size_key(n: int) -> str:
    """1k, 10k, 100k, 1m (the keys of the JSON rows); other sizes as they are."""
    return {1000: "1k", 10_000: "10k", 100_000: "100k", 1_000_000: "1m"}.get(n, str(n))


def nonce_config(k: int) -> str:
    # The centroid weight (default 0.05) moved by k * 1e-7: a new config hash (a cache miss),
    # the same work and, to 6 decimals, the same ranking. (Not the emotion weight: above 0 it
    # makes match_playlist classify emotions.)
    return json.dumps({"weights": {"centroid": round(0.05 + 1e-7 * k, 9)}})


def bench_stage1(c: psycopg.Connection, dbg: DebugLines, pid: int, cands: list[int], model: str, version: str,
                 sizes: list[int], runs: int, res: dict) -> None:
    nonce = 1
    # warm-up: the profile (one query-text inference), the model session, caches
    c.execute(MATCH_Q, (pid, id_array(cands[:1000]), 20, nonce_config(nonce)), binary=True).fetchall()
    dbg.take()
    c.execute("select songmatch.stats_reset()")
    detail = {}
    for n in sizes:
        ids = id_array(cands[:n])
        nonce += 1
        if n < 100_000:  # warm-up at this size (at 100k the 10k warm-up has to do: 10 s a call here)
            c.execute(MATCH_Q, (pid, ids, 20, nonce_config(nonce)), binary=True).fetchall()
            dbg.take()
            # (the learned ranker runs on every miss, by design: only text models count here)
            ranker = c.execute("select ranker_model from songmatch.model_bundles where is_active").fetchone()[0]
            inf = {k: v for k, v in stats(c).items() if k.startswith("inferences:") and v and k != f"inferences:{ranker}"}
            if inf:  # every artifact of the synthetic tracks must be stored, or this measures models
                raise SystemExit(f"match_bench: match_playlist ran inference on synthetic tracks: {inf}")
        times, parts = [], []
        k = runs if n < 100_000 else max(1, min(runs, 3))
        prev = [v for kk, v in res.items() if kk.startswith("stage1_") and kk.endswith("_ms")]
        if n >= 100_000 and prev and prev[-1] > 2000:  # 10k took > 2 s: keep the bench's time bounded
            k = 1
        for _ in range(k):
            nonce += 1
            t0 = time.perf_counter()
            rows = c.execute(MATCH_Q, (pid, ids, 20, nonce_config(nonce)), binary=True).fetchall()
            times.append(time.perf_counter() - t0)
            parts.append(breakdown(dbg.take()))
            if len(rows) != min(20, n):
                raise SystemExit(f"match_bench: match_playlist over {n} returned {len(rows)} rows")
        # the same calls reading the tables (songmatch.feature_store = off)
        c.execute("set songmatch.feature_store = off")
        tables = []
        for _ in range(1 if n >= 100_000 else min(3, runs)):
            nonce += 1
            t0 = time.perf_counter()
            c.execute(MATCH_Q, (pid, ids, 20, nonce_config(nonce)), binary=True).fetchall()
            tables.append(time.perf_counter() - t0)
            dbg.take()
        c.execute("reset songmatch.feature_store")
        # the reads alone, in the executor (no conversion to Rust values): embeddings, tracks; best of 3
        def executor_ms(query: str, params: tuple) -> float:
            return min(c.execute("explain (analyze, timing off, format json) " + query, params, binary=True)
                       .fetchone()[0][0]["Execution Time"] for _ in range(3))
        read_emb = executor_ms(
            "select track_id, content_hash, coalesce(embedding, embedding_half::vector) from songmatch.track_embeddings "
            " where embedding_kind = 'document' and model_name = %s and model_version = %s and track_id = any(%s::bigint[])",
            (model, version, ids))
        read_tracks = executor_ms(
            "select t.id, to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis "
            "  from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id "
            " where t.id = any(%s::bigint[]) order by t.id", (ids,))
        # the DB-first lookup alone, through SPI into Rust: embed_tracks over the same ids (all hits)
        # = load the track rows, hash their content, read and convert the stored vectors
        lookup = None
        if n <= 10_000:
            t0 = time.perf_counter()
            st_rows = c.execute("select status, count(*) from songmatch.embed_tracks(%s::bigint[]) group by 1",
                                (ids,), binary=True).fetchall()
            lookup = time.perf_counter() - t0
            if dict(st_rows).get("hit") != n:
                raise SystemExit(f"match_bench: embed_tracks over the candidates: {st_rows} (expected {n} hits)")
        # what passing the ids as a Python list would add at the client (psycopg adapting it)
        listed = []
        for _ in range(3):
            t0 = time.perf_counter()
            c.execute("select cardinality(%s::bigint[])", (cands[:n],), binary=True).fetchall()
            listed.append(time.perf_counter() - t0)
        key = size_key(n)
        res[f"stage1_{key}_ms"] = p50([x * 1000 for x in times])
        detail[key] = {"runs_ms": [ms(x) for x in times], "phases_ms": median_breakdown(parts),
                       "tables_ms": p50([x * 1000 for x in tables]),
                       "read_embeddings_executor_ms": round(read_emb, 3),
                       "read_tracks_executor_ms": round(read_tracks, 3),
                       "embed_tracks_all_hits_ms": None if lookup is None else ms(lookup),
                       "list_param_ms": ms(min(listed))}
        log(f"stage 1 over {n}: p50 {res[f'stage1_{key}_ms']:.1f} ms (from the tables {detail[key]['tables_ms']:.1f})"
            f"  {detail[key]['phases_ms']}")
    st = stats(c)
    res["stage1_detail"] = detail
    res["stage1_counters"] = st
    if not st.get("feature_store_embeddings"):
        raise SystemExit(f"match_bench: stage-1 calls did not read the feature store: {st}")
    if st.get("embedding_misses", 0) != 0 or st.get("context_hits", 0) != 0:
        raise SystemExit(f"match_bench: stage-1 calls were not all embedding hits and context misses: {st}")


def bench_stage2(c: psycopg.Connection, pid: int, cands: list[int], runs: int, res: dict) -> None:
    """Stage 2 per playlist: the learned ranker over 30 and 200 candidates (cache misses; the
    ranker's own time from the ranker_ms counter, and the whole call against ranker_top_n = 1,
    which ranks one candidate instead)."""
    if c.execute("select ranker_model from songmatch.model_bundles where is_active").fetchone()[0] is None:
        res["stage2_30_ms"] = res["stage2_200_ms"] = None
        log("stage 2: the active bundle has no ranker")
        return
    nonce = 10_000
    for n in (30, 200):
        arr = id_array(cands[:n])
        ranker, whole, one = [], [], []
        for _ in range(max(3, runs)):
            nonce += 1
            c.execute("select songmatch.stats_reset()")
            t0 = time.perf_counter()
            c.execute(MATCH_Q, (pid, arr, 20, nonce_config(nonce)), binary=True).fetchall()
            whole.append(time.perf_counter() - t0)
            ranker.append(stat(c, "ranker_ms"))
            nonce += 1
            cfg = json.loads(nonce_config(nonce))
            cfg["ranker_top_n"] = 1
            t0 = time.perf_counter()
            c.execute(MATCH_Q, (pid, arr, 20, json.dumps(cfg)), binary=True).fetchall()
            one.append(time.perf_counter() - t0)
        res[f"stage2_{n}_ms"] = round(p50(ranker), 3)
        res.setdefault("stage2_detail", {})[str(n)] = {"ranker_ms_runs": [round(x, 3) for x in ranker],
                                                       "call_ms_p50": round(p50([x * 1000 for x in whole]), 3),
                                                       "call_ranking_one_ms_p50": round(p50([x * 1000 for x in one]), 3)}
        log(f"stage 2 (ranker) over {n} candidates: p50 {res[f'stage2_{n}_ms']:.3f} ms inside the call; "
            f"call {res['stage2_detail'][str(n)]['call_ms_p50']:.2f} ms vs {res['stage2_detail'][str(n)]['call_ranking_one_ms_p50']:.2f} ms ranking one")


# ------------------------------------------------------------------------------------------------
# 1b. discovery: recommend_for_playlist over the whole synthetic catalogue
# ------------------------------------------------------------------------------------------------
REC_Q = "select track_id, score, rank, components from songmatch.recommend_for_playlist(%s, %s, %s::jsonb)"


def bench_recommend(c: psycopg.Connection, dbg: DebugLines, pid: int, cands: list[int], runs: int, res: dict) -> None:
    """recommend_100k_ms: candidates from the whole catalogue (stage 1's screen of the feature store,
    or the HNSW index above songmatch.discovery_scan_max), then stage 1 + 2, cache misses (a new
    config each call). recall@20: its top 20 against match_playlist over every synthetic track with
    the same config (the exact ranking)."""
    n = len(cands)
    nonce = 20_000
    c.execute(REC_Q, (pid, 20, nonce_config(nonce)), binary=True).fetchall()  # warm-up
    dbg.take()
    times, parts = [], []
    for _ in range(max(3, runs)):
        nonce += 1
        t0 = time.perf_counter()
        rows = c.execute(REC_Q, (pid, 20, nonce_config(nonce)), binary=True).fetchall()
        times.append(time.perf_counter() - t0)
        parts.append(breakdown(dbg.take()))
        if len(rows) != 20:
            raise SystemExit(f"match_bench: recommend_for_playlist returned {len(rows)} rows")
    disc = rows[0][3]["discovery"]
    found = disc["candidates"]
    key = size_key(n)
    res[f"recommend_{key}_ms"] = p50([x * 1000 for x in times])
    t0 = time.perf_counter()
    exact = [r[0] for r in c.execute(MATCH_Q, (pid, id_array(cands), 20, nonce_config(nonce)), binary=True).fetchall()]
    exact_s = time.perf_counter() - t0
    dbg.take()
    got = [r[0] for r in rows]
    recall = len(set(got) & set(exact)) / 20
    res["recommend_detail"] = {"catalogue": n, "runs_ms": [ms(x) for x in times], "phases_ms": median_breakdown(parts),
                               "candidates": found, "index_type": disc.get("index_type"), "screened": disc.get("screened"),
                               "recall_at_20": recall, "exact_match_playlist_ms": ms(exact_s)}
    log(f"recommend over {n}: p50 {res[f'recommend_{key}_ms']:.1f} ms ({found} candidates, {disc.get('index_type')}) "
        f"{res['recommend_detail']['phases_ms']}; recall@20 {recall:.2f} against the exact ranking ({ms(exact_s):.0f} ms)")


# ------------------------------------------------------------------------------------------------
# 2. the cached call
# ------------------------------------------------------------------------------------------------
def bench_cached(c: psycopg.Connection, dbg: DebugLines, pid: int, cands: list[int], calls: int, res: dict) -> None:
    ids = id_array(cands[:200])
    cfg = nonce_config(0)
    for _ in range(3):  # the first computes and stores, the others warm the cached path
        c.execute(MATCH_Q, (pid, ids, 20, cfg), binary=True).fetchall()
    dbg.take()
    c.execute("select songmatch.stats_reset()")
    # the phases from the debug lines of a few calls; the timed calls without them (debug
    # messages sent to the client cost more than the cached call itself)
    parts = []
    for _ in range(5):
        c.execute(MATCH_Q, (pid, ids, 20, cfg), binary=True).fetchall()
        parts.append(breakdown(dbg.take()))
    c.execute("set client_min_messages = notice")
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        rows = c.execute(MATCH_Q, (pid, ids, 20, cfg), binary=True).fetchall()
        times.append(time.perf_counter() - t0)
    c.execute("set client_min_messages = debug1")
    calls += 5
    if len(rows) != 20:
        raise SystemExit(f"match_bench: the cached call returned {len(rows)} rows")
    hits, misses = stat(c, "context_hits"), stat(c, "context_misses")
    if hits != calls or misses != 0:
        raise SystemExit(f"match_bench: cached calls: {hits} context hits, {misses} misses (expected {calls}, 0)")
    # a trivial statement over the same connection: the floor of any call
    floor = []
    for _ in range(calls):
        t0 = time.perf_counter()
        c.execute("select 1").fetchall()
        floor.append(time.perf_counter() - t0)
    res["cached_ms"] = p50([x * 1000 for x in times])
    res["cached_detail"] = {"calls": calls, "candidates": 200, "p90_ms": pct([x * 1000 for x in times], 0.9),
                            "phases_ms": median_breakdown(parts), "select_1_ms": p50([x * 1000 for x in floor])}
    log(f"cached: p50 {res['cached_ms']:.2f} ms  {res['cached_detail']['phases_ms']}")


# ------------------------------------------------------------------------------------------------
# 3. HNSW
# ------------------------------------------------------------------------------------------------
def bench_hnsw(c: psycopg.Connection, model: str, dims: int, idx_name: str, queries: int, res: dict) -> None:
    q = sql.SQL("select track_id from songmatch.track_embeddings where model_name = {} and embedding is not null "
                "order by embedding::vector({}) <=> %s::vector({}) limit 20").format(
        sql.Literal(model), sql.SQL(str(dims)), sql.SQL(str(dims)))
    n = c.execute("select count(*) from songmatch.track_embeddings where model_name = %s and embedding is not null",
                  (model,)).fetchone()[0]
    rng = np.random.default_rng(20240615)
    vecs = rng.standard_normal((queries + 5, dims)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    texts = ["[" + ",".join(f"{x:.6f}" for x in v) + "]" for v in vecs]
    plan = c.execute(sql.SQL("explain (format json) ") + q, (texts[0],)).fetchone()[0]
    plan_s = json.dumps(plan)
    uses = idx_name.split(".")[-1] in plan_s and "Index Scan" in plan_s
    for t in texts[:5]:  # warm-up
        c.execute(q, (t,)).fetchall()
    times = []
    found = []
    for t in texts[5:]:
        t0 = time.perf_counter()
        rows = c.execute(q, (t,)).fetchall()
        times.append(time.perf_counter() - t0)
        found.append([r[0] for r in rows])
    # recall@20 against the exact answer for a few queries (random vectors: a hard case for HNSW)
    recall = []
    with c.transaction():
        c.execute("set local enable_indexscan = off")
        c.execute("set local enable_bitmapscan = off")
        for t, got in list(zip(texts[5:], found))[:5]:
            exact = {r[0] for r in c.execute(q, (t,)).fetchall()}
            recall.append(len(exact & set(got)) / max(1, len(exact)))
    key = "hnsw_1m_ms" if n >= 1_000_000 else "hnsw_100k_ms"
    res[key] = p50([x * 1000 for x in times])
    res["hnsw_detail"] = {"rows": n, "queries": len(times), "p90_ms": pct([x * 1000 for x in times], 0.9),
                          "uses_index": uses, "recall_at_20": round(statistics.mean(recall), 3),
                          "ef_search": c.execute("show hnsw.ef_search").fetchone()[0]}
    if not uses:
        res["hnsw_detail"]["plan_nodes"] = sorted(set(re.findall(r'"Node Type": "([^"]+)"', plan_s)))
    log(f"HNSW over {n}: p50 {res[key]:.2f} ms, index used: {uses}, recall@20 {res['hnsw_detail']['recall_at_20']}")


# ------------------------------------------------------------------------------------------------
# 4. end to end: one user's liked songs against their playlists
# ------------------------------------------------------------------------------------------------
def load_e2e(c: psycopg.Connection, data: dict) -> None:
    def insert_tracks(tracks: list[dict]) -> dict[str, int]:
        rows = c.execute(
            "with src as (select * from jsonb_to_recordset(%s::jsonb) as x(external_id text, name text, artist text,"
            "        album text, release_date text, popularity int, duration_ms int, analysis jsonb)),"
            "     ins as (insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity, duration_ms)"
            "             select external_id, name, artist, album, release_date, popularity, duration_ms from src"
            "             returning id, external_id),"
            "     ana as (insert into songmatch.track_analyses (track_id, analysis)"
            "             select ins.id, src.analysis from ins join src using (external_id))"
            "select external_id, id from ins", (json.dumps(tracks),)).fetchall()
        return dict(rows)

    for p in data["playlists"]:
        ids = insert_tracks(p["members"])
        pid = c.execute("insert into songmatch.playlists (external_id, owner_id, name, description) "
                        "values (%s, %s, %s, %s) returning id",
                        (p["external_id"], E2E_USER, p["name"], p["description"])).fetchone()[0]
        c.execute("insert into songmatch.playlist_analyses (playlist_id, analysis) values (%s, %s::jsonb)",
                  (pid, json.dumps(p["analysis"])))
        c.execute("insert into songmatch.playlist_tracks (playlist_id, track_id, position) "
                  "select %s, t, row_number() over () from unnest(%s::bigint[]) t",
                  (pid, [ids[t["external_id"]] for t in p["members"]]))
    ids = insert_tracks(data["liked"])
    c.execute("insert into songmatch.liked_tracks (user_id, track_id) select %s, unnest(%s::bigint[])",
              (E2E_USER, list(ids.values())))
    c.execute("analyze")


class Http:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def embed(self, text: str) -> np.ndarray:
        self.conn.request("POST", "/embed", body=json.dumps({"text": text}).encode(),
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = json.loads(r.read())
        if r.status != 200:
            raise SystemExit(f"match_bench: HTTP service answered {r.status}: {data}")
        return np.asarray(data["embedding"], dtype=np.float32)


def seed_design(c: psycopg.Connection, svc: Http, top_k: int = 3) -> dict:
    """The seed's request: read the user's songs and playlists, embed every song (liked and
    members) with one POST each, cosine of each liked song to each playlist centroid, top k."""
    liked = c.execute(
        "select t.id, songmatch.track_document(to_jsonb(t), a.analysis) from songmatch.liked_tracks l "
        "  join songmatch.tracks t on t.id = l.track_id left join songmatch.track_analyses a on a.track_id = t.id "
        " where l.user_id = %s order by t.id", (E2E_USER,)).fetchall()
    members = c.execute(
        "select p.id, t.id, songmatch.track_document(to_jsonb(t), a.analysis) from songmatch.playlists p "
        "  join songmatch.playlist_tracks pt on pt.playlist_id = p.id join songmatch.tracks t on t.id = pt.track_id "
        "  left join songmatch.track_analyses a on a.track_id = t.id where p.owner_id = %s order by p.id, t.id",
        (E2E_USER,)).fetchall()
    lv = np.stack([svc.embed(doc) for _, doc in liked])
    by_pl: dict[int, list[np.ndarray]] = {}
    in_pl: dict[int, set[int]] = {}
    for pid, tid, doc in members:
        by_pl.setdefault(pid, []).append(svc.embed(doc))
        in_pl.setdefault(pid, set()).add(tid)
    pids = sorted(by_pl)
    cen = np.stack([np.mean(by_pl[p], axis=0) for p in pids])
    cen /= np.linalg.norm(cen, axis=1, keepdims=True)
    scores = lv @ cen.T
    out = {}
    for i, (tid, _) in enumerate(liked):
        order = [j for j in np.argsort(-scores[i]) if tid not in in_pl[pids[j]]][:top_k]
        out[tid] = [(pids[j], float(scores[i, j])) for j in order]
    return {"songs": len(liked), "member_songs": len(members), "results": out}


def reset_user_artifacts(c: psycopg.Connection) -> None:
    c.execute(
        "delete from songmatch.track_embeddings where track_id in ("
        "  select track_id from songmatch.liked_tracks where user_id = %(u)s union "
        "  select pt.track_id from songmatch.playlist_tracks pt join songmatch.playlists p on p.id = pt.playlist_id "
        "   where p.owner_id = %(u)s)", {"u": E2E_USER})
    c.execute("delete from songmatch.playlist_profiles where playlist_id in "
              "(select id from songmatch.playlists where owner_id = %s)", (E2E_USER,))
    c.execute("delete from songmatch.match_contexts where user_id = %s", (E2E_USER,))


def bench_e2e(c: psycopg.Connection, dbg: DebugLines, model: str, port_file: str | None, runs: int,
              cached_calls: int, n_playlists: int, members: int, n_liked: int, res: dict) -> None:
    data = match_data.generate(n_playlists=n_playlists, members=members, n_liked=n_liked)
    load_e2e(c, data)
    model_key = f"inferences:{model}"
    q = "select * from songmatch.match_songs_to_playlists(%s)"
    detail: dict = {"liked": n_liked, "playlists": n_playlists, "members_per_playlist": members}

    # (a) the seed's design
    if port_file:
        port = int(Path(port_file).read_text().strip())
        svc = Http(port)
        for _ in range(8):
            svc.embed("warm-up text for the client")
        seed_runs = []
        for _ in range(runs):
            t0 = time.perf_counter()
            out = seed_design(c, svc)
            seed_runs.append(time.perf_counter() - t0)
        svc.conn.close()
        res["e2e_seed_ms"] = round(min(seed_runs) * 1000, 1)
        detail["seed_runs_ms"] = [ms(x) for x in seed_runs]
        detail["seed_posts"] = out["songs"] + out["member_songs"]
        log(f"e2e seed design: best {res['e2e_seed_ms']:.0f} ms ({detail['seed_posts']} POSTs)")
    else:
        res["e2e_seed_ms"] = None

    # (b) songmatch, nothing stored; a backend whose model session is loaded (the service is warm too)
    c.execute("select songmatch.embed('warm-up text for the backend')")
    cold_runs, cold_counters = [], []
    for _ in range(runs):
        reset_user_artifacts(c)
        c.execute("select songmatch.stats_reset()")
        dbg.take()
        t0 = time.perf_counter()
        rows = c.execute(q, (E2E_USER,)).fetchall()
        cold_runs.append(time.perf_counter() - t0)
        cold_counters.append(stats(c))
        detail["cold_phases_ms_all_playlists"] = summed_breakdown(dbg.take())
    if not rows:
        raise SystemExit("match_bench: match_songs_to_playlists returned nothing")
    res["e2e_cold_ms"] = round(min(cold_runs) * 1000, 1)
    detail["cold_runs_ms"] = [ms(x) for x in cold_runs]
    detail["cold_counters"] = cold_counters[-1]
    detail["rows"] = len(rows)

    # (c) the same call again: every playlist's context is cached
    c.execute("select songmatch.stats_reset()")
    cached_runs, parts = [], []
    for _ in range(cached_calls):
        t0 = time.perf_counter()
        again = c.execute(q, (E2E_USER,)).fetchall()
        cached_runs.append(time.perf_counter() - t0)
        parts.append(summed_breakdown(dbg.take()))
    st = stats(c)
    if st.get(model_key, 0) != 0 or st.get("context_misses", 0) != 0:
        raise SystemExit(f"match_bench: the cached end-to-end call ran inference or missed the cache: {st}")
    if [r[:4] for r in again] != [r[:4] for r in rows]:
        raise SystemExit("match_bench: the cached end-to-end call returned different rows")
    res["e2e_cached_ms"] = p50([x * 1000 for x in cached_runs])
    detail["cached_runs_ms"] = [ms(x) for x in cached_runs]
    detail["cached_counters"] = st
    detail["cached_phases_ms_all_playlists"] = median_breakdown(parts)
    seed = res["e2e_seed_ms"]
    res["e2e_cached_vs_seed"] = round(seed / res["e2e_cached_ms"], 1) if seed else None
    res["e2e_cold_vs_seed"] = round(seed / res["e2e_cold_ms"], 3) if seed else None
    res["e2e_detail"] = detail
    log(f"e2e songmatch: cold best {res['e2e_cold_ms']:.0f} ms, cached p50 {res['e2e_cached_ms']:.2f} ms; "
        f"cold counters {cold_counters[-1]}")


# ------------------------------------------------------------------------------------------------
# ------------------------------------------------------------------------------------------------
# 6. a live catalogue: matchers while writers change the catalogue (issue 29)
# ------------------------------------------------------------------------------------------------
def bench_churn(dsn: str, pid: int, cands: list[int], seconds: float, matchers: int, res: dict, trace_ms: float = 0) -> None:
    """match_playlist over 1,000 candidates (a random window of the synthetic tracks, top_k 20) from
    `matchers` sessions: first alone (idle), then while writers change popularity (>= 20 rows/s),
    rewrite analyses (each a new document of a track not rewritten before) and add tracks with
    analyses, and a CALL backfill('stale') loop makes the changes current. Failed calls of any
    session, p50/p99 of both phases, and the model runs per changed document (songmatch.stats:
    inferences less those the inference service shared, from the start of the churn until every
    stale mark is gone). With `trace_ms`, the matchers take songmatch's debug lines and the slowest
    calls over trace_ms of each phase are logged with theirs (where their time went)."""
    import random
    import threading

    windows = [cands[i:i + 1000] for i in range(0, len(cands) - 1000, 997)]

    slow: list = []

    def matcher(lat: list, errors: list, stop: threading.Event, seed: int) -> None:
        rnd = random.Random(seed)
        lines: list = []
        try:
            with connect(dsn) as c:
                if trace_ms > 0:
                    c.add_notice_handler(lambda d: lines.append(d.message_primary))
                    c.execute("set client_min_messages = debug1")
                while not stop.is_set():
                    w = id_array(rnd.choice(windows))
                    lines.clear()
                    t0 = time.perf_counter()
                    try:
                        c.execute(MATCH_Q, (pid, w, 20, None), binary=True).fetchall()
                        lat.append(time.perf_counter() - t0)
                        if trace_ms > 0 and lat[-1] * 1000 > trace_ms:
                            slow.append((lat[-1] * 1000, list(lines)))
                    except psycopg.Error as e:
                        errors.append(f"match: {e}")
        except psycopg.Error as e:
            errors.append(f"match session: {e}")

    def show_slow(name: str) -> None:
        if trace_ms <= 0:
            return
        slow.sort(key=lambda x: -x[0])
        inline = sum(1 for _, lines in slow if any("embedding:" in line and "misses" in line for line in lines))
        log(f"churn trace, {name}: {len(slow)} calls over {trace_ms:g} ms, {inline} of them embedding a changed "
            f"document; the slowest:")
        for ms, lines in slow[:8]:
            log(f"  {ms:.1f} ms")
            for line in lines:
                log(f"      {line}")
        slow.clear()

    def phase(writers: list) -> tuple[list, list]:
        lat: list = []
        errors: list = []
        stop = threading.Event()
        ts = [threading.Thread(target=matcher, args=(lat, errors, stop, k)) for k in range(matchers)]
        ts += [threading.Thread(target=w, args=(errors, stop)) for w in writers]
        for t in ts:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in ts:
            t.join()
        return lat, errors

    changed = {"docs": 0, "pop": 0}
    rewritten = iter(cands[::7])

    def paced(rate: float, body):
        def run(errors: list, stop: threading.Event) -> None:
            try:
                with connect(dsn) as c:
                    nxt = time.perf_counter()
                    while not stop.is_set():
                        try:
                            body(c)
                        except psycopg.Error as e:
                            errors.append(f"writer: {e}")
                        nxt += 1.0 / rate
                        time.sleep(max(0.0, nxt - time.perf_counter()))
            except psycopg.Error as e:
                errors.append(f"writer session: {e}")
        return run

    rnd = random.Random(7)

    def popularity(c) -> None:
        c.execute("update songmatch.tracks set popularity = (popularity + 1) %% 101 where id = %s", (rnd.choice(cands),))
        changed["pop"] += 1

    def rewrite(c) -> None:
        t = next(rewritten)
        c.execute("update songmatch.track_analyses set analysis = analysis || jsonb_build_object('summary', %s::text) "
                  " where track_id = %s", (f"churn rewrite of {t} at {time.time()}", t))
        changed["docs"] += 1

    def insert(c) -> None:
        c.execute("with t as (insert into songmatch.tracks (name, artist, album, release_date, popularity) "
                  "           values (%s, 'Churn artist', 'Churn album', '2024', 50) returning id) "
                  "insert into songmatch.track_analyses (track_id, analysis) "
                  "select id, jsonb_build_object('genres', jsonb_build_object('primary', 'jazz'), 'summary', 'new') from t",
                  (f"Churn song {time.time()}",))
        changed["docs"] += 1

    def backfill(errors: list, stop: threading.Event) -> None:
        try:
            with connect(dsn) as c:
                c.execute("set client_min_messages = warning")
                while not stop.is_set():
                    c.execute("call songmatch.backfill('stale', batch_size => 32)")
                    time.sleep(0.5)
        except psycopg.Error as e:
            errors.append(f"backfill: {e}")

    log(f"churn: {matchers} matchers, {seconds:.0f} s idle, then {seconds:.0f} s with writers")
    with connect(dsn) as c:
        # (the synthetic load marked every track stale, with the refresher off: the bench made its
        # vectors itself; only the churn's own changes are to be made current here)
        c.execute("delete from songmatch.stale_items")
    idle, idle_err = phase([])
    show_slow("idle")
    with connect(dsn) as c:
        model = c.execute("select embedding_model from songmatch.model_bundles where is_active").fetchone()[0]
        c.execute("select songmatch.stats_reset()")
    busy, busy_err = phase([paced(30, popularity), paced(2, rewrite), paced(1, insert), backfill])
    show_slow("churn")
    with connect(dsn) as c:
        c.execute("set client_min_messages = warning")
        for _ in range(20):
            c.execute("call songmatch.backfill('stale')")
            if not c.execute("select exists (select 1 from songmatch.stale_items where kind = 'embedding')").fetchone()[0]:
                break
        runs = stat(c, f"inferences:{model}") - stat(c, f"inferences_shared:{model}")
        deadlocks = c.execute("select deadlocks from pg_stat_database where datname = current_database()").fetchone()[0]
    errors = idle_err + busy_err
    busy, idle = [x * 1000 for x in busy], [x * 1000 for x in idle]
    res["churn_failed"] = len(errors)
    res["churn_match_p50_ms"] = p50(busy) if busy else None
    res["churn_match_p99_ms"] = pct(busy, 0.99) if busy else None
    res["idle_match_p50_ms"] = p50(idle) if idle else None
    res["idle_match_p99_ms"] = pct(idle, 0.99) if idle else None
    res["churn_inferences_per_changed_document"] = round(runs / changed["docs"], 3) if changed["docs"] else None
    res["churn_detail"] = {"matchers": matchers, "seconds": seconds, "calls_idle": len(idle), "calls_churn": len(busy),
                           "popularity_updates": changed["pop"], "changed_documents": changed["docs"],
                           "model_runs": runs, "deadlocks": deadlocks, "errors": errors[:5]}
    log(f"churn: p50/p99 idle {res['idle_match_p50_ms']}/{res['idle_match_p99_ms']} ms, churn "
        f"{res['churn_match_p50_ms']}/{res['churn_match_p99_ms']} ms; {len(errors)} failed; "
        f"{runs:.0f} model runs for {changed['docs']} changed documents")


def main() -> None:
    ap = argparse.ArgumentParser(description="songmatch matching latency (stage 1, cache, HNSW, end to end)")
    ap.add_argument("--dsn", required=True, help="any database of the server; the bench creates its own")
    ap.add_argument("--db", default="songmatch_bench")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=5, help="timed stage-1 calls per size (at most 3 at 100k)")
    ap.add_argument("--cached-calls", type=int, default=50)
    ap.add_argument("--hnsw-queries", type=int, default=50)
    ap.add_argument("--port-file", help="port file of a running bench/http_service.py (e2e seed design)")
    ap.add_argument("--e2e-runs", type=int, default=2)
    ap.add_argument("--e2e-cached-calls", type=int, default=10)
    ap.add_argument("--e2e-liked", type=int, default=200)
    ap.add_argument("--e2e-playlists", type=int, default=8)
    ap.add_argument("--e2e-members", type=int, default=15)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--churn-seconds", type=float, default=20, help="each phase of the churn bench (0 skips it)")
    ap.add_argument("--churn-matchers", type=int, default=4)
    ap.add_argument("--churn-only", action="store_true", help="only the churn bench (after building the catalogue)")
    ap.add_argument("--churn-trace", type=float, default=0, metavar="MS",
                    help="log the debug lines of the churn's calls slower than MS (where their time went)")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the database is dropped
    res: dict = {}
    create_db(args.dsn, args.db)
    try:
        with connect(make_conninfo(args.dsn, dbname=args.db)) as c:
            c.execute("create extension songmatch cascade")
            c.execute("select songmatch.register_bundle('default', true)")
            model, version = c.execute("select embedding_model, embedding_model_version from songmatch.model_bundles "
                                       "where is_active").fetchone()
            dims = 384
            res["library"] = library_info(c)
            cands, members, pid, _ = build_synthetic(c, max(sizes), model, version, res)
        # a fresh backend for the measurements
        if not args.churn_only:
            with connect(make_conninfo(args.dsn, dbname=args.db)) as c:
                dbg = DebugLines(c)
                c.execute("set client_min_messages = debug1")
                bench_stage1(c, dbg, pid, cands, model, version, sizes, args.runs, res)
                bench_stage2(c, pid, cands, args.runs, res)
                bench_recommend(c, dbg, pid, cands, args.runs, res)
                bench_cached(c, dbg, pid, cands, args.cached_calls, res)
                c.execute("set client_min_messages = notice")
                bench_hnsw(c, model, dims, res["hnsw_index"], args.hnsw_queries, res)
                c.execute("set client_min_messages = debug1")
                # (a cold run computes every embedding: the inference service's recent results of the
                # run before would answer its texts)
                c.execute("set songmatch.inference_reuse = off")
                bench_e2e(c, dbg, model, args.port_file, args.e2e_runs, args.e2e_cached_calls, args.e2e_playlists,
                          args.e2e_members, args.e2e_liked, res)
                c.execute("reset songmatch.inference_reuse")
        if args.churn_seconds > 0:
            bench_churn(make_conninfo(args.dsn, dbname=args.db), pid, cands, args.churn_seconds, args.churn_matchers, res,
                        args.churn_trace)
    finally:
        if not args.keep_db:
            drop_db(args.dsn, args.db)
    res["model"] = model
    with connect(args.dsn) as a:
        after = library_info(a)
    if after != res.get("library"):
        res["library_changed"] = after  # reinstalled during the bench: the numbers mix two builds
    print(json.dumps(res))


if __name__ == "__main__":
    main()
