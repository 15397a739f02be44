#!/usr/bin/env python3
"""Train songmatch's learned ranker (LightGBM lambdarank), export it to ONNX, write a parity reference.

    target/venv-ranker/bin/python models/ranker/train.py                   # the real run (songmatch_eval)
    target/venv-ranker/bin/python models/ranker/train.py --synthetic       # no database: random features

Features come from the database (songmatch.ranker_features / ranker_feature_names), so training
and inference see identical feature vectors. Training data, honestly:

* the evaluation dataset of `make eval` (seed 42, holdout 0.2, 100 negatives, >= 10 tracks) and
  datasets built the same way with a few other seeds (1..5 by default);
* every playlist of the dev file (`--playlists all`, the shipped ranker), or only those of the
  seed-42 dataset's `tune` half (`--playlists tune`), in every one of those datasets;
* one ranking group per (dataset, playlist): members = its `profile` items, candidates =
  `heldout` (label 1) and `negative` (label 0) items, features =
  ranker_features(members, candidates, playlist_id).

The model is chosen on a small seeded grid, each point trained with early stopping (NDCG@10, as
crates/songmatch-core/src/metrics.rs: binary relevance, log2 discount, ideal DCG from the number of
held-out tracks; ties by track id): with `all`, by 5-fold cross-validation by playlist (the best
mean over the folds, refit with the median of its folds' trees); with `tune`, on a validation part
of the tune playlists (md5 of a seeded key per playlist id), as eval/cv.py evaluates the procedure
in each of its folds. The chosen setting is refit on all the playlists trained on, converted with
onnxmltools (input `features` float32 [N, F], output `score` float32 [N, 1]) and checked against
LightGBM (64 seeded training vectors; every training row through a float32 tree walk).

Outputs (in --out-dir, default this script's folder): ranker.onnx, reference.json. Both are
byte-identical between runs on the same database. The last line printed is one JSON object.
"""

import os

# one thread everywhere (the machine is shared); must precede the numeric imports
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import lightgbm as lgb  # noqa: E402
import onnx  # noqa: E402
import onnxmltools  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnxmltools.convert.common.data_types import FloatTensorType  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- the protocol ----------------------------------------------------------------------------
EVAL_SEED = 42                   # the dataset `make eval` reports on (its test half is never read)
EXTRA_SEEDS = [1, 2, 3, 4, 5]     # more (profile, heldout, negatives) draws of the same tune playlists
DATASET_PARAMS = {"holdout": 0.2, "negatives": 100, "min_tracks": 10}
SEED = 42                        # LightGBM seed, validation split, parity sample
VAL_FRACTION = 0.25              # of the tune playlists, for early stopping / model choice (--playlists tune)
CV_FOLDS = 5                     # folds by playlist for the model choice (--playlists all)
K = 10

# ---- the model -------------------------------------------------------------------------------
MAX_TREES = 500
EARLY_STOPPING = 50
BASE_PARAMS = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [K],
    "lambdarank_truncation_level": 20,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "lambda_l2": 1.0,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "max_bin": 255,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": SEED,
    "verbosity": -1,
}
# a small grid (num_leaves <= 31); every point is trained with early stopping on the validation part
GRID = [
    {"num_leaves": nl, "min_data_in_leaf": md, "learning_rate": lr}
    for lr in (0.05, 0.1)
    for nl in (7, 15, 31)
    for md in (20, 100)
]

# ---- the export ------------------------------------------------------------------------------
ONNX_INPUT = "features"
ONNX_OUTPUT = "score"
TARGET_OPSET = 15   # default domain; onnxmltools emits TreeEnsembleRegressor in ai.onnx.ml (checked below)
PARITY_N = 64
PARITY_TOL = 1e-5

HASH_RE = re.compile(r"^ed_v1_[0-9a-f]{64}$")


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


# =============================================================================================
# database access (psql, so the venv needs no driver)
# =============================================================================================
class DB:
    def __init__(self, psql, dsn):
        self.psql, self.dsn = psql, dsn

    # errors of an extension being reinstalled or a server restarting: every statement here is a
    # read or an idempotent build, so it is retried (up to RETRIES x RETRY_WAIT seconds)
    TRANSIENT = ('could not access file "$libdir/songmatch"', "server closed the connection",
                 "terminating connection", "could not connect", "the database system is starting up",
                 "the database system is shutting down", "Connection refused")
    RETRIES, RETRY_WAIT = 30, 20

    def _run(self, sql):
        for attempt in range(self.RETRIES + 1):
            p = subprocess.run([self.psql, self.dsn, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                               capture_output=True, text=True)
            if p.returncode == 0:
                return p.stdout
            err = p.stderr.strip()
            if attempt < self.RETRIES and any(t in err for t in self.TRANSIENT):
                log(f"database not ready ({err.splitlines()[0][:120]}); retrying in {self.RETRY_WAIT}s")
                time.sleep(self.RETRY_WAIT)
                continue
            raise RuntimeError(f"psql failed ({p.returncode}): {err}\n  SQL: {sql[:300]}")

    def value(self, sql):
        return self._run(sql).rstrip("\n")

    def rows(self, sql):
        """COPY (sql) TO STDOUT as CSV: a list of lists of strings (NULL is the empty string)."""
        out = self._run(f"copy ({sql}) to stdout with (format csv)")
        return list(csv.reader(io.StringIO(out)))


def parse_real_array(text):
    """A real[] in PostgreSQL's text form ({0.1,2e-05,...}) as float32, exactly (shortest round-trip text)."""
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not an array: {text[:80]!r}")
    body = text[1:-1]
    parts = body.split(",") if body else []
    if any(p in ("NULL", "") for p in parts):
        raise ValueError("a feature vector holds NULL")
    return np.array([float(p) for p in parts], dtype=np.float64).astype(np.float32)


def tie_order(playlist_id, track_ids):
    """A group's rows in a seeded order that does not follow track ids (ids follow the CSV's load
    order, which groups a playlist's tracks): LightGBM's NDCG and ndcg_at_k below break score
    ties by row order, so ties are broken as by a seeded coin, never by id."""
    return sorted(track_ids, key=lambda t: (hashlib.md5(f"{SEED}:tie:{playlist_id}:{t}".encode()).hexdigest(), t))


def lit(s):
    """A quoted SQL literal for the values used here (dataset hashes): checked, never free text."""
    if not HASH_RE.match(s):
        raise ValueError(f"not a dataset hash: {s!r}")
    return "'" + s + "'"


def dataset_hash(db, seed, verify=False):
    """The dataset of (seed, DATASET_PARAMS): found in eval_datasets by its params when there is
    exactly one, else built (eval_build_dataset returns an existing dataset's hash unchanged).
    verify: build anyway and require the same hash (slower: the builder re-derives every item)."""
    p = DATASET_PARAMS
    params = json.dumps({"seed": int(seed), "holdout": float(p["holdout"]), "negatives": int(p["negatives"]),
                         "min_tracks": int(p["min_tracks"]), "protocol": 1})
    found = [r[0] for r in db.rows(f"select dataset_hash from songmatch.eval_datasets "
                                   f"where params = '{params}'::jsonb order by dataset_hash")]
    if len(found) == 1 and not verify:
        return found[0]
    h = db.value(f"select songmatch.eval_build_dataset(seed => {int(seed)}, holdout => {float(p['holdout'])}, "
                 f"negatives => {int(p['negatives'])}, min_tracks => {int(p['min_tracks'])})")
    if not HASH_RE.match(h):
        raise RuntimeError(f"eval_build_dataset returned {h!r}")
    if len(found) == 1 and h != found[0]:
        raise RuntimeError(f"seed {seed}: eval_datasets holds {found[0]}, eval_build_dataset returns {h}")
    return h


def features_rows(db, h, tune_sql):
    """(playlist_id, track_id, features) of every candidate of the dataset's tune playlists."""
    return db.rows(
        f"with g as (select i.playlist_id, "
        f"  coalesce(array_agg(i.track_id order by i.track_id) filter (where i.role = 'profile'), '{{}}') as members, "
        f"  array_agg(i.track_id order by i.track_id) filter (where i.role in ('heldout', 'negative')) as candidates "
        f"  from songmatch.eval_items i where i.dataset_hash = {lit(h)} and i.playlist_id in ({tune_sql}) "
        f"  group by i.playlist_id) "
        f"select g.playlist_id, f.track_id, f.features from g "
        f"cross join lateral songmatch.ranker_features(g.members, g.candidates, g.playlist_id) f "
        f"order by g.playlist_id, f.track_id")


def load_from_db(db, seeds, verify=False, half="tune"):
    """Feature names, the seed-42 dataset's playlists to train on (its tune half, or all of them)
    and one group per (dataset, playlist)."""
    if db.value("select to_regprocedure('songmatch.ranker_features(bigint[],bigint[],bigint)') is not null") != "t":
        raise SystemExit("songmatch.ranker_features(bigint[], bigint[], bigint) does not exist in this database")
    names = json.loads(db.value("select to_json(songmatch.ranker_feature_names())"))
    if not names or len(set(names)) != len(names):
        raise RuntimeError(f"ranker_feature_names() is empty or repeats a name: {names}")

    p = DATASET_PARAMS
    params = json.dumps({"seed": EVAL_SEED, "holdout": p["holdout"], "negatives": p["negatives"],
                         "min_tracks": p["min_tracks"]})
    existing = db.value(f"select coalesce(string_agg(dataset_hash, ',' order by dataset_hash), '') "
                        f"from songmatch.eval_datasets where params @> '{params}'::jsonb")
    had_reference = db.value("select count(*) from songmatch.eval_reference") != "0"

    hashes = []
    for s in seeds:
        h = dataset_hash(db, s, verify)
        log(f"dataset seed {s}: {h}")
        hashes.append(h)
    h42 = hashes[0]
    if existing and h42 not in existing.split(","):
        raise RuntimeError(f"the seed-{EVAL_SEED} dataset in eval_datasets ({existing}) is not the one "
                           f"eval_build_dataset returns now ({h42}): the catalogue changed since the eval")
    if len(set(hashes)) != len(hashes):
        raise RuntimeError("two seeds gave the same dataset")
    if not had_reference:
        log("note: songmatch.eval_reference has no row, so the activation gate uses the most recent dataset; "
            "the extra seeds' datasets are now the most recent ones (if they were built just now)")

    which = "" if half == "all" else " and half = 'tune'"
    tune = [int(r[0]) for r in db.rows(
        f"select playlist_id from songmatch.eval_playlists where dataset_hash = {lit(h42)}{which} "
        f"order by playlist_id")]
    if half == "all":
        log(f"seed-{EVAL_SEED} dataset: all {len(tune)} playlists (tune and test halves)")
    else:
        n_test = int(db.value(f"select count(*) from songmatch.eval_playlists where dataset_hash = {lit(h42)} "
                              f"and half = 'test'"))
        log(f"seed-{EVAL_SEED} dataset: {len(tune)} tune playlists (the {n_test} test playlists are not read)")
    tune_sql = f"select playlist_id from songmatch.eval_playlists where dataset_hash = {lit(h42)}{which}"

    groups = []   # (dataset index, playlist id, track ids, labels, X)
    for di, h in enumerate(hashes):
        t0 = time.time()
        items = db.rows(f"select playlist_id, track_id, role from songmatch.eval_items "
                        f"where dataset_hash = {lit(h)} and playlist_id in ({tune_sql}) "
                        f"and role in ('heldout', 'negative') order by playlist_id, track_id")
        labels = {}
        for pid, tid, role in items:
            labels.setdefault(int(pid), {})[int(tid)] = 1 if role == "heldout" else 0
        rows = features_rows(db, h, tune_sql)
        if di == 0:
            first_rows = rows
        feats = {}
        for pid, tid, arr in rows:
            key = (int(pid), int(tid))
            if key in feats:
                raise RuntimeError(f"ranker_features returned candidate {tid} twice for playlist {pid}")
            feats[key] = parse_real_array(arr)
        missing = [(pid, tid) for pid in labels for tid in labels[pid] if (pid, tid) not in feats]
        extra = [k for k in feats if k[0] not in labels or k[1] not in labels[k[0]]]
        if missing or extra:
            raise RuntimeError(f"dataset {h}: {len(missing)} candidates without features, "
                               f"{len(extra)} features for non-candidates (e.g. {(missing + extra)[:3]})")
        if set(labels) != set(tune):
            raise RuntimeError(f"dataset {h}: its playlists differ from the seed-{EVAL_SEED} dataset's ({half})")
        for pid in sorted(labels):
            tids = tie_order(pid, labels[pid])
            X = np.stack([feats[(pid, t)] for t in tids])
            if X.shape[1] != len(names):
                raise RuntimeError(f"{X.shape[1]} features, {len(names)} names")
            if not np.all(np.isfinite(X)):
                raise RuntimeError(f"non-finite feature in playlist {pid} of dataset {h}")
            y = np.array([labels[pid][t] for t in tids], dtype=np.int32)
            if y.sum() == 0:
                raise RuntimeError(f"playlist {pid} of dataset {h} has no held-out track")
            groups.append((di, pid, np.array(tids, dtype=np.int64), y, X))
        log(f"  features of {len(labels)} playlists, {len(rows)} candidates in {time.time() - t0:.1f}s")

    # the extension may have been reinstalled meanwhile: the first dataset's features and the
    # names must not have changed, or the groups would mix two feature functions
    t0 = time.time()
    if (features_rows(db, hashes[0], tune_sql) != first_rows
            or json.loads(db.value("select to_json(songmatch.ranker_feature_names())")) != names):
        raise SystemExit("the features changed while they were read (songmatch reinstalled?): run again")
    log(f"  features of the first dataset read again: unchanged ({time.time() - t0:.1f}s)")

    # stored whole-dataset runs of scorers without a learned ranker (a ranker may have been trained
    # on these very playlists), for the log only: they change whenever somebody evaluates again
    baselines = {}
    for run_id, label, created, per in db.rows(
            f"select id, label, to_char(created_at, 'YYYY-MM-DD HH24:MI'), per_playlist::text "
            f"from songmatch.eval_runs where dataset_hash = {lit(h42)} and k = {K} and split = 'all' "
            f"and (config is null or config::text not like '%ranker%') order by id"):
        baselines[f"{label} (run {run_id}, {created})"] = {int(x["playlist_id"]): float(x["ndcg"])
                                                           for x in json.loads(per)}
    return names, hashes, tune, groups, baselines


def synthetic_data(seeds, n_playlists=144, n_features=30):
    """Random groups shaped like the real ones (for developing without the database)."""
    rng = np.random.default_rng(12345)
    names = [f"f{i:02d}" for i in range(n_features)]
    tune = list(range(1000, 1000 + n_playlists))
    hashes = ["ed_v1_" + hashlib.sha256(f"synthetic:{s}".encode()).hexdigest() for s in seeds]
    w = rng.normal(size=n_features) * (rng.random(n_features) < 0.3)
    groups = []
    for di in range(len(seeds)):
        for pid in tune:
            n_pos = int(rng.integers(2, 30))
            n = n_pos + 100
            X = rng.normal(size=(n, n_features)).astype(np.float32)
            X[:, :3] = np.round(X[:, :3], 1)   # a few coarse features: ties and float32 boundaries
            y = np.zeros(n, dtype=np.int32)
            y[:n_pos] = 1
            X[:n_pos] += (0.6 * w).astype(np.float32)
            tids = rng.choice(10**6, size=n, replace=False).astype(np.int64)
            pos = {int(t): i for i, t in enumerate(tids)}
            o = np.array([pos[t] for t in tie_order(pid, pos)])
            groups.append((di, pid, tids[o], y[o], X[o]))
    return names, hashes, tune, groups, {}


# =============================================================================================
# metrics
# =============================================================================================
def ndcg_at_k(scores, labels, k=K):
    """crates/songmatch-core/src/metrics.rs: binary relevance, 1/log2(rank+1), IDCG from the number of held-out
    tracks; the ranking is by score (desc), ties in row order (tie_order: seeded)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    rel = labels[order][:k]
    dcg = float(np.sum(rel / np.log2(np.arange(2, len(rel) + 2))))
    n_rel = int(labels.sum())
    idcg = float(np.sum(1.0 / np.log2(np.arange(2, min(k, n_rel) + 2))))
    return dcg / idcg if idcg > 0 else 0.0


def mean_ndcg(groups, scores_by_group):
    return float(np.mean([ndcg_at_k(s, g[3]) for g, s in zip(groups, scores_by_group)]))


def stack(groups):
    X = np.concatenate([g[4] for g in groups]).astype(np.float32)
    y = np.concatenate([g[3] for g in groups])
    sizes = [len(g[3]) for g in groups]
    return X, y, sizes


def split_scores(scores, groups):
    out, at = [], 0
    for g in groups:
        out.append(scores[at:at + len(g[3])])
        at += len(g[3])
    return out


# =============================================================================================
# training
# =============================================================================================
def val_playlists(tune):
    order = sorted(tune, key=lambda pid: (hashlib.md5(f"{SEED}:ranker-val:{pid}".encode()).hexdigest(), pid))
    n_val = max(1, round(len(tune) * VAL_FRACTION))
    return set(order[:n_val])


def train_booster(params, groups, rounds, valid=None):
    X, y, sizes = stack(groups)
    ds = lgb.Dataset(X, label=y, group=sizes, feature_name=FEATURE_NAMES, params={"max_bin": params["max_bin"]},
                     free_raw_data=False)
    kw = {}
    if valid is not None:
        Xv, yv, sv = stack(valid)
        dv = lgb.Dataset(Xv, label=yv, group=sv, reference=ds)
        kw = {"valid_sets": [dv], "valid_names": ["val"],
              "callbacks": [lgb.early_stopping(EARLY_STOPPING, first_metric_only=True, verbose=False)]}
    return lgb.train(params, ds, num_boost_round=rounds, **kw)


def search(groups, val_ids):
    tr = [g for g in groups if g[1] not in val_ids]
    va = [g for g in groups if g[1] in val_ids]
    Xv = stack(va)[0]
    results = []
    for i, point in enumerate(GRID):
        params = dict(BASE_PARAMS, **point)
        t0 = time.time()
        b = train_booster(params, tr, MAX_TREES, valid=va)
        it = b.best_iteration if b.best_iteration > 0 else b.current_iteration()
        s = split_scores(b.predict(Xv, num_iteration=it, raw_score=True), va)
        nd = mean_ndcg(va, s)
        nd42 = mean_ndcg([g for g in va if g[0] == 0], [x for g, x in zip(va, s) if g[0] == 0])
        results.append({"point": point, "trees": int(it), "ndcg10": nd, "ndcg10_seed42": nd42})
        log(f"  grid {i + 1}/{len(GRID)} {point}: {it} trees, val NDCG@10 {nd:.4f} "
            f"(seed-{EVAL_SEED} groups {nd42:.4f}) in {time.time() - t0:.1f}s")
    # the best validation NDCG@10 over all validation groups; ties: fewer trees, then grid order
    best = max(range(len(results)), key=lambda j: (round(results[j]["ndcg10"], 12), -results[j]["trees"], -j))
    return results, best, tr, va


def cv_folds(playlists, k=CV_FOLDS):
    """Playlist -> fold (0..k-1): playlists in the order of md5 of a seeded key, dealt round robin."""
    order = sorted(playlists, key=lambda pid: (hashlib.md5(f"{SEED}:ranker-cv:{pid}".encode()).hexdigest(), pid))
    return {pid: i % k for i, pid in enumerate(order)}


_CV = {}   # (groups, fold of each playlist) for the worker processes (inherited by fork)


def _cv_job(job):
    gi, f = job
    groups, fold = _CV["groups"], _CV["fold"]
    params = dict(BASE_PARAMS, **GRID[gi])
    tr = [g for g in groups if fold[g[1]] != f]
    va = [g for g in groups if fold[g[1]] == f]
    b = train_booster(params, tr, MAX_TREES, valid=va)
    it = b.best_iteration if b.best_iteration > 0 else b.current_iteration()
    s = split_scores(b.predict(stack(va)[0], num_iteration=it, raw_score=True), va)
    nd42 = mean_ndcg([g for g in va if g[0] == 0], [x for g, x in zip(va, s) if g[0] == 0])
    return gi, f, mean_ndcg(va, s), nd42, int(it)


def cv_search(groups, playlists, processes=2):
    """The model choice by k-fold cross-validation by playlist: every grid point is trained on k-1
    folds with early stopping on the k-th, for each k; the point with the best mean NDCG@10 over
    the folds wins (ties: fewer trees, then grid order), refit with the median of its folds'
    numbers of trees. Returns the per-point results, the chosen index and the fold map."""
    import multiprocessing as mp
    fold = cv_folds(playlists)
    _CV.update(groups=groups, fold=fold)
    jobs = [(gi, f) for gi in range(len(GRID)) for f in range(CV_FOLDS)]
    t0 = time.time()
    with mp.get_context("fork").Pool(processes) as pool:
        out = sorted(pool.map(_cv_job, jobs, chunksize=1))
    results = []
    for gi, point in enumerate(GRID):
        rows = [r for r in out if r[0] == gi]
        nd = float(np.mean([r[2] for r in rows]))
        results.append({"point": point, "trees": int(np.median([r[4] for r in rows])), "ndcg10": nd,
                        "ndcg10_sd": float(np.std([r[2] for r in rows])),
                        "ndcg10_seed42": float(np.mean([r[3] for r in rows])),
                        "folds": [{"ndcg10": r[2], "trees": r[4]} for r in rows]})
        log(f"  grid {gi + 1}/{len(GRID)} {point}: CV NDCG@10 {nd:.4f} +- {results[-1]['ndcg10_sd']:.4f} "
            f"(seed-{EVAL_SEED} groups {results[-1]['ndcg10_seed42']:.4f}), trees {[r[4] for r in rows]}")
    log(f"  {len(jobs)} trainings in {time.time() - t0:.1f}s")
    best = max(range(len(results)), key=lambda j: (round(results[j]["ndcg10"], 12), -results[j]["trees"], -j))
    return results, best, fold


# =============================================================================================
# export and parity
# =============================================================================================
def to_onnx(booster, n_features):
    model = onnxmltools.convert_lightgbm(
        booster, name="songmatch_ranker", initial_types=[(ONNX_INPUT, FloatTensorType([None, n_features]))],
        target_opset=TARGET_OPSET, zipmap=False)
    g = model.graph
    if len(g.output) != 1:
        raise RuntimeError(f"expected one output, got {[o.name for o in g.output]}")
    tree_ops = [n.op_type for n in g.node if n.domain == "ai.onnx.ml"]
    if tree_ops != ["TreeEnsembleRegressor"]:
        raise RuntimeError(f"expected one TreeEnsembleRegressor, got {tree_ops}")
    old = g.output[0].name
    if old != ONNX_OUTPUT:
        for n in g.node:
            for j, o in enumerate(n.output):
                if o == old:
                    n.output[j] = ONNX_OUTPUT
        g.output[0].name = ONNX_OUTPUT
    for v in (g.input[0], g.output[0]):   # name the batch dimension
        d0 = v.type.tensor_type.shape.dim[0]
        if not d0.HasField("dim_value"):
            d0.dim_param = "N"
    out_t = g.output[0].type.tensor_type
    if out_t.elem_type != onnx.TensorProto.FLOAT:
        raise RuntimeError(f"output is not float32: {out_t.elem_type}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in out_t.shape.dim]
    if dims not in (["N", 1], ["N"]):
        raise RuntimeError(f"output shape {dims}")
    # the converter collects opsets in a set: its order follows Python's per-process string hashing
    opsets = sorted(((o.domain, o.version) for o in model.opset_import))
    del model.opset_import[:]
    for domain, version in opsets:
        o = model.opset_import.add()
        o.domain, o.version = domain, version
    model.doc_string = "songmatch learned ranker (LightGBM lambdarank); input: songmatch.ranker_features()"
    del model.metadata_props[:]
    for k, v in (("feature_names", json.dumps(FEATURE_NAMES)), ("objective", "lambdarank"),
                 ("lightgbm", lgb.__version__)):
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(model, full_check=True)
    return model, old, dims


def ort_scores(path, X):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    ins, outs = sess.get_inputs(), sess.get_outputs()
    io_desc = {"inputs": [(i.name, i.type, i.shape) for i in ins], "outputs": [(o.name, o.type, o.shape) for o in outs]}
    y = sess.run([ONNX_OUTPUT], {ONNX_INPUT: X.astype(np.float32)})[0]
    return y.reshape(-1).astype(np.float64), io_desc


def boundary_rows(booster, X):
    """Rows holding a value x == float32(t) > t for a split threshold t on that feature: there
    LightGBM (double compare, x > t: right) and ONNX (float32 threshold, x <= float32(t): left)
    can disagree. Returns (mask over rows, number of such splits)."""
    per_feature = {}
    n_splits = 0

    def walk(node):
        nonlocal n_splits
        if "split_index" not in node:
            return
        t = float(node["threshold"])
        t32 = np.float32(t)
        if float(t32) > t:
            per_feature.setdefault(int(node["split_feature"]), set()).add(t32)
            n_splits += 1
        walk(node["left_child"])
        walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    mask = np.zeros(len(X), dtype=bool)
    for f, vals in per_feature.items():
        mask |= np.isin(X[:, f], np.array(sorted(vals), dtype=np.float32))
    return mask, n_splits


def tree_walk_scores(dump, X, float32_thresholds):
    """The booster's raw scores computed by walking its dumped trees (booster.dump_model()), with
    LightGBM's rule `x <= t: left` on the double threshold t, or, with float32_thresholds, on
    float32(t) rounded to nearest, which is what the ONNX TreeEnsembleRegressor (BRANCH_LEQ over
    float32 nodes_values) decides. The two walks differ exactly on the rows where a value lies on a
    float32 tie (t < x == float32(t)), and by exactly what those rows' changed leaves sum to: the
    parity over all rows is then argued, not sampled (see the parity section of main)."""
    X = np.asarray(X)
    if np.isnan(X).any():
        raise RuntimeError("NaN in the features: the tree walk does not model LightGBM's missing values")
    # (ONNX reads float32 inputs: the float32 walk sees what it sees)
    Xd = (X.astype(np.float32) if float32_thresholds else X).astype(np.float64)
    out = np.zeros(len(X), dtype=np.float64)
    for tree in dump["tree_info"]:
        feat, thr, left, right, leaf = [], [], [], [], []

        def flat(node):
            i = len(feat)
            feat.append(-1); thr.append(0.0); left.append(-1); right.append(-1); leaf.append(0.0)
            if "split_index" not in node:
                leaf[i] = float(node["leaf_value"])
                return i
            if node.get("decision_type", "<=") != "<=" or node.get("missing_type", "None") == "Zero":
                raise RuntimeError(f"the tree walk handles numeric '<=' splits only, not {node}")
            t = float(node["threshold"])
            feat[i], thr[i] = int(node["split_feature"]), float(np.float32(t)) if float32_thresholds else t
            left[i] = flat(node["left_child"])
            right[i] = flat(node["right_child"])
            return i

        flat(tree["tree_structure"])
        feat, thr, left, right, leaf = (np.array(feat), np.array(thr), np.array(left), np.array(right), np.array(leaf))
        at = np.zeros(len(X), dtype=np.int64)
        inner = feat[at] >= 0
        while inner.any():
            rows = np.nonzero(inner)[0]
            nodes = at[rows]
            go_left = Xd[rows, feat[nodes]] <= thr[nodes]
            at[rows] = np.where(go_left, left[nodes], right[nodes])
            inner = feat[at] >= 0
        out += leaf[at]
    return out


def _dump(v, indent=0):
    """JSON, indented, with every list of numbers or strings on one line."""
    pad = "  " * (indent + 1)
    if isinstance(v, dict) and v:
        items = [f"{pad}{json.dumps(k)}: {_dump(x, indent + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(v, list) and v and any(isinstance(x, (dict, list)) for x in v):
        return "[\n" + ",\n".join(pad + _dump(x, indent + 1) for x in v) + "\n" + "  " * indent + "]"
    return json.dumps(v)


def write_reference(path, ref):
    """Deterministic (no timestamps); one feature vector per line."""
    text = _dump(ref) + "\n"
    if json.loads(text) != ref:
        raise RuntimeError("reference.json does not read back")
    with open(path, "w") as f:
        f.write(text)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# =============================================================================================
FEATURE_NAMES = []


def main():
    global FEATURE_NAMES
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", default=os.environ.get("SONGMATCH_EVAL_DSN",
                                                    "host=127.0.0.1 port=54315 user=postgres dbname=songmatch_eval"))
    pg15 = "/usr/lib/postgresql/15/bin/psql"
    ap.add_argument("--psql", default=os.environ.get("PSQL") or (pg15 if os.path.exists(pg15) else shutil.which("psql")))
    ap.add_argument("--out-dir", default=None, help="default: this script's folder (synthetic: /tmp/ranker-synthetic)")
    ap.add_argument("--extra-seeds", default=",".join(map(str, EXTRA_SEEDS)),
                    help="comma-separated dataset seeds besides 42 ('' for none)")
    ap.add_argument("--verify-datasets", action="store_true",
                    help="rebuild every dataset and require the stored hash (slower)")
    ap.add_argument("--synthetic", action="store_true", help="random features, no database (development)")
    ap.add_argument("--playlists", choices=["all", "tune"], default="all",
                    help="train on all of the seed-42 dataset's playlists, the model chosen by "
                         f"{CV_FOLDS}-fold CV by playlist (the shipped ranker), or on its tune half only, the "
                         "model chosen on a validation quarter (what eval/cv.py evaluates in each fold)")
    args = ap.parse_args()
    out_dir = args.out_dir or ("/tmp/ranker-synthetic" if args.synthetic else HERE)
    os.makedirs(out_dir, exist_ok=True)
    seeds = [EVAL_SEED] + [int(s) for s in args.extra_seeds.split(",") if s.strip()]
    if EVAL_SEED in seeds[1:]:
        raise SystemExit(f"--extra-seeds must not contain {EVAL_SEED}")

    t_start = time.time()
    if args.synthetic:
        names, hashes, tune, groups, baselines = synthetic_data(seeds)
    else:
        names, hashes, tune, groups, baselines = load_from_db(DB(args.psql, args.dsn), seeds, args.verify_datasets,
                                                              args.playlists)
    FEATURE_NAMES = list(names)
    F = len(names)
    X_all, y_all, sizes_all = stack(groups)
    data_digest = hashlib.sha256(b"".join(
        np.int64([g[0], g[1], len(g[2])]).tobytes() + g[2].astype("<i8").tobytes() + g[3].astype("<i4").tobytes()
        + g[4].astype("<f4").tobytes() for g in groups)).hexdigest()
    log(f"{len(groups)} groups ({len(seeds)} datasets x {len(tune)} playlists), {len(y_all)} rows (sha256 {data_digest[:16]}), "
        f"{int(y_all.sum())} positives, {F} features; loaded in {time.time() - t_start:.1f}s")

    # --- model choice: k-fold CV by playlist (all), or the validation part of the tune half ------
    t0 = time.time()
    if args.playlists == "all":
        results, best, fold = cv_search(groups, tune)
        val_ids, va = set(tune), groups
        validation = {"method": f"{CV_FOLDS}-fold cross-validation by playlist",
                      "split": f"md5('{SEED}:ranker-cv:' || playlist_id) order, dealt round robin",
                      "playlists": len(tune), "groups": len(groups), "rows": int(len(y_all)),
                      "grid": results, "chosen": best}
    else:
        val_ids = val_playlists(tune)
        results, best, tr, va = search(groups, val_ids)
        validation = {"method": "validation quarter", "playlists": len(val_ids), "groups": len(va),
                      "rows": int(sum(len(g[3]) for g in va)),
                      "split": f"md5('{SEED}:ranker-val:' || playlist_id), first {VAL_FRACTION:g}",
                      "grid": results, "chosen": best}
    chosen = results[best]
    params = dict(BASE_PARAMS, **chosen["point"])
    n_trees = max(1, chosen["trees"])
    log(f"chosen {chosen['point']} with {n_trees} trees: val NDCG@10 {chosen['ndcg10']:.4f} "
        f"(search {time.time() - t0:.1f}s)")
    val42 = [g for g in va if g[0] == 0]
    base_val = {}
    for label, per in baselines.items():
        vals = [per[g[1]] for g in val42 if g[1] in per]
        if len(vals) == len(val42):
            base_val[label] = float(np.mean(vals))
    if base_val:
        log("stored eval_runs without a ranker, on the same validation playlists (seed-42 dataset): "
            + "; ".join(f"{k} {v:.4f}" for k, v in base_val.items()))
    # single features as scores (higher first, ties in the seeded row order), same groups
    single = {n: mean_ndcg(va, [g[4][:, j].astype(np.float64) for g in va]) for j, n in enumerate(FEATURE_NAMES)}
    single42 = {n: mean_ndcg(val42, [g[4][:, j].astype(np.float64) for g in val42])
                for j, n in enumerate(FEATURE_NAMES)}
    single_top = sorted(single, key=lambda n: (-single[n], n))[:5]
    log("single features as scores on the validation groups: "
        + ", ".join(f"{n} {single[n]:.4f} (seed-42 {single42[n]:.4f})" for n in single_top))

    # --- refit on all tune playlists ----------------------------------------------------------
    t0 = time.time()
    booster = train_booster(params, groups, n_trees)
    booster2 = train_booster(params, groups, n_trees)
    if booster.model_to_string() != booster2.model_to_string():
        raise RuntimeError("LightGBM training is not deterministic here")
    del booster2
    log(f"refit on all {len(tune)} playlists: {booster.num_trees()} trees in {time.time() - t0:.1f}s "
        f"(trained twice: identical)")
    train_scores = booster.predict(X_all, raw_score=True)
    train_ndcg = mean_ndcg(groups, split_scores(train_scores, groups))

    # --- export --------------------------------------------------------------------------------
    model, old_out, out_dims = to_onnx(booster, F)
    onnx_path = os.path.join(out_dir, "ranker.onnx")
    data = model.SerializeToString(deterministic=True)
    model_b, _, _ = to_onnx(booster, F)
    if model_b.SerializeToString(deterministic=True) != data:
        raise RuntimeError("the ONNX conversion is not deterministic")
    with open(onnx_path, "wb") as f:
        f.write(data)
    digest = sha256(onnx_path)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}

    # --- parity --------------------------------------------------------------------------------
    ort_all, io_desc = ort_scores(onnx_path, X_all)
    diff_all = np.abs(ort_all - train_scores)
    on_boundary, n_boundary_splits = boundary_rows(booster, X_all)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(len(X_all))
    pick = [int(i) for i in perm if not on_boundary[i]][:PARITY_N]
    skipped = int(on_boundary[perm[:perm.tolist().index(pick[-1]) + 1]].sum())
    Xp = X_all[pick]
    lgb_p = booster.predict(Xp, raw_score=True)
    ort_p, _ = ort_scores(onnx_path, Xp)
    parity_max = float(np.max(np.abs(lgb_p - ort_p)))
    off_boundary_max = float(diff_all[~on_boundary].max()) if (~on_boundary).any() else 0.0
    over_not_boundary = int(((diff_all > PARITY_TOL) & ~on_boundary).sum())
    if not parity_max <= PARITY_TOL:
        raise RuntimeError(f"parity: max |lightgbm - onnxruntime| = {parity_max:.3g} > {PARITY_TOL}")
    # Parity over ALL training rows, boundary rows included. ONNX stores each split threshold t as
    # float32(t), rounded to nearest; an input x (float32, as songmatch passes them) with
    # t < x == float32(t) goes left in ONNX (x <= float32(t)) and right in LightGBM (x > t): a float32
    # tie, which sends that row down another branch of that tree, so its score may differ by a leaf
    # difference (0.076 at most on the committed model's training rows), far above any summation error. Rather than skip
    # those rows, each row's expected ONNX score is computed by walking the same trees with the
    # float32 thresholds (tree_walk_scores):
    #   1. the walk with double thresholds reproduces LightGBM (1e-9: the same leaves, summed in
    #      another order), so the walk models the booster;
    #   2. onnxruntime equals the float32-threshold walk within PARITY_TOL on every row: what is
    #      left is float32 accumulation over 112 trees (3e-6 observed), and no row may exceed it;
    #   3. the rows where the two walks differ are float32-tie rows (boundary_rows), counted, and
    #      |LightGBM - onnxruntime| on any row is at most that row's tie difference + PARITY_TOL.
    dump = booster.dump_model()
    walk64 = tree_walk_scores(dump, X_all, False)
    walk32 = tree_walk_scores(dump, X_all, True)
    walk_max = float(np.max(np.abs(walk64 - train_scores)))
    if not walk_max <= 1e-9:
        raise RuntimeError(f"parity: the tree walk does not reproduce LightGBM (max |diff| {walk_max:.3g})")
    onnx_rule_max = float(np.max(np.abs(ort_all - walk32)))
    if not onnx_rule_max <= PARITY_TOL:
        raise RuntimeError(f"parity: max |onnxruntime - float32-threshold walk| = {onnx_rule_max:.3g} > {PARITY_TOL} "
                           f"over all {len(X_all)} rows")
    tie = walk32 != walk64
    if (tie & ~on_boundary).any():
        raise RuntimeError(f"parity: {int((tie & ~on_boundary).sum())} rows change branch without a float32 tie")
    if (diff_all > np.abs(walk32 - walk64) + PARITY_TOL).any():
        raise RuntimeError("parity: a row differs from LightGBM by more than its float32 ties explain")
    log(f"parity over all {len(X_all)} rows: onnxruntime = the float32-threshold tree walk within {onnx_rule_max:.3g} "
        f"(<= {PARITY_TOL}); {int(tie.sum())} rows take another branch on a float32 tie "
        f"(LightGBM - walk: max {float(np.max(np.abs(walk32 - walk64))):.3g}), every other row within {PARITY_TOL} of LightGBM")
    log(f"parity on {PARITY_N} vectors: max |diff| {parity_max:.3g}; over all {len(X_all)} training rows "
        f"max {diff_all.max():.3g}, {int((diff_all > PARITY_TOL).sum())} rows > {PARITY_TOL}; "
        f"{n_boundary_splits} splits have float32(threshold) > threshold, {int(on_boundary.sum())} rows hit one "
        f"({skipped} of them skipped by the sample); rows off every boundary: max {off_boundary_max:.3g}, "
        f"{over_not_boundary} > {PARITY_TOL}")

    gain = booster.feature_importance("gain")
    splits = booster.feature_importance("split")
    importance = sorted(({"feature": n, "gain": round(float(g), 4), "splits": int(s)}
                         for n, g, s in zip(FEATURE_NAMES, gain, splits)),
                        key=lambda d: (-d["gain"], d["feature"]))

    ref = {
        "feature_names": FEATURE_NAMES,
        "scores": [float(s) for s in lgb_p],
        "onnxruntime_scores": [float(s) for s in ort_p],
        "onnx_sha256": digest,
        "onnx": {"input": {"name": ONNX_INPUT, "type": "float32", "shape": ["N", F]},
                 "output": {"name": ONNX_OUTPUT, "type": "float32", "shape": out_dims},
                 "opset": opsets, "converter_output_renamed_from": old_out},
        "lightgbm": lgb.__version__,
        "versions": {"onnxmltools": onnxmltools.__version__, "onnx": onnx.__version__,
                     "onnxruntime": ort.__version__, "numpy": np.__version__},
        "params": dict({k: v for k, v in params.items()}, num_boost_round=n_trees),
        "train": {"datasets": hashes, "seeds": seeds, "playlists": len(tune), "groups": len(groups),
                  "rows": int(len(y_all)), "positives": int(y_all.sum()), "half": args.playlists,
                  "eval_dataset": hashes[0], "data_sha256": data_digest},
        "validation": validation,
        "validation_ndcg10": round(chosen["ndcg10"], 6),
        "validation_ndcg10_seed42": round(chosen["ndcg10_seed42"], 6),
        "validation_single_feature_ndcg10": {n: round(single[n], 6) for n in sorted(single, key=lambda n: (-single[n], n))},
        "train_ndcg10": round(train_ndcg, 6),
        "importance_top10": importance[:10],
        "parity": {"n": PARITY_N, "max_abs_diff": parity_max, "tolerance": PARITY_TOL,
                   "sample": f"numpy default_rng({SEED}).permutation over the training rows, "
                             f"rows on a float32 threshold boundary skipped",
                   "boundary_rows_skipped": skipped, "boundary_splits": n_boundary_splits,
                   "boundary_rows_total": int(on_boundary.sum()),
                   "all_rows_max_abs_diff": float(diff_all.max()),
                   "all_rows_over_tolerance": int((diff_all > PARITY_TOL).sum()),
                   "off_boundary_rows_max_abs_diff": off_boundary_max,
                   "off_boundary_rows_over_tolerance": over_not_boundary},
        "synthetic": bool(args.synthetic),
        "features": [[float(v) for v in row] for row in Xp],
    }
    ref_path = os.path.join(out_dir, "reference.json")
    write_reference(ref_path, ref)

    seconds = time.time() - t_start
    print(f"ranker.onnx      {onnx_path}")
    print(f"sha256           {digest}")
    print(f"onnx             input {ONNX_INPUT} float32 [N, {F}] -> output {ONNX_OUTPUT} float32 {out_dims} "
          f"(converter named it {old_out!r}); opsets {opsets}")
    print(f"reference.json   {ref_path}")
    print(f"train            {len(seeds)} datasets, {len(tune)} playlists ({args.playlists}), {len(groups)} groups, "
          f"{len(y_all)} rows")
    print(f"chosen           {chosen['point']}, {n_trees} trees")
    print(f"validation       NDCG@10 {chosen['ndcg10']:.4f} ({validation['method']}: {len(val_ids)} playlists, {len(va)} groups); "
          f"seed-42 groups only {chosen['ndcg10_seed42']:.4f}"
          + f"; best single feature {single_top[0]} {single[single_top[0]]:.4f}")
    print(f"parity           max |lightgbm - onnxruntime| {parity_max:.3g} on {PARITY_N} vectors "
          f"({skipped} boundary rows skipped); all rows max {diff_all.max():.3g}")
    print("importance (gain, top 10):")
    for d in importance[:10]:
        print(f"  {d['feature']:<32} {d['gain']:>14.2f} {d['splits']:>6} splits")
    print(f"seconds          {seconds:.1f}")
    print(json.dumps({"onnx": onnx_path, "sha256": digest, "validation_ndcg10": round(chosen["ndcg10"], 6),
                      "validation_ndcg10_seed42": round(chosen["ndcg10_seed42"], 6), "parity_max": parity_max,
                      "trees": n_trees, "rows": int(len(y_all)), "groups": len(groups),
                      "seconds": round(seconds, 1), "synthetic": bool(args.synthetic)}))


if __name__ == "__main__":
    main()
