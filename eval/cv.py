#!/usr/bin/env python3
"""k-fold cross-validation by playlist of songmatch's whole ranking procedure (stage 1 + learned ranker).

    target/venv-ranker/bin/python eval/cv.py --dsn "... dbname=songmatch_eval" [--folds 5] [--json-out F]

`make eval` runs it (eval/evaluate.py calls it after its own runs). It answers: how well does
the *procedure* that produces the shipped ranker (models/ranker/train.py) rank playlists it never
saw? The dev file's playlists of the seed-42 dataset are split into `--folds` folds by
md5('42:cv-fold:' || playlist id); for each fold:

* the ranker is trained exactly as train.py trains the shipped one, on the other folds' playlists
  only (their groups in the seed-42 dataset and in the extra seeds' datasets): a quarter of those
  playlists validates the grid with early stopping, the best point is refit on all of them;
* β (ranker_weight) is chosen on that same validation quarter (a model trained without it scores
  it), from the grid evaluate.py tunes;
* the fold's playlists are then ranked as songmatch ranks them: score = (1 − β)·stage1 + β·σ(raw)
  with stage 1 from `score_tracks(..., config => {"ranker_weight": 0})` (exactly stage 1), ties by
  track id, NDCG@k as crates/songmatch-core/src/metrics.rs.

Nothing of a fold's playlists (in any dataset) is seen by its model or its β. The report is the mean
of the fold means and their standard deviation, plus the pooled mean over all playlists.

A parity check proves the harness ranks as the database does: the active bundle's ranker
(models/ranker/ranker.onnx, scored with onnxruntime) blended with the default β over the same
stage-1 scores must reproduce the stored `full` eval_run of the dataset, playlist by playlist.

`--experiment NAME[,NAME]` adds features computed here (not by the database) to see whether they
would help; the report names them. The default run adds none, so it measures what ships.
Folds run in two processes (one LightGBM thread each); the result does not depend on that.
The last line printed is one JSON object: {"cv": {"full": {"ndcg", "ndcg_sd", ...}, "folds", ...}}.
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "ranker"))
import train as T  # noqa: E402  (the shipped ranker's training procedure, reused as it is)

BETAS = [0.0, 0.5, 0.7, 0.8, 0.9, 1.0]   # evaluate.py's tune_ranker grid
DEFAULT_BETA = 0.8


def log(msg):
    print(f"==> cv: {msg}", file=sys.stderr, flush=True)


# =============================================================================================
# data
# =============================================================================================
def fold_of(seed, playlists, folds):
    order = sorted(playlists, key=lambda p: (hashlib.md5(f"{seed}:cv-fold:{p}".encode()).hexdigest(), p))
    return {p: i % folds for i, p in enumerate(order)}


def read_dataset(db, h, stage1):
    """One group per playlist of dataset h: (playlist, track ids by id, labels, X, stage-1 scores
    or None, members)."""
    lit = T.lit(h)
    items = db.rows(f"select playlist_id, track_id, role from songmatch.eval_items where dataset_hash = {lit} "
                    f"order by playlist_id, track_id")
    labels, members = {}, {}
    for pid, tid, role in items:
        pid, tid = int(pid), int(tid)
        if role == "profile":
            members.setdefault(pid, []).append(tid)
        else:
            labels.setdefault(pid, {})[tid] = 1 if role == "heldout" else 0
    # per playlist: its members (profile items) and candidates (held-out and negative items)
    groups_sql = (f"with g as (select i.playlist_id, "
                  f"  coalesce(array_agg(i.track_id order by i.track_id) filter (where i.role = 'profile'), '{{}}') as m, "
                  f"  array_agg(i.track_id order by i.track_id) filter (where i.role in ('heldout', 'negative')) as c "
                  f"  from songmatch.eval_items i where i.dataset_hash = {lit} group by i.playlist_id) ")
    feats = {}
    for pid, tid, arr in db.rows(
            groups_sql + "select g.playlist_id, f.track_id, f.features from g "
            "cross join lateral songmatch.ranker_features(g.m, g.c, g.playlist_id) f"):
        feats[(int(pid), int(tid))] = T.parse_real_array(arr)
    s1 = {}
    if stage1:
        for pid, tid, score in db.rows(
                groups_sql + "select g.playlist_id, s.track_id, s.score from g cross join lateral "
                "songmatch.score_tracks(g.m, g.c, g.playlist_id, null, '{\"ranker_weight\": 0}'::jsonb) s"):
            s1[(int(pid), int(tid))] = float(score)
    groups = []
    for pid in sorted(labels):
        tids = sorted(labels[pid])
        missing = [t for t in tids if (pid, t) not in feats or (stage1 and (pid, t) not in s1)]
        if missing:
            raise RuntimeError(f"dataset {h}: playlist {pid}: no features/stage 1 for {missing[:3]}")
        groups.append({
            "pid": pid, "tids": np.array(tids, dtype=np.int64),
            "y": np.array([labels[pid][t] for t in tids], dtype=np.int32),
            "X": np.stack([feats[(pid, t)] for t in tids]),
            "s1": np.array([s1[(pid, t)] for t in tids]) if stage1 else None,
            "members": members.get(pid, []),
        })
    return groups


# =============================================================================================
# experiments: features computed here, from the same dataset (never from held-out items)
# =============================================================================================
def membership(db, h):
    """Every playlist's tracks as the evaluation of dataset h may know them (evaluation_membership)."""
    lit = T.lit(h)
    pairs = [(int(p), int(t)) for p, t in db.rows("select playlist_id, track_id from songmatch.playlist_tracks")]
    items = [(int(p), int(t), r) for p, t, r in db.rows(
        f"select playlist_id, track_id, role from songmatch.eval_items where dataset_hash = {lit}")]
    return evaluation_membership(pairs, items)


def evaluation_membership(pairs, items):
    """{playlist: set of tracks} from (playlist, track) pairs, where a playlist of the dataset
    (items: (playlist, track, role)) keeps only its `profile` items: its held-out tracks are what is
    being predicted, so they are nobody's evidence, anywhere. Any other playlist keeps all of its
    tracks."""
    in_dataset = {p for p, _, _ in items}
    profile = {(p, t) for p, t, r in items if r == "profile"}
    m = {}
    for p, t in pairs:
        if p in in_dataset and (p, t) not in profile:
            continue
        m.setdefault(p, set()).add(t)
    return m


def cooc_features(groups, member_sets):
    """Per candidate c of playlist P (members M): other playlists Q != P holding c, and how many of
    M each holds. Features: log1p(#Q holding c and any member), (Σ_Q |Q ∩ M|) / |M|.
    Not a feature: the number of playlists holding c at all. In this protocol it names the answer
    (every negative comes from some playlist; most held-out tracks are in no playlist but P, whose
    held-out items are removed): it lifted the CV mean by 0.08 in a first try, a leak, not a signal."""
    holders = {}
    for q, ts in member_sets.items():
        for t in ts:
            holders.setdefault(t, set()).add(q)
    for g in groups:
        p, M = g["pid"], set(g["members"])
        # the leakage guard: nothing predicted may be anybody's member evidence
        held = {int(t) for t, y in zip(g["tids"], g["y"]) if y == 1}
        if held & member_sets.get(p, set()):
            raise RuntimeError(f"playlist {p}: held-out tracks among its own members")
        overlap = {}
        for m in M:
            for q in holders.get(m, ()):
                if q != p:
                    overlap[q] = overlap.get(q, 0) + 1
        rows = []
        for t in g["tids"]:
            qs = [q for q in holders.get(int(t), ()) if q != p]
            hit = [overlap[q] for q in qs if q in overlap]
            rows.append([math.log1p(len(hit)), sum(hit) / max(1, len(M))])
        g["extra"].append(np.array(rows, dtype=np.float32))
    return ["cooc_playlists", "cooc_members"]


META_SQL = """
set songmatch.max_batch_size = 100000;
drop table if exists public.cv_meta_emb;
create table public.cv_meta_emb (id bigint primary key, meta vector);
insert into public.cv_meta_emb
select x.ids[e.ord], e.embedding
  from (select array_agg(id order by id) as ids,
               array_agg(t.name || ' by ' || t.artist || coalesce(', from the album ' || t.album, '')
                         || coalesce(' (' || left(t.release_date, 4) || ')', '') order by id) as texts
          from songmatch.tracks t) x
 cross join lateral songmatch.embed_batch(x.texts) e;
"""


def meta_features(db, groups_by_dataset):
    """Cosines of the candidate to the members with embeddings of a metadata-only text ("title by
    artist, from the album X (year)"), read from public.cv_meta_emb (made for this experiment):
    the best, the mean of the best 3, and the cosine to the members' mean."""
    if (db.value("select to_regclass('public.cv_meta_emb') is null") == "t"
            or db.value("select count(*) from songmatch.tracks t "
                        "where not exists (select 1 from public.cv_meta_emb e where e.id = t.id)") != "0"):
        log("meta: embedding every track's metadata-only text into public.cv_meta_emb")
        db.value(META_SQL)
    emb = {}
    for tid, vec in db.rows("select id, meta::text from public.cv_meta_emb"):
        v = np.array([float(x) for x in vec.strip("[]").split(",")], dtype=np.float64)
        emb[int(tid)] = v / (np.linalg.norm(v) or 1.0)
    for groups in groups_by_dataset:
        for g in groups:
            C = np.stack([emb[int(t)] for t in g["tids"]])
            if g["members"]:
                Mv = np.stack([emb[t] for t in g["members"]])
                cos = C @ Mv.T
                top = -np.sort(-cos, axis=1)
                cen = Mv.mean(axis=0)
                cen /= np.linalg.norm(cen) or 1.0
                f = np.stack([top[:, 0], top[:, :3].mean(axis=1), C @ cen], axis=1)
            else:
                f = np.zeros((len(C), 3))
            g["extra"].append(f.astype(np.float32))
    return ["meta_top1", "meta_top3", "meta_centroid"]


def artist_cooc_features(db, groups, member_sets):
    """Artist co-occurrence: other playlists Q != P that hold a member of P and another track (not
    the candidate itself) by the candidate's artist. Features: log1p(#such Q), and that count over
    the number of other playlists holding a member."""
    artist = {int(t): a for t, a in db.rows("select id, artist from songmatch.tracks")}
    by_artist = {}     # artist -> {playlist: number of its tracks by that artist}
    holders = {}
    for q, ts in member_sets.items():
        for t in ts:
            holders.setdefault(t, set()).add(q)
            d = by_artist.setdefault(artist.get(t), {})
            d[q] = d.get(q, 0) + 1
    for g in groups:
        p, M = g["pid"], g["members"]
        near = set()
        for m in M:
            near |= holders.get(m, set())
        near.discard(p)
        rows = []
        for t in g["tids"]:
            t = int(t)
            d = by_artist.get(artist.get(t), {})
            n = sum(1 for q in near if d.get(q, 0) - (1 if t in member_sets.get(q, ()) else 0) > 0)
            rows.append([math.log1p(n), n / max(1, len(near))])
        g["extra"].append(np.array(rows, dtype=np.float32))
    return ["artist_cooc", "artist_cooc_share"]


KNN_AUDIO = ["danceability", "energy", "valence", "tempo", "acousticness", "instrumentalness", "speechiness",
             "liveness", "loudness"]


def knn_features(db, groups_by_dataset):
    """Nearest members rather than the members' mean: in catalogue-standardised audio space the
    distance to the nearest member and the mean of the 3 nearest; the smallest year difference."""
    cols = ", ".join(f"(analysis -> 'audio' ->> '{k}')::float8" for k in KNN_AUDIO)
    audio, year = {}, {}
    for row in db.rows(f"select t.id, nullif(left(t.release_date, 4), '')::int, {cols} from songmatch.tracks t "
                       f"left join songmatch.track_analyses a on a.track_id = t.id"):
        audio[int(row[0])] = np.array([float(x) if x != "" else np.nan for x in row[2:]])
        year[int(row[0])] = float(row[1]) if row[1] != "" else np.nan
    A = np.stack(list(audio.values()))
    mu, sd = np.nanmean(A, axis=0), np.nanstd(A, axis=0) + 1e-9
    z = {t: np.nan_to_num((v - mu) / sd) for t, v in audio.items()}
    for groups in groups_by_dataset:
        for g in groups:
            C = np.stack([z[int(t)] for t in g["tids"]])
            cy = np.array([year[int(t)] for t in g["tids"]])
            if g["members"]:
                Mv = np.stack([z[t] for t in g["members"]])
                my = np.array([year[t] for t in g["members"]])
                d = np.sqrt(((C[:, None, :] - Mv[None, :, :]) ** 2).sum(axis=2))
                ds = np.sort(d, axis=1)
                yd = np.abs(cy[:, None] - my[None, :])
                ynn = np.nan_to_num(np.nanmin(np.where(np.isnan(yd), np.inf, yd), axis=1), posinf=-1.0)
                f = np.stack([ds[:, 0], ds[:, :3].mean(axis=1), ynn], axis=1)
            else:
                f = np.full((len(C), 3), -1.0)
            g["extra"].append(f.astype(np.float32))
    return ["audio_nn1", "audio_nn3", "year_nn1"]


def groupnorm_features(groups, names, which):
    """Per-playlist normalisation: a feature's rank among the playlist's candidates (0..1)."""
    idx = [names.index(n) for n in which]
    for g in groups:
        X = g["X"][:, idx].astype(np.float64)
        r = np.argsort(np.argsort(-X, axis=0, kind="stable"), axis=0, kind="stable")
        g["extra"].append((r / max(1, len(X) - 1)).astype(np.float32))
    return [f"rank_{n}" for n in which]


# =============================================================================================
# folds
# =============================================================================================
def ndcg_by_id(scores, labels, tids, k):
    """metrics.rs with the database's order: best score first, ties by track id."""
    order = sorted(range(len(tids)), key=lambda i: (-scores[i], tids[i]))
    rel = labels[order][:k]
    dcg = float(np.sum(rel / np.log2(np.arange(2, len(rel) + 2))))
    idcg = float(np.sum(1.0 / np.log2(np.arange(2, min(k, int(labels.sum())) + 2))))
    return dcg / idcg if idcg > 0 else 0.0


def squash(raw):
    return 1.0 / (1.0 + np.exp(-raw.astype(np.float32).astype(np.float64)))


def training_groups(data, fold, f):
    """Fold f's training data: every dataset's groups of the playlists of the other folds, as
    train.py's tuples (dataset index, playlist, ids, labels, X) in its seeded row order."""
    tg = []
    for di, gs in enumerate(data):
        for g in gs:
            if fold[g["pid"]] == f:
                continue
            pos = {int(t): i for i, t in enumerate(g["tids"])}
            o = np.array([pos[t] for t in T.tie_order(g["pid"], pos)])
            tg.append((di, g["pid"], g["tids"][o], g["y"][o], g["Xf"][o]))
    return tg


def run_fold(job):
    f, names, train_groups, test42, val_ids, k, grid = job
    T.FEATURE_NAMES = list(names)
    if grid is not None:
        T.GRID = grid
    t0 = time.time()
    results, best, tr, va = T.search(train_groups, val_ids)
    chosen = results[best]
    params = dict(T.BASE_PARAMS, **chosen["point"])
    n_trees = max(1, chosen["trees"])
    # β on the validation quarter: the model trained without it scores it (seed-42 groups, with stage 1)
    inner = T.train_booster(params, tr, n_trees)
    val_sq = [(g, squash(inner.predict(g["Xf"], raw_score=True))) for g in test42["val"]]
    beta_ndcg = {b: float(np.mean([ndcg_by_id((1 - b) * g["s1"] + b * sq, g["y"], g["tids"], k) for g, sq in val_sq]))
                 for b in BETAS}
    beta = max(BETAS, key=lambda b: (round(beta_ndcg[b], 12), -abs(b - DEFAULT_BETA)))
    booster = T.train_booster(params, train_groups, n_trees)
    per, per_s1, per_default = {}, {}, {}
    for g in test42["test"]:
        raw = booster.predict(g["Xf"], raw_score=True)
        sq = squash(raw)
        per[g["pid"]] = ndcg_by_id((1 - beta) * g["s1"] + beta * sq, g["y"], g["tids"], k)
        per_default[g["pid"]] = ndcg_by_id((1 - DEFAULT_BETA) * g["s1"] + DEFAULT_BETA * sq, g["y"], g["tids"], k)
        per_s1[g["pid"]] = ndcg_by_id(g["s1"], g["y"], g["tids"], k)
    return {"fold": f, "point": chosen["point"], "trees": n_trees, "val_ndcg": chosen["ndcg10"], "beta": beta,
            "beta_val_ndcg": beta_ndcg, "per": per, "per_stage1": per_s1, "per_default_beta": per_default,
            "seconds": round(time.time() - t0, 1)}


def summary(per_fold_values):
    m = [float(np.mean(v)) for v in per_fold_values]
    return {"ndcg": round(float(np.mean(m)), 6), "ndcg_sd": round(float(np.std(m, ddof=1)), 6) if len(m) > 1 else 0.0,
            "per_fold": [round(x, 6) for x in m],
            "pooled": round(float(np.mean([x for v in per_fold_values for x in v])), 6)}


def parity(db, h, groups42, k):
    """The active ranker over these stage-1 scores, β = the default, vs the stored full eval_run."""
    rows = db.rows(f"select per_playlist::text, config::text from songmatch.eval_runs where dataset_hash = {T.lit(h)} "
                   f"and label = 'full' and k = {int(k)} and split = 'all' order by id desc limit 1")
    if not rows:
        return {"checked": False, "why": "no stored full eval_run of this dataset"}
    stored = {int(x["playlist_id"]): float(x["ndcg"]) for x in json.loads(rows[0][0])}
    beta = float(json.loads(rows[0][1]).get("ranker_weight", DEFAULT_BETA))
    path = os.path.join(HERE, "..", "models", "ranker", "ranker.onnx")
    raw_all, _ = T.ort_scores(path, np.concatenate([g["X"] for g in groups42]))
    diffs, at = [], 0
    for g in groups42:
        raw, at = raw_all[at:at + len(g["tids"])], at + len(g["tids"])
        s = (1 - beta) * g["s1"] + beta * squash(raw)
        diffs.append(abs(ndcg_by_id(s, g["y"], g["tids"], k) - stored[g["pid"]]))
    return {"checked": True, "playlists": len(diffs), "beta": beta, "max_abs_diff": float(max(diffs)),
            "mean_stored": round(float(np.mean([stored[g["pid"]] for g in groups42])), 6)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default=os.environ.get("SONGMATCH_EVAL_DSN",
                                                    "host=127.0.0.1 port=54315 user=postgres dbname=songmatch_eval"))
    ap.add_argument("--psql", default=os.environ.get("PSQL") or shutil.which("psql"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--holdout", type=float, default=T.DATASET_PARAMS["holdout"])
    ap.add_argument("--negatives", type=int, default=T.DATASET_PARAMS["negatives"])
    ap.add_argument("--min-tracks", type=int, default=T.DATASET_PARAMS["min_tracks"])
    ap.add_argument("--extra-seeds", default=",".join(map(str, T.EXTRA_SEEDS)))
    ap.add_argument("--experiment", default="", help="cooc, artistcooc, meta, metareplace, knn, groupnorm (comma-separated)")
    ap.add_argument("--grid", default="full", choices=["full", "one"],
                    help="one: only the shipped model's point (development)")
    ap.add_argument("--param", action="append", default=[],
                    help="KEY=VALUE: override one of train.py's LightGBM base parameters (experiments)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--json-out", default=None)
    a = ap.parse_args()
    if a.folds < 2:
        raise SystemExit("--folds must be at least 2")
    for kv in a.param:
        k, _, v = kv.partition("=")
        if k not in T.BASE_PARAMS:
            raise SystemExit(f"--param: {k} is not one of train.py's base parameters")
        T.BASE_PARAMS[k] = type(T.BASE_PARAMS[k])(v) if not isinstance(T.BASE_PARAMS[k], list) else json.loads(v)
    t_start = time.time()
    db = T.DB(a.psql, a.dsn)
    T.EVAL_SEED = a.seed
    T.DATASET_PARAMS = {"holdout": a.holdout, "negatives": a.negatives, "min_tracks": a.min_tracks}
    names = json.loads(db.value("select to_json(songmatch.ranker_feature_names())"))
    seeds = [a.seed] + [int(s) for s in a.extra_seeds.split(",") if s.strip() and int(s) != a.seed]
    hashes = [T.dataset_hash(db, s) for s in seeds]
    data = []
    for i, h in enumerate(hashes):
        t0 = time.time()
        data.append(read_dataset(db, h, stage1=(i == 0)))
        log(f"dataset seed {seeds[i]} ({h[:18]}…): {len(data[-1])} playlists in {time.time() - t0:.1f}s")
    exps = [e for e in a.experiment.split(",") if e]
    extra_names = []
    for gs in data:
        for g in gs:
            g["extra"] = []
    for e in exps:
        if e == "cooc":
            for i, gs in enumerate(data):
                n = cooc_features(gs, membership(db, hashes[i]))
            extra_names += n
        elif e == "artistcooc":
            for i, gs in enumerate(data):
                n = artist_cooc_features(db, gs, membership(db, hashes[i]))
            extra_names += n
        elif e == "knn":
            extra_names += knn_features(db, data)
        elif e == "meta":
            extra_names += meta_features(db, data)
        elif e == "metareplace":
            # extractor v2 as the ranker would see it: the metadata-only cosines in place of the
            # stored documents' (stage 1 keeps the stored ones)
            meta_features(db, data)
            cols = [names.index(n) for n in ("members_top1", "members_top3", "centroid")]
            for gs in data:
                for g in gs:
                    g["X"] = g["X"].copy()
                    g["X"][:, cols] = g["extra"].pop()
        elif e == "groupnorm":
            which = ["members_top1", "members_top3", "centroid", "audio", "year_closeness", "popularity_closeness"]
            for gs in data:
                n = groupnorm_features(gs, names, which)
            extra_names += n
        else:
            raise SystemExit(f"unknown experiment {e}")
    for gs in data:
        for g in gs:
            g["Xf"] = np.hstack([g["X"]] + g["extra"]) if g["extra"] else g["X"]
    all_names = names + extra_names

    par = parity(db, hashes[0], data[0], a.k)
    log(f"parity with the stored full eval_run: {json.dumps(par)}")
    if par.get("checked") and not exps and par["max_abs_diff"] > 1e-9:
        raise SystemExit(f"cv: the harness does not rank as the database does: {json.dumps(par)}")

    playlists = [g["pid"] for g in data[0]]
    fold = fold_of(a.seed, playlists, a.folds)
    grid = [{"num_leaves": 31, "min_data_in_leaf": 20, "learning_rate": 0.05}] if a.grid == "one" else None
    jobs = []
    for f in range(a.folds):
        train_ids = sorted(p for p in playlists if fold[p] != f)
        val_ids = T.val_playlists(train_ids)
        tg = training_groups(data, fold, f)
        test = {"val": [g for g in data[0] if g["pid"] in val_ids],
                "test": [g for g in data[0] if fold[g["pid"]] == f]}
        jobs.append((f, all_names, tg, test, val_ids, a.k, grid))
    with multiprocessing.get_context("fork").Pool(max(1, min(a.processes, a.folds))) as pool:
        results = pool.map(run_fold, jobs)
    results.sort(key=lambda r: r["fold"])
    for r in results:
        log(f"fold {r['fold']}: {len(r['per'])} playlists, {r['point']} {r['trees']} trees, β {r['beta']}: "
            f"NDCG@{a.k} {np.mean(list(r['per'].values())):.4f} (stage 1 {np.mean(list(r['per_stage1'].values())):.4f}) "
            f"in {r['seconds']}s")
    out = {
        "full": summary([list(r["per"].values()) for r in results]),
        "full_default_beta": summary([list(r["per_default_beta"].values()) for r in results]),
        "stage1": summary([list(r["per_stage1"].values()) for r in results]),
        "folds": a.folds,
        "playlists": len(playlists),
        "datasets": hashes,
        "features": all_names,
        "experiments": exps,
        "params": a.param,
        "chosen": [{"fold": r["fold"], "point": r["point"], "trees": r["trees"], "beta": r["beta"],
                    "val_ndcg": round(r["val_ndcg"], 6)} for r in results],
        "parity": par,
        "seconds": round(time.time() - t_start),
    }
    if a.json_out:
        with open(a.json_out, "w") as fh:
            json.dump({"cv": out, "per_playlist": {str(p): v for r in results for p, v in r["per"].items()}},
                      fh, indent=2, sort_keys=True)
    print(json.dumps({"cv": out}))


if __name__ == "__main__":
    main()
