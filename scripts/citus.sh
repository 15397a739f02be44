#!/usr/bin/env bash
# A throw-away Citus cluster on this machine, for songmatch's scale-out test and bench.
#   scripts/citus.sh available        exit 0 when Citus is installed or can be built here
#   scripts/citus.sh build            build and install Citus from ../shared/vendor/citus when missing
#   scripts/citus.sh start DIR N      a coordinator and N workers under DIR (ports from CITUS_PORT)
#   scripts/citus.sh add DIR          one more node under DIR (not yet in the cluster); prints its port
#   scripts/citus.sh stop DIR         stop every node under DIR and remove DIR
# Every node preloads citus then songmatch (Citus must come first), listens on 127.0.0.1 only with
# trust auth, and runs as the unprivileged OS user. Ports: the first free block of consecutive
# ports from CITUS_PORT (default 26400, below the ephemeral range); DIR/ports lists them.
# Real deployments install Citus from their own packages; this only serves the tests.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
source "${SCRIPT_DIR}/versions.env"

PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config}"
PG_OS_USER="${PG_OS_USER:-postgres}"
VENDOR="${CITUS_VENDOR:-${REPO_ROOT}/../shared/vendor/citus}"
CITUS_TAR="citus-13.2.2.tar.gz"
CITUS_SHA256="c8fc76dc8294636a52b1a0dd75a20d8b4a36937df6443e30ca84d8d0464a6bb9"
CITUS_PATCH="pg15-have_createdb_privilege.patch"
CITUS_DEBS=(libzstd-dev liblz4-dev libcurl4-openssl-dev libkrb5-dev libssl-dev libselinux1-dev libxslt1-dev
            libpam0g-dev libreadline-dev)
BASE_PORT="${CITUS_PORT:-26400}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
as_pg() { if [[ "$(id -un)" == "${PG_OS_USER}" ]]; then "$@"; else sudo -u "${PG_OS_USER}" -- "$@"; fi; }
bindir() { "${PG_CONFIG}" --bindir; }
installed() { [[ -f "$("${PG_CONFIG}" --pkglibdir)/citus.so" && -f "$("${PG_CONFIG}" --sharedir)/extension/citus.control" ]]; }

available() { installed || [[ -f "${VENDOR}/${CITUS_TAR}" ]]; }

build() {
    if installed; then return 0; fi
    [[ -f "${VENDOR}/${CITUS_TAR}" ]] || die "Citus is not installed and ${VENDOR}/${CITUS_TAR} is absent"
    echo "${CITUS_SHA256}  ${VENDOR}/${CITUS_TAR}" | sha256sum -c --quiet - || die "sha256 mismatch: ${VENDOR}/${CITUS_TAR}"
    local sudo=(); [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    local missing=() p
    for p in "${CITUS_DEBS[@]}"; do dpkg -s "${p}" >/dev/null 2>&1 || missing+=("${p}"); done
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]} (to build Citus)"
        "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
            || { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
            || die "could not install ${missing[*]}"
    fi
    local work; work="$(mktemp -d /var/tmp/songmatch-citus-build.XXXXXX)"
    log "building Citus 13.2.2 from ${VENDOR} (about 2 minutes; log in ${work}/build.log)"
    tar -xzf "${VENDOR}/${CITUS_TAR}" -C "${work}"
    local src; src="$(find "${work}" -maxdepth 1 -mindepth 1 -type d | head -1)"
    (cd "${src}" && patch -p1 -s < "${VENDOR}/${CITUS_PATCH}" && ./configure PG_CONFIG="${PG_CONFIG}" \
        && make -j"$(nproc)" && "${sudo[@]}" make install) >"${work}/build.log" 2>&1 \
        || { tail -30 "${work}/build.log" >&2; die "the Citus build failed (log: ${work}/build.log)"; }
    rm -rf "${work}"
    installed || die "Citus was built but is not installed under $("${PG_CONFIG}" --pkglibdir)"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# init_node DIR NAME PORT: a data directory and a running server
init_node() {
    local dir="$1" name="$2" port="$3"
    as_pg "$(bindir)/initdb" -D "${dir}/${name}" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        >"${dir}/${name}.initdb.log" 2>&1 || { cat "${dir}/${name}.initdb.log" >&2; die "initdb ${name} failed"; }
    cat <<CONF | as_pg tee -a "${dir}/${name}/postgresql.conf" >/dev/null
port = ${port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '${dir}'
shared_preload_libraries = 'citus,songmatch'
max_worker_processes = 32
max_connections = 60
shared_buffers = 128MB
wal_level = logical           # shard moves (the rebalancer) copy by logical replication
max_replication_slots = 10
max_wal_senders = 10
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
citus.max_cached_conns_per_worker = 2
citus.node_conninfo = 'sslmode=disable'   # local test nodes have no certificates
CONF
    as_pg "$(bindir)/pg_ctl" -D "${dir}/${name}" -l "${dir}/${name}.log" -w -t 60 start >/dev/null \
        || { tail -20 "${dir}/${name}.log" >&2; die "node ${name} did not start"; }
    echo "${name} ${port}" >>"${dir}/ports"
}

next_port() {
    local p="$1"
    while ! port_free "${p}"; do p=$((p + 1)); done
    echo "${p}"
}

start() {
    local dir="$1" n="${2:-2}"
    build
    id "${PG_OS_USER}" >/dev/null 2>&1 || die "OS user ${PG_OS_USER} does not exist"
    mkdir -p "${dir}"; chown "${PG_OS_USER}:" "${dir}"; : >"${dir}/ports"; chmod 0644 "${dir}/ports"
    local p="${BASE_PORT}" i
    p="$(next_port "${p}")"; init_node "${dir}" coordinator "${p}"
    for ((i = 1; i <= n; i++)); do p="$(next_port $((p + 1)))"; init_node "${dir}" "worker${i}" "${p}"; done
    cat "${dir}/ports"
}

add() {
    local dir="$1" last; last="$(awk 'END {print $2}' "${dir}/ports")"
    local i; i="$(grep -c '^worker' "${dir}/ports" || true)"
    local p; p="$(next_port $((last + 1)))"
    init_node "${dir}" "worker$((i + 1))" "${p}"
    echo "${p}"
}

stop() {
    local dir="$1" name
    [[ -d "${dir}" ]] || return 0
    for name in coordinator worker1 worker2 worker3 worker4; do
        [[ -f "${dir}/${name}/PG_VERSION" ]] && as_pg "$(bindir)/pg_ctl" -D "${dir}/${name}" -m immediate -w stop >/dev/null 2>&1 || true
    done
    rm -rf "${dir}"
}

case "${1:-}" in
    available) available ;;
    build) build ;;
    start) start "${2:?DIR}" "${3:-2}" ;;
    add) add "${2:?DIR}" ;;
    stop) stop "${2:?DIR}" ;;
    *) die "usage: $0 available|build|start DIR N|add DIR|stop DIR" ;;
esac
