#!/usr/bin/env bash
# `make test-quality`: the ranking-quality floor. A pinned, seeded subset of the dev playlists
# (eval/floor.json: which playlists, and the sha256 of the rows that makes) runs through make
# eval's path (eval/run.sh --no-tune) in a database of its own; the test fails when full NDCG@10
# is more than `tolerance` below the figure recorded in eval/floor.json, or when full does not
# beat stage 1 alone. A deliberate change of the ranking records its new figure in the same commit
# (FLOOR_RECORD=1 prints the spec to commit).
#
# The data is ../shared/data/spotify_playlists/spotify_songs_dev.csv.gz (SONGMATCH_EVAL_DATA
# overrides): without it the test is skipped, which make test counts as a failure unless
# SONGMATCH_ALLOW_SKIP names `quality`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
DATA="${SONGMATCH_EVAL_DATA:-${ROOT}/../shared/data/spotify_playlists/spotify_songs_dev.csv.gz}"
SPEC="${ROOT}/eval/floor.json"
OUT="${ROOT}/target/eval-floor"
if [[ ! -r "${DATA}" ]]; then
    echo "SKIP quality: no data file ${DATA}"
    if [[ " ${SONGMATCH_ALLOW_SKIP:-} " == *" quality "* ]]; then
        echo "(allowed by SONGMATCH_ALLOW_SKIP)"
        [[ -z "${SONGMATCH_SKIP_REPORT:-}" ]] || echo "quality" >>"${SONGMATCH_SKIP_REPORT}"
        exit 0
    fi
    echo "FAIL quality: skipped, which checks nothing; SONGMATCH_ALLOW_SKIP=\"quality\" allows it"
    exit 1
fi
mkdir -p "${OUT}"
python3 eval/floor.py subset --data "${DATA}" --spec "${SPEC}" --out "${OUT}/subset.csv.gz" >/dev/null
read -r SEED MIN < <(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["seed"], s["min_tracks"])' "${SPEC}")
t0=${SECONDS}
bash eval/run.sh --data "${OUT}/subset.csv.gz" --db songmatch_floor --out "${OUT}" --no-tune \
    --seed "${SEED}" --min-tracks "${MIN}" >"${OUT}/run.log" 2>&1 || { tail -20 "${OUT}/run.log"; exit 1; }
if [[ "${FLOOR_RECORD:-0}" == 1 ]]; then
    python3 eval/floor.py record --spec "${SPEC}" --report "${OUT}/report.json"
    exit 0
fi
python3 eval/floor.py check --spec "${SPEC}" --report "${OUT}/report.json"
echo "quality floor passed ($((SECONDS - t0)) s)"
"$("${PG_CONFIG:-$(scripts/pg-env.sh PG_CONFIG)}" --bindir)/psql" "$(scripts/db.sh dsn | sed -E 's/(^| )dbname=[^ ]*//') dbname=postgres" \
    -X -q -c "drop database if exists songmatch_floor with (force)" >/dev/null 2>&1 || true
