#!/usr/bin/env bash
# Client-level tests of the backfill procedures (sql/backfill.sql) against a running server:
# bash scripts driving psql sessions (some in the background, some killed). Each test creates and
# drops its own database.
#
#   SONGMATCH_DSN_BASE='host=127.0.0.1 port=54315 user=postgres' pgrx-tests/client/run.sh [test ...]
#
# SONGMATCH_DSN_BASE is a libpq DSN without dbname (default: the Makefile's server). The
# crash_resume test SIGKILLs a backend, which makes the whole server restart (every session of
# the cluster is cut): point it at a test server, or set SONGMATCH_TEST_CRASH=0 to skip it.
# KEEP_DB=1 keeps each test's database. The last line is `N passed, M failed`; the exit status
# is non-zero when a test failed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SONGMATCH_DSN_BASE="${SONGMATCH_DSN_BASE:-host=127.0.0.1 port=${PG_PORT:-54315} user=postgres}"

TESTS=(security upgrade dump_restore drop_guard train_ranker service no_preload refresh kill_resume crash_resume concurrent poison stale genres_emotions control citus)
if [[ $# -gt 0 ]]; then TESTS=("$@"); fi

passed=0
failed=0
skipped=0
failures=()
t_all=${SECONDS}
echo "backfill client tests against: ${SONGMATCH_DSN_BASE}"
for t in "${TESTS[@]}"; do
    script="${HERE}/test_${t}.sh"
    if [[ ! -f "${script}" ]]; then
        echo "FAIL ${t}: no such test (${script})"
        failed=$((failed + 1)); failures+=("${t}")
        continue
    fi
    t0=${SECONDS}
    out="$(TEST_NAME="${t}" bash "${script}" 2>&1)"
    rc=$?
    if [[ ${rc} -eq 0 ]]; then
        passed=$((passed + 1))
        echo "PASS ${t} ($((SECONDS - t0)) s)"
    elif [[ ${rc} -eq 77 ]]; then
        skipped=$((skipped + 1))
        grep '^SKIP' <<<"${out}" || echo "SKIP ${t}"
    else
        failed=$((failed + 1)); failures+=("${t}")
        echo "${out}" | sed 's/^/    /'
        echo "FAIL ${t} ($((SECONDS - t0)) s)"
    fi
done
echo "total $((SECONDS - t_all)) s$( ((skipped > 0)) && echo ", ${skipped} skipped")${failures[*]:+; failed: ${failures[*]}}"
echo "${passed} passed, ${failed} failed"
[[ ${failed} -eq 0 ]]
