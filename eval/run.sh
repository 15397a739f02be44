#!/usr/bin/env bash
# `make eval`: offline evaluation of songmatch on a Spotify-songs CSV (see eval/README.md).
#
#   bash eval/run.sh --data PATH.csv.gz [--holdout 0.2] [--negatives 100] [--min-tracks 10]
#                    [--seed 42] [--k 10] [--db songmatch_eval] [--no-tune] [--reuse-db]
#                    [--folds 5] [--no-cv]
#
# --reuse-db keeps an already loaded database (development: skips the load, embeds only what
# is missing); by default the database is dropped and created again. --no-cv skips the k-fold
# cross-validation by playlist (eval/cv.py, in target/venv-ranker), which is the honest figure.
# Needs the extension installed and the Makefile's server running (make install db-start).
# (Re)creates the database songmatch_eval, loads the CSV (eval/load.sql), embeds every track,
# builds the dataset, runs the baselines (random, popularity, audio, embedding) and the full
# matcher, tunes the weights on one half of the playlists and reports on the other
# (eval/evaluate.py), cross-validates by playlist (eval/cv.py), and writes target/eval/report.md,
# report.json, cv.json and metrics.svg.
# Progress goes to stderr; the LAST line of stdout is one JSON object.
# The data file is read where it is: nothing of it is copied into the repository.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
export PYTHONDONTWRITEBYTECODE=1

DATA="" HOLDOUT=0.2 NEGATIVES=100 MIN_TRACKS=10 SEED=42 K=10 DB=songmatch_eval TUNE=1 REUSE=0 CV=1 FOLDS=5
OUT="${ROOT}/target/eval"
source "${ROOT}/scripts/pg-env.sh"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'eval: ERROR: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --data) DATA="$2"; shift 2 ;;
        --holdout) HOLDOUT="$2"; shift 2 ;;
        --negatives) NEGATIVES="$2"; shift 2 ;;
        --min-tracks) MIN_TRACKS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --k) K="$2"; shift 2 ;;
        --db) DB="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --no-tune) TUNE=0; shift ;;
        --no-cv) CV=0; shift ;;
        --folds) FOLDS="$2"; shift 2 ;;
        --reuse-db) REUSE=1; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ -n "${DATA}" ]] || die "no data file: make eval DATA=path/to/spotify_songs.csv.gz"
[[ -r "${DATA}" ]] || die "cannot read ${DATA}"
[[ "${DB}" =~ ^[a-z_][a-z0-9_]*$ ]] || die "--db must be a plain lower-case identifier"
for v in "${HOLDOUT}" "${NEGATIVES}" "${MIN_TRACKS}" "${SEED}" "${K}" "${FOLDS}"; do
    [[ "${v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "not a number: ${v}"
done
command -v python3 >/dev/null || die "python3 is needed"

PSQL="$("${PG_CONFIG}" --bindir)/psql"
BASE_DSN="$(scripts/db.sh dsn | sed -E 's/(^| )dbname=[^ ]*//')"
ADMIN_DSN="${BASE_DSN} dbname=postgres"
DSN="${BASE_DSN} dbname=${DB}"
psql_eval() { "${PSQL}" "${DSN}" -X -q -v ON_ERROR_STOP=1 "$@"; }

mkdir -p "${OUT}"
started=$(date +%s)
log "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) CPUs; data ${DATA}"

reuse=0
if [[ "${REUSE}" == 1 ]] && [[ "$(psql_eval -At -c "select count(*) > 0 from songmatch.tracks" 2>/dev/null || true)" == "t" ]]; then
    reuse=1
    log "reusing the loaded database ${DB}"
fi

if [[ "${reuse}" == 0 ]]; then
# --- a fresh database ------------------------------------------------------------------------
log "creating database ${DB}"
"${PSQL}" "${ADMIN_DSN}" -X -q -v ON_ERROR_STOP=1 \
    -c "set client_min_messages = warning" \
    -c "drop database if exists ${DB} with (force)" \
    -c "create database ${DB}" \
    -c "alter database ${DB} set songmatch.auto_refresh = off"   # the evaluation embeds what it needs itself
psql_eval -c "set client_min_messages = warning" -c "create extension songmatch cascade"

# --- load ---------------------------------------------------------------------------------------
log "loading the CSV"
psql_eval -c "create table public.eval_import_raw (
    rn bigint generated always as identity primary key,
    track_id text, track_name text, track_artist text, track_popularity text, track_album_id text,
    track_album_name text, track_album_release_date text, playlist_name text, playlist_id text,
    playlist_genre text, playlist_subgenre text, danceability text, energy text, key text, loudness text,
    mode text, speechiness text, acousticness text, instrumentalness text, liveness text, valence text,
    tempo text, duration_ms text)"
cols="track_id, track_name, track_artist, track_popularity, track_album_id, track_album_name,
      track_album_release_date, playlist_name, playlist_id, playlist_genre, playlist_subgenre, danceability,
      energy, key, loudness, mode, speechiness, acousticness, instrumentalness, liveness, valence, tempo, duration_ms"
case "${DATA}" in
    *.gz) gzip -dc -- "${DATA}" ;;
    *) cat -- "${DATA}" ;;
esac | psql_eval -c "copy public.eval_import_raw (${cols}) from stdin with (format csv, header match)"
loaded="$(psql_eval -At -f eval/load.sql)"
log "loaded ${loaded}"
# the playlist genre columns go no further than the staging table
psql_eval -c "drop table public.eval_import_raw"

fi

# --- embeddings ---------------------------------------------------------------------------------
t0=$(date +%s)
log "embedding every track (active bundle)"
psql_eval -At -c "select songmatch.eval_active_bundle()" >/dev/null
has_backfill="$(psql_eval -At -c "select exists (select 1 from pg_proc where proname = 'backfill' and prokind = 'p'
                                                 and pronamespace = 'songmatch'::regnamespace)")"
if [[ "${has_backfill}" == "t" ]]; then
    psql_eval -c "set client_min_messages = warning" -c "call songmatch.backfill('embeddings')" || log "backfill failed; embedding in chunks"
fi
# whatever is still missing (all of it without the backfill procedure): embed_tracks in chunks
# of 500, one transaction each. Resumable: a lost connection (the server restarting because a
# backend crashed, e.g. when songmatch.so is replaced under it) is retried.
embed_missing() {
psql_eval <<'SQL'
do $$
declare
    ids   bigint[];
    model text;
    n     int := 0;
    total int;
begin
    select embedding_model into model from songmatch.model_bundles where is_active;
    select count(*) into total from songmatch.tracks t
     where not exists (select 1 from songmatch.track_embeddings e where e.track_id = t.id
                         and e.embedding_kind = 'document' and e.model_name = model);
    loop
        select array_agg(id) into ids from (
            select t.id from songmatch.tracks t
             where not exists (select 1 from songmatch.track_embeddings e where e.track_id = t.id
                                 and e.embedding_kind = 'document' and e.model_name = model)
             order by t.id limit 500) x;
        exit when ids is null;
        perform count(*) from songmatch.embed_tracks(ids);
        n := n + cardinality(ids);
        raise notice 'embedded % / %', n, total;
        commit;
        -- a track whose embedding failed would come back forever
        exit when n > total;
    end loop;
end
$$;
SQL
}
for attempt in 1 2 3; do
    if embed_missing; then break; fi
    [[ "${attempt}" == 3 ]] && die "embedding failed three times"
    log "embedding interrupted; resuming in 10 s"
    sleep 10
done
embed_s=$(( $(date +%s) - t0 ))
embedded="$(psql_eval -At -c "select count(distinct track_id) from songmatch.track_embeddings where embedding_kind = 'document'")"
log "embedded ${embedded} tracks in ${embed_s} s"

# --- dataset, runs, tuning, report ---------------------------------------------------------------
# k-fold cross-validation by playlist (eval/cv.py) needs the ranker's venv (make ranker-venv)
cv_flag=()
if [[ "${CV}" == 1 ]]; then
    [[ -x "${ROOT}/target/venv-ranker/bin/python" ]] || die "no target/venv-ranker (make ranker-venv), or --no-cv"
    cv_flag=(--cv-python "${ROOT}/target/venv-ranker/bin/python" --cv-folds "${FOLDS}")
fi
tune_flag=()
[[ "${TUNE}" == 1 ]] || tune_flag=(--no-tune)
python3 eval/evaluate.py --dsn "${DSN}" --psql "${PSQL}" --out "${OUT}" \
    --seed "${SEED}" --holdout "${HOLDOUT}" --negatives "${NEGATIVES}" --min-tracks "${MIN_TRACKS}" --k "${K}" \
    --data-name "$(basename -- "${DATA}")" --embed-seconds "${embed_s}" --started "${started}" "${tune_flag[@]}" \
    "${cv_flag[@]}"
