#!/usr/bin/env python3
"""Discovery on real playlists: recall@20 of songmatch.recommend_for_playlist against
songmatch.match_playlist over the whole catalogue (the exact ranking, same config), and its latency.

Run against `make eval`'s database (the Spotify dev file loaded and embedded), e.g.
  target/venv-ref/bin/python bench/recommend_recall.py --dsn "host=127.0.0.1 port=54315 user=postgres dbname=songmatch_eval"
  ... --discovery '{"max_members": 32, "per_member": 80}'
Prints one JSON line. Each call uses a fresh config (a cache miss).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import psycopg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--playlists", type=int, default=12)
    ap.add_argument("--min-tracks", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--discovery", help="config.discovery as JSON")
    args = ap.parse_args()
    c = psycopg.connect(args.dsn, autocommit=True, options="-c songmatch.max_candidates=10000000 -c songmatch.max_batch_size=10000000")
    pls = [r[0] for r in c.execute(
        "select p.id from songmatch.playlists p where (select count(*) from songmatch.playlist_tracks pt where pt.playlist_id = p.id) >= %s"
        " order by p.id", (args.min_tracks,)).fetchall()]
    sample = random.Random(args.seed).sample(pls, min(args.playlists, len(pls)))
    catalogue = c.execute("select array_agg(id order by id) from songmatch.tracks").fetchone()[0]
    nonce = int(time.time()) % 100_000  # (a centroid weight moved by at most 1e-4: a new config, the same ranking)
    times, recalls, found = [], [], []
    for i, pid in enumerate(sample):
        cfg = {"weights": {"centroid": round(0.05 + 1e-9 * (nonce + i + 1), 12)}}
        if args.discovery:
            cfg["discovery"] = json.loads(args.discovery)
        members = {r[0] for r in c.execute("select track_id from songmatch.playlist_tracks where playlist_id = %s", (pid,))}
        t0 = time.perf_counter()
        rec = c.execute("select track_id, components -> 'discovery' ->> 'candidates' from songmatch.recommend_for_playlist(%s, 20, %s::jsonb)",
                        (pid, json.dumps(cfg))).fetchall()
        times.append(time.perf_counter() - t0)
        found.append(int(rec[0][1]) if rec else 0)
        cands = [x for x in catalogue if x not in members]
        exact = {r[0] for r in c.execute("select track_id from songmatch.match_playlist(%s, %s::bigint[], 20, %s::jsonb)",
                                         (pid, cands, json.dumps(cfg))).fetchall()}
        recalls.append(len({r[0] for r in rec} & exact) / 20)
    print(json.dumps({"playlists": len(sample), "catalogue": len(catalogue), "recommend_ms_p50": round(statistics.median(times) * 1000, 1),
                      "candidates_p50": statistics.median(found), "recall_at_20_mean": round(sum(recalls) / len(recalls), 3),
                      "recalls": recalls}))


if __name__ == "__main__":
    main()
