#!/usr/bin/env bash
# Tier 3: SQL-level tests with pg_regress against the Makefile's server (scripts/db.sh).
# Each test's output must equal pgrx-tests/expected/<name>.out exactly.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/.." && pwd)"
source "${ROOT}/scripts/pg-env.sh"
PG_REGRESS="$("${PG_CONFIG}" --pkglibdir)/pgxs/src/test/regress/pg_regress"
OUT="${ROOT}/target/regress"
mkdir -p "${OUT}"

TESTS=(schema hashing artifacts demo embed eval matching cache api badinput store)
if [[ $# -gt 0 ]]; then TESTS=("$@"); fi

# the database is made here (pg_regress --use-existing) so that its background refresher is off
# before anything is stale: the expected outputs count inferences and stale marks
PSQL="$("${PG_CONFIG}" --bindir)/psql"
"${PSQL}" "host=127.0.0.1 port=${PG_PORT} user=postgres dbname=postgres" -X -q -v ON_ERROR_STOP=1 \
    -c "drop database if exists songmatch_regress with (force)" -c "create database songmatch_regress" \
    -c "alter database songmatch_regress set songmatch.auto_refresh = off"
cd "${HERE}"
"${PG_REGRESS}" \
    --use-existing \
    --bindir="$("${PG_CONFIG}" --bindir)" \
    --inputdir="${HERE}" \
    --outputdir="${OUT}" \
    --host=127.0.0.1 --port="${PG_PORT}" --user=postgres \
    --dbname=songmatch_regress \
    "${TESTS[@]}" || {
        echo "---- regression diffs (${OUT}/regression.diffs) ----" >&2
        head -200 "${OUT}/regression.diffs" >&2 || true
        exit 1
    }
