#!/usr/bin/env bash
# The local PostgreSQL cluster that the Makefile owns, one per major (PG_MAJOR, scripts/pg-env.sh).
#   scripts/db.sh start | stop | status | dsn | dir
# The cluster lives under target/pg (target/pg17 for PostgreSQL 17) (PGDATA target/pg/data, socket and log in target/pg) and runs
# as an unprivileged OS user (PostgreSQL refuses to run as root), on a fixed non-default port.
# When that user cannot reach target/ (a checkout under /root, say), the cluster goes to
# /var/tmp/songmatch-<hash of the checkout path> instead, and target/pg links there.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=pg-env.sh
source "${SCRIPT_DIR}/pg-env.sh"
PG_OS_USER="${PG_OS_USER:-postgres}"
PG_DB="${PG_DB:-songmatch}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

as_pg() {
    if [[ "$(id -un)" == "${PG_OS_USER}" ]]; then "$@"; else sudo -u "${PG_OS_USER}" -- "$@"; fi
}

# The directory holding data/, the socket and the log: target/pg for the default major,
# target/pgNN for another (each major has its own cluster and port).
if [[ "${PG_MAJOR}" == "${PG_MAJOR_DEFAULT}" ]]; then PG_SUBDIR=pg; else PG_SUBDIR="pg${PG_MAJOR}"; fi
pg_dir() {
    local link="${REPO_ROOT}/target/${PG_SUBDIR}"
    if [[ -L "${link}" || -d "${link}" ]]; then
        readlink -f "${link}"
        return
    fi
    mkdir -p "${REPO_ROOT}/target"
    if as_pg test -x "${REPO_ROOT}/target" 2>/dev/null && as_pg test -r "${REPO_ROOT}/target" 2>/dev/null; then
        mkdir -p "${link}"
        chown "${PG_OS_USER}:" "${link}"
        chmod 0700 "${link}"
        echo "${link}"
    else
        local alt
        alt="/var/tmp/songmatch-$(printf '%s' "${REPO_ROOT}/${PG_SUBDIR}" | sha256sum | cut -c1-12)"
        mkdir -p "${alt}"
        chown "${PG_OS_USER}:" "${alt}"
        chmod 0700 "${alt}"
        ln -sfn "${alt}" "${link}"
        log "${PG_OS_USER} cannot reach ${REPO_ROOT}/target; the cluster lives in ${alt}"
        echo "${alt}"
    fi
}

bindir() { "${PG_CONFIG}" --bindir; }

status() {
    local dir; dir="$(pg_dir)"
    [[ -f "${dir}/data/PG_VERSION" ]] && as_pg "$(bindir)/pg_ctl" -D "${dir}/data" status >/dev/null 2>&1
}

start() {
    id "${PG_OS_USER}" >/dev/null 2>&1 || die "OS user ${PG_OS_USER} does not exist (run make setup)"
    local dir; dir="$(pg_dir)"
    if [[ ! -f "${dir}/data/PG_VERSION" ]]; then
        log "initdb ${dir}/data (user ${PG_OS_USER}, trust auth on the socket and 127.0.0.1 only)"
        as_pg "$(bindir)/initdb" -D "${dir}/data" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"${dir}/initdb.log" 2>&1 || { cat "${dir}/initdb.log" >&2; die "initdb failed"; }
        cat <<CONF | as_pg tee -a "${dir}/data/postgresql.conf" >/dev/null
# --- songmatch development cluster ---
port = ${PG_PORT}
listen_addresses = '127.0.0.1'
unix_socket_directories = '${dir}'
max_connections = 50
shared_buffers = 1GB      # the bench's 100k tracks with vectors and HNSW index (~0.5 GB) stay in memory
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF
    fi
    # the inference service (songmatch's background worker) needs songmatch preloaded; the line
    # is added once the library is installed (a server cannot start preloading a missing library)
    local lib; lib="$("${PG_CONFIG}" --pkglibdir)/songmatch.so"
    if [[ -f "${lib}" ]] && ! as_pg grep -q "^shared_preload_libraries = 'songmatch'" "${dir}/data/postgresql.conf"; then
        printf '%s\n' "shared_preload_libraries = 'songmatch'   # the inference service and the background refresh" \
            "max_worker_processes = 32   # the inference supervisor, the refresh launcher, a refresher per database" \
            | as_pg tee -a "${dir}/data/postgresql.conf" >/dev/null
        log "songmatch preloaded (shared_preload_libraries): the server runs its inference service and refreshers"
    fi
    # a preloaded library is mapped by the postmaster: a newer installed one needs a restart
    if status && [[ -f "${lib}" ]] && { [[ "${lib}" -nt "${dir}/data/postmaster.pid" ]] \
            || ! psql_admin -tAc "show shared_preload_libraries" 2>/dev/null | grep -qw songmatch; }; then
        log "restarting the server: the installed songmatch library is newer than the server (or not preloaded yet)"
        as_pg "$(bindir)/pg_ctl" -D "${dir}/data" -l "${dir}/postgres.log" -m fast -w -t 60 restart >/dev/null \
            || { tail -20 "${dir}/postgres.log" >&2; die "server did not restart"; }
    fi
    if status; then
        log "server already running on port ${PG_PORT}"
    else
        log "starting PostgreSQL $(${PG_CONFIG} --version | awk '{print $2}') on 127.0.0.1:${PG_PORT}"
        as_pg "$(bindir)/pg_ctl" -D "${dir}/data" -l "${dir}/postgres.log" -w -t 60 start >/dev/null \
            || { tail -20 "${dir}/postgres.log" >&2; die "server did not start"; }
    fi
    if ! psql_admin -tAc "select 1 from pg_database where datname = '${PG_DB}'" | grep -q 1; then
        psql_admin -qc "create database ${PG_DB}"
    fi
}

stop() {
    local dir; dir="$(pg_dir)"
    if status; then
        as_pg "$(bindir)/pg_ctl" -D "${dir}/data" -m fast -w stop >/dev/null
        log "server stopped"
    else
        log "server not running"
    fi
}

dsn() { printf 'host=127.0.0.1 port=%s dbname=%s user=postgres\n' "${PG_PORT}" "${PG_DB}"; }

psql_admin() { "$(bindir)/psql" "host=127.0.0.1 port=${PG_PORT} dbname=postgres user=postgres" -X -v ON_ERROR_STOP=1 "$@"; }

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if status; then echo running; else echo stopped; exit 3; fi ;;
    dsn) dsn ;;
    dir) pg_dir ;;
    testdir)  # a directory the OS user owns, for `cargo pgrx test --pgdata`
        d="$(pg_dir)/pgrx-test"; mkdir -p "${d}"; chown "${PG_OS_USER}:" "${d}"; echo "${d}/data" ;;
    *) die "usage: $0 start|stop|status|dsn|dir|testdir" ;;
esac
