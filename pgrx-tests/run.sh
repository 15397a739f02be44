#!/usr/bin/env bash
# Tier 3: SQL-level tests with pg_regress against the Makefile's server (scripts/db.sh).
# Each test's output must equal pgrx-tests/expected/<name>.out exactly.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/.." && pwd)"
source "${ROOT}/scripts/versions.env"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config}"
PG_PORT="${PG_PORT:-54315}"
PG_REGRESS="$("${PG_CONFIG}" --pkglibdir)/pgxs/src/test/regress/pg_regress"
OUT="${ROOT}/target/regress"
mkdir -p "${OUT}"

TESTS=(schema hashing artifacts demo embed eval matching api badinput)
if [[ $# -gt 0 ]]; then TESTS=("$@"); fi

cd "${HERE}"
"${PG_REGRESS}" \
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
