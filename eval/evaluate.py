#!/usr/bin/env python3
"""The evaluation after the load (called by eval/run.sh; Python standard library only).

1. builds the dataset (songmatch.eval_build_dataset) twice: the hash must not change;
2. evaluates the baselines (random, popularity, audio, embedding) and the full matcher with
   the default config (label full) on every playlist (songmatch.eval_run);
3. tunes honestly: the playlists are split in two halves by a seeded hash of their id (the
   dataset's `tune` / `test` halves). A grid of weights and members_top_k is searched on the
   tune half only: score_tracks' per-signal values are collected once per members_top_k and
   re-weighted here (stage 1 is Σ wᵢ·sᵢ / Σ wᵢ), the best grid points are then re-run for real
   with songmatch.eval_run(split => 'tune'), and the winner is evaluated on every playlist
   (label tuned). The figures that count are the test half's;
4. writes report.json, report.md and metrics.svg and prints ONE JSON line (the last line).
"""

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import report  # noqa: E402  (eval/report.py)

BASELINES = ["random", "popularity", "audio", "embedding"]
SIGNALS = ["members", "centroid", "query", "audio", "genre"]

# The grid (tune half only). Ratios matter, not scale: stage 1 divides by the sum of weights.
# genre: tracks of this data carry no genres, so the genre signal is absent and its weight has
# no effect; it stays at the default.
GRID = {
    "members_top_k": [1, 2, 3, 5, 10],
    "members": [0.3, 0.45, 0.6, 0.8],
    "centroid": [0.0, 0.05, 0.15],
    "query": [0.0, 0.1, 0.2, 0.3, 0.45],
    "audio": [0.0, 0.1, 0.2, 0.3, 0.45],
    "genre": [0.1],
}
CONFIRM = 5  # grid points re-run for real on the tune half

# With a learned ranker in the bundle the final score is (1 − β)·stage1 + β·σ(ranker): the stage-1
# re-weighting above cannot emulate it, so the tuning searches β (ranker_weight) with real runs.
RANKER_WEIGHTS = [0.0, 0.5, 0.7, 0.8, 0.9, 1.0]

# Ablation (test half): the full matcher, then stage 1 alone and stage 1 without each signal group.
ABLATION = [
    ("full", None),
    ("stage 1 only (no ranker)", {"ranker_weight": 0.0}),
    ("stage 1 − embeddings", {"ranker_weight": 0.0, "weights": {"members": 0, "centroid": 0, "query": 0}}),
    ("stage 1 − audio", {"ranker_weight": 0.0, "weights": {"audio": 0}}),
    ("stage 1 − catalogue", {"ranker_weight": 0.0, "weights": {"artist": 0, "album": 0, "year": 0, "popularity": 0}}),
    ("stage 1 − artist/album", {"ranker_weight": 0.0, "weights": {"artist": 0, "album": 0}}),
    ("stage 1 − year/popularity", {"ranker_weight": 0.0, "weights": {"year": 0, "popularity": 0}}),
]


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


class DB:
    def __init__(self, psql, dsn):
        self.psql, self.dsn = psql, dsn

    def value(self, sql, retries=2):
        """One statement. Every statement here is idempotent, so a lost connection (the server
        restarting after another backend crashed, e.g. when songmatch.so is replaced under it)
        is retried."""
        for attempt in range(retries + 1):
            p = subprocess.run([self.psql, self.dsn, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                               capture_output=True, text=True)
            if p.returncode == 0:
                return p.stdout.strip()
            lost = any(s in p.stderr for s in ("connection to server was lost", "server closed the connection",
                                               "terminating connection", "the database system is in recovery mode",
                                               "Connection refused", "the database system is starting up"))
            if not lost or attempt == retries:
                raise SystemExit(f"eval: psql failed: {p.stderr.strip()}\n  in: {sql[:400]}")
            log(f"lost the connection ({p.stderr.strip().splitlines()[0]}); retrying in 10 s")
            time.sleep(10)

    def json(self, sql):
        out = self.value(sql)
        return json.loads(out) if out else None


def lit(s):
    return "'" + str(s).replace("'", "''") + "'"


def jlit(v):
    return lit(json.dumps(v, sort_keys=True)) + "::jsonb"


# --- the metrics, as songmatch.eval_metrics computes them (used for the grid only) -----------
def metrics(ranked, relevant, k):
    rel = set(relevant)
    seen, dcg, hits, rr = set(), 0.0, 0, 0.0
    i = 0
    for x in ranked:
        if x in seen:
            continue
        seen.add(x)
        if x in rel:
            if rr == 0.0:
                rr = 1.0 / (i + 1)
            if i < k:
                dcg += 1.0 / math.log2(i + 2)
                hits += 1
        i += 1
    if not rel:
        return 0.0, 0.0, 0.0
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / idcg, hits / len(rel), rr


def mean(xs):
    return sum(xs) / len(xs) if xs else 0.0


def half_means(run, half):
    rows = [p for p in run["per_playlist"] if half == "all" or p["half"] == half]
    return {"ndcg": round(mean([p["ndcg"] for p in rows]), 6),
            "recall": round(mean([p["recall"] for p in rows]), 6),
            "mrr": round(mean([p["mrr"] for p in rows]), 6),
            "playlists": len(rows)}


def stored_run(db, run_id):
    return db.json(f"select json_build_object('per_playlist', per_playlist, 'metrics', metrics, 'config', config) "
                   f"from songmatch.eval_runs where id = {int(run_id)}")


def eval_run(db, ds, label=None, config=None, k=10, split="all"):
    args = [lit(ds)]
    args.append(f"config => {jlit(config)}" if config is not None else "config => null")
    args.append(f"k => {int(k)}")
    if label is not None:
        args.append(f"label => {lit(label)}")
    args.append(f"split => {lit(split)}")
    t = time.time()
    r = db.json(f"select songmatch.eval_run({', '.join(args)})")
    r["seconds"] = round(time.time() - t, 1)
    return r


# --- the grid -------------------------------------------------------------------------------------
def collect_components(db, ds, top_k):
    """Per tune playlist: held-out ids and, per candidate, the value of every signal."""
    cfg = {"members_top_k": top_k}
    sql = f"""
    select json_agg(json_build_object('p', x.playlist_id, 'h', x.heldout, 'c',
             (select json_agg(json_build_array(s.track_id,
                      s.components -> 'members' -> 'value', s.components -> 'centroid' -> 'value',
                      s.components -> 'query' -> 'value', s.components -> 'audio' -> 'value',
                      s.components -> 'genre' -> 'value'))
                from songmatch.score_tracks(x.members, x.candidates, x.playlist_id, null, {jlit(cfg)}) s))
           order by x.playlist_id)
      from (select p.playlist_id,
                   array_agg(i.track_id order by i.track_id) filter (where i.role = 'profile') as members,
                   array_agg(i.track_id order by i.track_id) filter (where i.role = 'heldout') as heldout,
                   array_agg(i.track_id order by i.track_id) filter (where i.role <> 'profile') as candidates
              from songmatch.eval_playlists p
              join songmatch.eval_items i using (dataset_hash, playlist_id)
             where p.dataset_hash = {lit(ds)} and p.half = 'tune'
             group by p.playlist_id) x"""
    return db.json(sql) or []


def grid_score(data, weights, k):
    nd, rc, mr = [], [], []
    for pl in data:
        scored = []
        for row in pl["c"] or []:
            tid, vals = row[0], row[1:]
            num = den = 0.0
            for s, v in zip(SIGNALS, vals):
                if v is None:
                    continue
                w = weights[s]
                num += w * v
                den += w
            scored.append((-(num / den) if den > 0 else 0.0, tid))
        scored.sort()
        n, r, m = metrics([t for _, t in scored], pl["h"], k)
        nd.append(n)
        rc.append(r)
        mr.append(m)
    return mean(nd), mean(rc), mean(mr)


def config_of(point):
    w = {s: point[s] for s in SIGNALS}
    w["emotion"] = 0.0
    return {"weights": w, "members_top_k": point["members_top_k"]}


def tune(db, ds, k, default_cfg):
    t0 = time.time()
    keys = [s for s in SIGNALS]
    points = []
    comps = {}
    for top_k in GRID["members_top_k"]:
        log(f"tuning: collecting signal values on the tune half (members_top_k {top_k})")
        comps[top_k] = collect_components(db, ds, top_k)
    for top_k in GRID["members_top_k"]:
        for combo in itertools.product(*[GRID[s] for s in keys]):
            point = dict(zip(keys, combo))
            if sum(point.values()) <= 0:
                continue
            point["members_top_k"] = top_k
            nd, rc, mr = grid_score(comps[top_k], point, k)
            points.append({"point": point, "ndcg": nd, "recall": rc, "mrr": mr})
    points.sort(key=lambda p: (-p["ndcg"], -p["mrr"], json.dumps(p["point"], sort_keys=True)))
    # the emulation must agree with the extension: the default config, re-weighted here and run for real
    dpoint = {s: default_cfg["weights"].get(s, 0.0) for s in SIGNALS}
    dpoint["members_top_k"] = default_cfg["members_top_k"]
    emulated_default = None
    if dpoint["members_top_k"] in comps:
        emulated_default = grid_score(comps[dpoint["members_top_k"]], dpoint, k)[0]
    log(f"tuning: {len(points)} grid points scored; confirming the best {CONFIRM} with eval_run on the tune half")
    confirmed = []
    for i, p in enumerate(points[:CONFIRM]):
        r = eval_run(db, ds, label=f"grid-{i + 1}", config=config_of(p["point"]), k=k, split="tune")
        confirmed.append({"point": p["point"], "config": config_of(p["point"]), "grid_ndcg": round(p["ndcg"], 6),
                          "ndcg": r["ndcg"], "recall": r["recall"], "mrr": r["mrr"], "run_id": r["run_id"]})
    best = sorted(confirmed, key=lambda c: (-c["ndcg"], -c["mrr"]))[0]
    return {
        "grid": GRID,
        "points": len(points),
        "top": [{"point": p["point"], "ndcg": round(p["ndcg"], 6), "recall": round(p["recall"], 6),
                 "mrr": round(p["mrr"], 6)} for p in points[:10]],
        "confirmed": confirmed,
        "chosen": best["config"],
        "emulated_default_tune_ndcg": None if emulated_default is None else round(emulated_default, 6),
        "seconds": round(time.time() - t0, 1),
    }


def tune_ranker(db, ds, k):
    """β (ranker_weight) on the tune half, with real runs."""
    t0 = time.time()
    confirmed = []
    for w in RANKER_WEIGHTS:
        cfg = {"ranker_weight": w}
        r = eval_run(db, ds, label=f"ranker-weight-{w}", config=cfg, k=k, split="tune")
        confirmed.append({"config": cfg, "ndcg": r["ndcg"], "recall": r["recall"], "mrr": r["mrr"], "run_id": r["run_id"]})
        log(f"tuning: ranker_weight {w}: NDCG@{k} {r['ndcg']:.4f} on the tune half")
    best = sorted(confirmed, key=lambda c: (-c["ndcg"], -c["mrr"]))[0]
    return {"kind": "ranker_weight", "confirmed": confirmed, "chosen": best["config"],
            "seconds": round(time.time() - t0, 1)}


def ablation(db, ds, k):
    out = []
    for name, cfg in ABLATION:
        r = eval_run(db, ds, label=f"ablation: {name}", config=cfg, k=k, split="test")
        out.append({"name": name, "config": cfg, "ndcg": r["ndcg"], "recall": r["recall"], "mrr": r["mrr"]})
        log(f"ablation   {name:28s} NDCG@{k} {r['ndcg']:.4f} (test half)")
    return out


def cross_validate(a):
    """eval/cv.py in the ranker's venv: k-fold cross-validation by playlist of stage 1 + the learned
    ranker trained as the shipped one is (its last stdout line is {"cv": {...}})."""
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [a.cv_python, os.path.join(here, "cv.py"), "--dsn", a.dsn, "--psql", a.psql, "--folds", str(a.cv_folds),
           "--seed", str(a.seed), "--k", str(a.k), "--holdout", str(a.holdout), "--negatives", str(a.negatives),
           "--min-tracks", str(a.min_tracks), "--json-out", os.path.join(a.out, "cv.json")]
    log(f"cross-validation by playlist ({a.cv_folds} folds): {' '.join(cmd[1:2])}")
    t = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"eval: cv.py failed ({p.returncode})")
    cv = json.loads(p.stdout.strip().splitlines()[-1])["cv"]
    log(f"cv: NDCG@{a.k} {cv['full']['ndcg']:.4f} ± {cv['full']['ndcg_sd']:.4f} over {cv['folds']} folds "
        f"(stage 1 alone {cv['stage1']['ndcg']:.4f}) in {round(time.time() - t)} s")
    return cv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--psql", default="psql")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--negatives", type=int, default=100)
    ap.add_argument("--min-tracks", type=int, default=10)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--data-name", default="")
    ap.add_argument("--embed-seconds", type=float, default=None)
    ap.add_argument("--started", type=float, default=None)
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--cv-python", default=None,
                    help="the ranker venv's python: runs eval/cv.py (k-fold CV by playlist) and reports it as `cv`")
    ap.add_argument("--cv-folds", type=int, default=5)
    a = ap.parse_args()
    started = a.started or time.time()
    db = DB(a.psql, a.dsn)
    os.makedirs(a.out, exist_ok=True)

    t = time.time()
    build = (f"select songmatch.eval_build_dataset(seed => {a.seed}, holdout => {a.holdout}, "
             f"negatives => {a.negatives}, min_tracks => {a.min_tracks})")
    ds = db.value(build)
    build_s = round(time.time() - t, 1)
    again = db.value(build)
    if again != ds:
        raise SystemExit(f"eval: the dataset is not deterministic: {ds} then {again}")
    info = db.json(f"select json_build_object('params', params, 'summary', summary) from songmatch.eval_datasets "
                   f"where dataset_hash = {lit(ds)}")
    log(f"dataset {ds}: {json.dumps(info['summary'])} (built in {build_s} s; rebuilt: same hash)")

    runs = {}
    for label in BASELINES + ["full"]:
        r = eval_run(db, ds, label=label, k=a.k)
        runs[label] = r
        log(f"{label:10s} NDCG@{a.k} {r['ndcg']:.4f}  Recall@{a.k} {r['recall']:.4f}  MRR {r['mrr']:.4f}  ({r['seconds']} s)")
    default_cfg = runs["full"]["config"]
    stage2 = db.json("select json_build_object('ranker', ranker_model, 'reranker', reranker_model) "
                     "from songmatch.model_bundles where is_active") or {"ranker": None, "reranker": None}
    log(f"stage 2 of the active bundle: {json.dumps(stage2)}")

    tuning = None
    if not a.no_tune:
        tuning = tune_ranker(db, ds, a.k) if stage2.get("ranker") else tune(db, ds, a.k, default_cfg)
        r = eval_run(db, ds, label="tuned", config=tuning["chosen"], k=a.k)
        runs["tuned"] = r
        log(f"{'tuned':10s} NDCG@{a.k} {r['ndcg']:.4f}  Recall@{a.k} {r['recall']:.4f}  MRR {r['mrr']:.4f}  ({r['seconds']} s)")
        log(f"chosen on the tune half: {json.dumps(tuning['chosen'], sort_keys=True)}")

    halves = {}
    for label, r in runs.items():
        stored = stored_run(db, r["run_id"])
        halves[label] = {h: half_means(stored, h) for h in ("all", "tune", "test")}
        halves[label]["config"] = stored["config"]
        halves[label]["config_hash"] = r["config_hash"]
        halves[label]["seconds"] = r["seconds"]

    abl = ablation(db, ds, a.k)
    if tuning is not None and tuning.get("kind") != "ranker_weight":
        d = halves["full"]["tune"]["ndcg"]
        e = tuning["emulated_default_tune_ndcg"]
        tuning["emulation_check"] = {"eval_run_default_tune_ndcg": d, "emulated": e,
                                     "abs_diff": None if e is None else round(abs(d - e), 6)}

    cv = cross_validate(a) if a.cv_python else None

    pick = lambda r: {m: r[m] for m in ("ndcg", "recall", "mrr")}
    result = {
        "dataset_hash": ds,
        "playlists": info["summary"]["playlists"],
        "k": a.k,
        "full": pick(runs["full"]),
        "baselines": {b: pick(runs[b]) for b in BASELINES},
        "stage2": stage2,
        "ablation": {x["name"]: pick(x) for x in abl},
    }
    if tuning is not None:
        result["tuned"] = {"config": tuning["chosen"], "tune": pick(halves["tuned"]["tune"]),
                           "test": pick(halves["tuned"]["test"])}
        result["test_half"] = {label: pick(halves[label]["test"]) for label in runs}
    if cv is not None:
        result["cv"] = {"full": {k: cv["full"][k] for k in ("ndcg", "ndcg_sd", "per_fold")},
                        "stage1": {k: cv["stage1"][k] for k in ("ndcg", "ndcg_sd")},
                        "folds": cv["folds"]}
    result["seconds"] = round(time.time() - started)

    full = {
        "result": result,
        "data": a.data_name,
        "params": info["params"],
        "summary": info["summary"],
        "dataset_build_seconds": build_s,
        "embed_seconds": a.embed_seconds,
        "runs": halves,
        "tuning": tuning,
        "ablation": abl,
        "bundle_hash": runs["full"]["bundle_hash"],
        "cv": cv,
    }
    with open(os.path.join(a.out, "report.json"), "w") as f:
        json.dump(full, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write(report.markdown(full))
    with open(os.path.join(a.out, "metrics.svg"), "w") as f:
        f.write(report.svg(full))
    log(f"wrote {a.out}/report.md, report.json, metrics.svg")
    print(json.dumps(result, sort_keys=False))


if __name__ == "__main__":
    main()
