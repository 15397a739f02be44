# Shared helpers of the client-level backfill tests (sourced by test_*.sh).
#
# Each test creates its own database songmatch_bf_<name>_<pid> on the server given by
# $SONGMATCH_DSN_BASE (a libpq DSN without dbname), runs `create extension songmatch cascade`,
# loads sql/backfill.sql itself when the installed extension does not have songmatch.backfill yet,
# generates a catalogue with bf_generate_catalogue() (catalogue.sql; never real data), and drops
# the database at the end (KEEP_DB=1 keeps it). It prints `PASS <name>` or `FAIL <name>: why`
# and exits 0, 1, or 77 (skipped).
set -euo pipefail

CLIENT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${CLIENT_DIR}/../.." && pwd)"
# PG_MAJOR, PG_CONFIG, PG_PORT: the server under test (scripts/pg-env.sh; make test sets them)
source "${REPO_ROOT}/scripts/pg-env.sh"
DSN_BASE="${SONGMATCH_DSN_BASE:-host=127.0.0.1 port=${PG_PORT} user=postgres}"
PG_BINDIR="${PG_BINDIR:-$("${PG_CONFIG}" --bindir)}"
PSQL="${PG_BINDIR}/psql"
[[ -x "${PSQL}" ]] || PSQL="psql"
TEST_NAME="${TEST_NAME:-$(basename "$0" .sh)}"
TEST_NAME="${TEST_NAME#test_}"
DB="songmatch_bf_${TEST_NAME}_$$"
WORK="$(mktemp -d "/tmp/songmatch_bf_${TEST_NAME}.XXXXXX")"
BG_PIDS=()
_REPORTED=0

dsn() { echo "${DSN_BASE} dbname=${1:-${DB}}"; }

# sql 'query' -> unaligned, tuples-only output; any error fails the test. Called directly, a failed
# query stops the script (set -e); in `check 'what' '' "$(sql ...)"` it would not (the substitution
# runs in a subshell, and its status is lost in an argument list), and an empty expected value would
# pass on an SQL error. So sql records each failed query in a file: check fails when one is there,
# and so does pass. A query that is expected to fail, or may fail (polling), uses sql_try.
_SQL_FAILED="${WORK}/sql_failed"
sql() { recorded "${PSQL}" "$(dsn)" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
# recorded CMD [ARG...]: runs a client command (the tests' own psql wrappers for other servers or
# databases use it) and records its failure as sql does; returns its status
recorded() {
    local rc=0 what
    "$@" || rc=$?
    if ((rc != 0)); then
        what="${*: -1}"  # (the last argument: the query, for every wrapper here)
        printf 'status %s: %s\n' "${rc}" "${what:0:300}" >>"${_SQL_FAILED}"
    fi
    return "${rc}"
}
# sql_try 'query': as sql, but a failure is the caller's to judge (it is not recorded)
sql_try() { "${PSQL}" "$(dsn)" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
# fails the test when a query run by sql failed (what: the check that found it)
sql_failed_check() {
    [[ ! -s "${_SQL_FAILED}" ]] || fail "$1: a query failed (its error is above): $(head -3 "${_SQL_FAILED}")"
}
# sql_log 'statement' logfile -> runs it, NOTICEs and errors into logfile, returns psql's status
sql_log() { "${PSQL}" "$(dsn) application_name=${3:-bf_test}" -X -q -v ON_ERROR_STOP=1 -c "$1" >"$2" 2>&1; }
sql_admin() { PGOPTIONS="-c client_min_messages=warning" "${PSQL}" "$(dsn postgres)" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

say() { printf '  %s\n' "$*"; }
fail() {
    _REPORTED=1
    echo "FAIL ${TEST_NAME}: $*"
    exit 1
}
pass() {
    sql_failed_check "before PASS"
    _REPORTED=1
    echo "PASS ${TEST_NAME}"
    exit 0
}
skip() {
    _REPORTED=1
    echo "SKIP ${TEST_NAME}: $*"
    exit 77
}

# check 'what' expected actual: fails, too, when a query run by sql failed (the actual value of
# `check ... "$(sql ...)"` is then not a result)
check() {
    sql_failed_check "$1"
    if [[ "$3" == "$2" ]]; then
        say "ok   $1 = $3"
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

# check_sql 'what' expected 'query'
check_sql() { check "$1" "$2" "$(sql "$3")"; }

# wait_for 'what' timeout_s 'query returning t/f' ['diagnosis query']
# [diagnosis query]: on a timeout, its rows are printed before the failure (what was not ready)
wait_for() {
    local deadline=$((SECONDS + $2))
    until [[ "$(sql_try "$3" 2>/dev/null || true)" == "t" ]]; do
        if ((SECONDS >= deadline)); then
            if [[ -n "${4:-}" ]]; then
                "${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=0 -P pager=off -c "$4" 2>&1 | head -60 | sed 's/^/    /' || true
            fi
            fail "timed out after $2 s waiting for: $1"
        fi
        sleep 0.1
    done
}

# wait until the server accepts connections and is out of recovery
wait_server() {
    local deadline=$((SECONDS + $1))
    until [[ "$("${PSQL}" "$(dsn postgres)" -X -At -c 'select not pg_is_in_recovery()' 2>/dev/null || true)" == "t" ]]; do
        ((SECONDS < deadline)) || fail "the server did not come back within $1 s"
        sleep 0.2
    done
}

# backend pid of the session with this application_name in our database
backend_pid() {
    sql "select pid from pg_stat_activity where datname = current_database() and application_name = '$1' limit 1"
}

cleanup() {
    local rc=$?
    local p
    for p in "${BG_PIDS[@]}"; do kill "${p}" 2>/dev/null || true; done
    for p in "${BG_PIDS[@]}"; do wait "${p}" 2>/dev/null || true; done
    if [[ "${KEEP_DB:-0}" != "1" ]]; then
        sql_admin "drop database if exists ${DB} with (force)" >/dev/null 2>&1 || true
        [[ -z "${TEST_ROLE:-}" ]] || sql_admin "drop role if exists ${TEST_ROLE}" >/dev/null 2>&1 || true
        rm -rf "${WORK}"
    else
        echo "  (kept database ${DB} and ${WORK})"
    fi
    if [[ ${_REPORTED} -eq 0 ]]; then
        echo "FAIL ${TEST_NAME}: exited with status ${rc} (line ${_LAST_LINE:-?})"
        exit 1
    fi
}
trap '_LAST_LINE=${LINENO}' ERR
trap cleanup EXIT

# create_test_db NAME [on|off]: a new database whose background refresher (songmatch.auto_refresh)
# is off unless asked for: these tests count inferences and stale marks themselves
create_test_db() {
    sql_admin "create database $1" >/dev/null
    sql_admin "alter database $1 set songmatch.auto_refresh = ${2:-off}" >/dev/null
}

# setup_db [n_tracks] [n_playlists]: a fresh database with the extension, the backfill objects
# and a generated catalogue
setup_db() {
    sql_admin "drop database if exists ${DB} with (force)" >/dev/null
    create_test_db "${DB}" "${REFRESH:-off}"
    # SONGMATCH_TEST_EXTENSION: another extension name with the same script (to test a build
    # before it is installed as songmatch)
    sql "set client_min_messages = warning; create extension ${SONGMATCH_TEST_EXTENSION:-songmatch} cascade" >/dev/null
    if [[ "$(sql "select to_regprocedure('songmatch.backfill(text,integer,integer,text,boolean)') is null")" == "t" ]]; then
        "${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
            -f "${REPO_ROOT}/sql/backfill.sql" >/dev/null
    fi
    "${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -f "${CLIENT_DIR}/catalogue.sql" >/dev/null
    sql "select bf_generate_catalogue(${1:-300}, ${2:-12})" >/dev/null
    sql "select songmatch.register_bundle('default', true)" >/dev/null
}

# api_roles: the roles of the Supabase contract (anon, authenticated, service_role), cluster-wide,
# created when missing
api_roles() {
    sql_admin "do \$\$ begin
        if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
        if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
        if not exists (select 1 from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
    end \$\$" >/dev/null
}

# private_model_dir DEST: a model directory of the test's own, readable by the server: links to the
# installed models and copies of the installed bundle files (which the test may then change)
INSTALLED_MODELS="$("${PG_CONFIG}" --sharedir)/songmatch/models"
private_model_dir() {
    local d
    mkdir -p "$1/bundles"
    for d in "${INSTALLED_MODELS}"/*/; do
        [[ "$(basename "${d}")" == bundles ]] || ln -s "${d%/}" "$1/$(basename "${d}")"
    done
    cp "${INSTALLED_MODELS}"/bundles/*.json "$1/bundles/"
    chmod -R a+rX "${WORK}"
}

# the number of track embeddings and of distinct keys (must be equal)
embeddings_count() { sql "select count(*) from songmatch.track_embeddings"; }
embeddings_dups() {
    sql "select count(*) - count(distinct (track_id, embedding_kind, model_name, model_version)) from songmatch.track_embeddings"
}
inferences() { sql "select songmatch.stat('inferences:all-minilm-l6-v2-int8')::bigint"; }
