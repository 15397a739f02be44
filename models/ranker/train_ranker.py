#!/usr/bin/env python3
"""train_ranker: fit a learned ranker on a database's own playlists, and make it the active bundle's
ranker only if it beats the active bundle (a DBA procedure; never part of a user's request).

    target/venv-ranker/bin/python models/ranker/train_ranker.py --dsn "host=… dbname=app" --name app-ranker
        [--model-dir DIR] [--seed 42] [--min-gain 0] [--keep]

1. builds the evaluation dataset of the database (songmatch.eval_build_dataset: per playlist with
   at least 10 tracks, 20 % held out, 100 sampled negatives, seeded; halves `tune` / `test`);
2. trains LightGBM lambdarank (the same seeded procedure as models/ranker/train.py: a small grid
   with early stopping on a validation part of the tune playlists, then a refit on all of them) on
   songmatch.ranker_features() of the tune half only;
3. exports it to ONNX and installs it in the model directory (default: the server's
   songmatch.model_dir) as model `ranker-<sha256[:12]>`, with a bundle `<name>` = the active
   bundle's models + this ranker;
4. evaluates the active bundle and the candidate on the test half with songmatch.eval_run (the
   candidate inside a transaction that is rolled back);
5. registers and activates the candidate bundle only if its NDCG@10 beats the active one's by more
   than --min-gain; otherwise removes what it installed and changes nothing.

The last line printed is one JSON object: {"registered", "bundle", "model", "active_ndcg",
"candidate_ndcg", "gain", "dataset_hash", ...}. Exit status 0 either way (1 on errors).
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402  (models/ranker/train.py)


def lit(s):
    """A SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def model_dir_of(db, psql, explicit):
    if explicit:
        return explicit
    d = db.value("select current_setting('songmatch.model_dir', true)") or ""
    if d:
        return d
    pg_config = os.path.join(os.path.dirname(psql), "pg_config")
    share = subprocess.run([pg_config if os.path.exists(pg_config) else "pg_config", "--sharedir"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(share, "songmatch", "models")


def eval_ndcg(db, ds, label, k=train.K):
    r = json.loads(db.value(f"select songmatch.eval_run({train.lit(ds)}, k => {k}, label => {lit(label)}, "
                            f"split => 'test')::text"))
    return float(r["ndcg"])


def install(model_dir, model_id, onnx_bytes, digest, names, bundle, name):
    """Writes the model directory and the bundle file; returns the paths to remove on refusal."""
    mdir = os.path.join(model_dir, model_id)
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "ranker.onnx"), "wb") as f:
        f.write(onnx_bytes)
    manifest = {
        "id": model_id, "name": f"songmatch/{model_id}", "version": digest[:12], "kind": "ranker",
        "files": {"model": {"path": "ranker.onnx", "sha256": digest}},
        "inputs": {"features": train.ONNX_INPUT}, "output": train.ONNX_OUTPUT, "features": names,
        "notes": "trained by models/ranker/train_ranker.py on this database's own playlists (tune half)",
    }
    with open(os.path.join(mdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    bpath = os.path.join(model_dir, "bundles", f"{name}.json")
    with open(bpath, "w") as f:
        json.dump(dict(bundle, name=name, ranker=model_id,
                       description=f"the active bundle's models with ranker {model_id} (train_ranker)"), f, indent=2)
    for root, dirs, files in os.walk(mdir):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for fn in files:
            os.chmod(os.path.join(root, fn), 0o644)
    os.chmod(mdir, 0o755)
    os.chmod(bpath, 0o644)
    return [mdir, bpath]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", required=True)
    pg15 = "/usr/lib/postgresql/15/bin/psql"
    ap.add_argument("--psql", default=os.environ.get("PSQL") or (pg15 if os.path.exists(pg15) else shutil.which("psql")))
    ap.add_argument("--name", required=True, help="the bundle name to register ([a-z0-9-]+)")
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--min-gain", type=float, default=0.0,
                    help="register only if candidate NDCG@10 - active NDCG@10 > this (test half)")
    ap.add_argument("--keep", action="store_true", help="keep the installed files when refusing (inspection)")
    a = ap.parse_args()
    if not train.re.match(r"^[a-z0-9-]+$", a.name):
        raise SystemExit("--name must match [a-z0-9-]+")
    t0 = time.time()
    db = train.DB(a.psql, a.dsn)
    active = json.loads(db.value("select json_build_object('name', name, 'embedding', embedding_model, 'emotion', "
                                 "emotion_model, 'reranker', reranker_model, 'hash', bundle_hash)::text "
                                 "from songmatch.model_bundles where is_active") or "null")
    if not active:
        db.value("select songmatch.eval_active_bundle()")
        return main()
    if active["name"] == a.name:
        raise SystemExit(f"--name {a.name} is the active bundle's name: choose a new one")

    # 1-2: data from this database's own playlists, the seed-42 tune half only
    names, hashes, tune, groups, _ = train.load_from_db(db, [train.EVAL_SEED])
    train.FEATURE_NAMES = list(names)
    ds = hashes[0]
    val_ids = train.val_playlists(tune)
    if not val_ids or len(val_ids) == len(tune):
        raise SystemExit(f"too few playlists to train on ({len(tune)} in the tune half)")
    results, best, _, _ = train.search(groups, val_ids)
    chosen = results[best]
    booster = train.train_booster(dict(train.BASE_PARAMS, **chosen["point"]), groups, max(1, chosen["trees"]))
    model, _, _ = train.to_onnx(booster, len(names))
    data = model.SerializeToString(deterministic=True)
    with tempfile.NamedTemporaryFile(suffix=".onnx") as tmp:
        tmp.write(data)
        tmp.flush()
        digest = train.sha256(tmp.name)
    model_id = f"ranker-{digest[:12]}"
    log(f"trained {booster.num_trees()} trees on {len(tune)} tune playlists; validation NDCG@10 {chosen['ndcg10']:.4f}; "
        f"model {model_id}")

    # 3: install
    mdir = model_dir_of(db, a.psql, a.model_dir)
    bundle = {"embedding": active["embedding"], "emotion": active["emotion"], "reranker": active["reranker"]}
    installed = install(mdir, model_id, data, digest, names, bundle, a.name)
    log(f"installed in {mdir}: {model_id}, bundles/{a.name}.json")

    # 4: the active bundle and the candidate on the test half (the candidate rolled back)
    active_ndcg = eval_ndcg(db, ds, f"train_ranker: active {active['name']}")
    steps = ["begin", f"select songmatch.register_bundle({lit(a.name)}, activate => true)",
             f"select songmatch.eval_run({train.lit(ds)}, k => {train.K}, label => {lit('train_ranker: ' + a.name)}, "
             "split => 'test') ->> 'ndcg'", "rollback"]
    cmd = [a.psql, a.dsn, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    for st in steps:
        cmd += ["-c", st]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"evaluating the candidate failed: {p.stderr.strip()}")
    candidate_ndcg = float(p.stdout.strip().splitlines()[-1])
    gain = candidate_ndcg - active_ndcg
    registered = gain > a.min_gain
    result = {"registered": registered, "bundle": a.name, "model": model_id, "dataset_hash": ds,
              "active_bundle": active["name"], "active_ndcg": round(active_ndcg, 6),
              "candidate_ndcg": round(candidate_ndcg, 6), "gain": round(gain, 6), "min_gain": a.min_gain,
              "validation_ndcg": round(chosen["ndcg10"], 6), "tune_playlists": len(tune),
              "seconds": round(time.time() - t0, 1)}
    if registered:
        result["bundle_hash"] = db.value(f"select songmatch.register_bundle({lit(a.name)}, activate => true)")
        log(f"registered and activated {a.name}: NDCG@10 {candidate_ndcg:.4f} vs {active_ndcg:.4f} on the test half")
    else:
        if not a.keep:
            for p in installed:
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        log(f"not registered: NDCG@10 {candidate_ndcg:.4f} vs the active {active_ndcg:.4f} "
            f"(gain {gain:+.4f} is not above {a.min_gain}); nothing changed")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
