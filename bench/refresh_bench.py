#!/usr/bin/env python3
"""The background refresh (issue 13) against CALL songmatch.backfill, in one database.

1. N generated tracks (bench/backfill_bench.py's catalogue) and 4 playlists of 20 of them; the
   database's refresher is off. `CALL songmatch.backfill('stale')` makes everything current:
   backfill_s.
2. match_playlist p50 with nothing else running (cache misses: 200 random stored candidates per
   call): match_p50_idle_ms.
3. N more tracks are inserted and the refresher is switched on (ALTER DATABASE ... SET
   songmatch.auto_refresh = on: no CALL). refresh_s = the time until all of them are current
   (embeddings, emotions, genres; the same work as step 1); meanwhile match_playlist is measured
   as in step 2: match_p50_refreshing_ms.
Prints one JSON object: refresh_5000_s, backfill_5000_s, refresh_vs_backfill (backfill time /
refresh time: >= 0.9 is the goal), match_p50_idle_ms, match_p50_refreshing_ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from backfill_bench import load_catalogue


def current(c: psycopg.Connection) -> int:
    return c.execute("""
        select count(*) from songmatch.tracks t join songmatch.track_content tc on tc.track_id = t.id
         where exists (select 1 from songmatch.track_embeddings e where e.track_id = t.id and e.content_hash = tc.document_hash)
           and exists (select 1 from songmatch.track_emotions m where m.track_id = t.id and m.content_hash = tc.document_hash)
           and exists (select 1 from songmatch.track_genres g where g.track_id = t.id and g.content_hash = tc.document_hash)
    """).fetchone()[0]


def match_once(c: psycopg.Connection, rng: random.Random, n: int) -> float:
    pid = rng.randint(1, 4)
    cands = rng.sample(range(81, n + 1), 200)
    t0 = time.perf_counter()
    c.execute("select count(*) from songmatch.match_playlist(%s, %s::bigint[], top_k => 20)", (pid, cands))
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--db", default="songmatch_bench_refresh")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()

    def log(msg: str) -> None:
        print(f"==> refresh bench: {msg}", file=sys.stderr, flush=True)

    res: dict = {"refresh_n": args.n}
    with psycopg.connect(args.dsn, autocommit=True) as a:
        a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
        a.execute(sql.SQL("create database {}").format(sql.Identifier(args.db)))
        a.execute(sql.SQL("alter database {} set songmatch.auto_refresh = off").format(sql.Identifier(args.db)))
        # (every document run by the model in both ways compared: no answer from the service's recent results)
        a.execute(sql.SQL("alter database {} set songmatch.inference_reuse = off").format(sql.Identifier(args.db)))
    dsn = make_conninfo(args.dsn, dbname=args.db)
    rng = random.Random(7)
    try:
        with psycopg.connect(dsn, autocommit=True) as c:
            preloaded = c.execute("select current_setting('shared_preload_libraries') ~ 'songmatch'").fetchone()[0]
            if not preloaded:
                log("songmatch is not preloaded: no refresher to measure")
                print(json.dumps({"refresh_error": "songmatch is not in shared_preload_libraries"}))
                return
            c.execute("create extension songmatch cascade")
            load_catalogue(c, args.n)
            c.execute("""insert into songmatch.playlists (id, external_id, owner_id, name, description)
                         select p, 'bench:p' || p, '00000000-0000-4000-8000-000000000001', 'Bench playlist ' || p, 'generated'
                           from generate_series(1, 4) p""")
            c.execute("""insert into songmatch.playlist_tracks (playlist_id, track_id, position)
                         select 1 + (g - 1) / 20, g, g from generate_series(1, 80) g""")
            log(f"CALL backfill('stale') over {args.n} tracks")
            t0 = time.perf_counter()
            c.execute("call songmatch.backfill('stale', batch_size => 64)")
            res["backfill_5000_s"] = round(time.perf_counter() - t0, 1)
            if current(c) != args.n:
                raise SystemExit(f"after the backfill only {current(c)} of {args.n} tracks are current")
            idle = [match_once(c, rng, args.n) for _ in range(30)]
            res["match_p50_idle_ms"] = round(statistics.median(idle), 1)

            log(f"{args.n} more tracks; the refresher switched on")
            load_catalogue(c, args.n, offset=args.n)
            t0 = time.perf_counter()
            with psycopg.connect(args.dsn, autocommit=True) as a:
                a.execute(sql.SQL("alter database {} set songmatch.auto_refresh = on").format(sql.Identifier(args.db)))
            busy: list[float] = []
            deadline = time.perf_counter() + args.timeout
            while True:
                busy.append(match_once(c, rng, args.n))
                left = c.execute("select count(*) from songmatch.stale_items where kind <> 'profile'").fetchone()[0]
                if left == 0 and current(c) == 2 * args.n:
                    break
                if time.perf_counter() > deadline:
                    raise SystemExit(f"the refresher did not finish within {args.timeout} s ({left} stale)")
                time.sleep(0.2)
            res["refresh_5000_s"] = round(time.perf_counter() - t0, 1)
            res["match_p50_refreshing_ms"] = round(statistics.median(busy), 1)
            res["match_calls_refreshing"] = len(busy)
            res["refresh_vs_backfill"] = round(res["backfill_5000_s"] / res["refresh_5000_s"], 3)
            rate = c.execute("select coalesce(sum(items_per_s_1m), 0) from songmatch.pipeline_status").fetchone()[0]
            res["refresh_items_per_s_1m"] = float(rate)
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as a:
            a.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(args.db)))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
