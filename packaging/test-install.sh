#!/usr/bin/env bash
# make test-package PG_MAJOR=NN: install songmatch from its package alone and use it.
#   1. the songmatch files a source build installed for this server are removed;
#   2. this script, the package files and the test assets (regress SQL, demo SQL) are copied to a
#      temporary directory, and the rest runs from there with PATH=/usr/sbin:/usr/bin:/sbin:/bin:
#      no source tree, no cargo, no Rust;
#   3. check-elf on the tarball's tree (glibc and carried libraries);
#   4. dpkg -i the .deb; a fresh cluster (port 55NN, its own directory) preloading songmatch;
#      CREATE EXTENSION, the demo SQL, the regress suite, a database created at the oldest frozen
#      release and ALTER EXTENSION UPDATE, the inference service answering, a restart, the service
#      answering again; then dpkg -P and nothing of songmatch is left (every path dpkg -L listed,
#      and no songmatch* under the server's directories);
#   5. the tarball through packaging/docker/install-in-image.sh (the Dockerfiles' RUN step), then
#      install.sh --uninstall; and install-in-image.sh --supabase against stand-ins for the
#      image's postgres wrapper and configuration (a second fresh cluster).
# The Makefile then reinstalls the source build (make install). PostgreSQL 17 is not a Debian
# package on Debian 12 (it is built from source here), so its .deb is installed with
# --force-depends: dpkg cannot see the server that satisfies `postgresql-17`. The output says so.
set -euo pipefail
die() { printf 'test-install: FAIL %s\n' "$*" >&2; exit 1; }
log() { printf '==> %s\n' "$*"; }

if [[ "${1:-}" != --kit ]]; then
    ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    cd "${ROOT}"
    source scripts/pg-env.sh
    VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
    BASE="postgresql-${PG_MAJOR}-songmatch_${VERSION}_amd64"
    [[ -f "target/package/${BASE}.deb" && -f "target/package/${BASE}.tar.gz" ]] \
        || die "target/package/${BASE}.{deb,tar.gz} missing (make package PG_MAJOR=${PG_MAJOR})"
    KIT="$(mktemp -d /tmp/songmatch-pkgtest.XXXXXX)"
    trap 'rm -rf "${KIT}"' EXIT
    mkdir -p "${KIT}/pgrx-tests" "${KIT}/scripts" "${KIT}/sql" "${KIT}/packaging/docker"
    cp "target/package/${BASE}.deb" "target/package/${BASE}.tar.gz" "${KIT}/"
    cp -r pgrx-tests/run.sh pgrx-tests/sql pgrx-tests/expected "${KIT}/pgrx-tests/"
    cp scripts/pg-env.sh scripts/versions.env "${KIT}/scripts/"
    cp -r sql/demo "${KIT}/sql/"
    cp packaging/test-install.sh packaging/check-elf.sh "${KIT}/packaging/"
    cp packaging/docker/install-in-image.sh "${KIT}/packaging/docker/"
    chmod -R a+rX "${KIT}"
    # the source build's files go: only the package may provide songmatch from here on
    PKGLIBDIR="$("${PG_CONFIG}" --pkglibdir)" SHAREDIR="$("${PG_CONFIG}" --sharedir)"
    rm -rf "${PKGLIBDIR}/songmatch.so" "${PKGLIBDIR}/songmatch" "${SHAREDIR}"/extension/songmatch[-.]* "${SHAREDIR}/songmatch"
    rc=0
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        PG_MAJOR="${PG_MAJOR}" PG_CONFIG="${PG_CONFIG}" VERSION="${VERSION}" BASE="${BASE}" \
        bash "${KIT}/packaging/test-install.sh" --kit "${KIT}" || rc=$?
    # after a failure: the test's servers stopped, the package removed (make reinstalls the build)
    for d in "${KIT}/data" "${KIT}/data-supabase"; do
        [[ ! -f "${d}/postmaster.pid" ]] || runuser -u postgres -- "$("${PG_CONFIG}" --bindir)/pg_ctl" -D "${d}" -m immediate -w stop >/dev/null 2>&1 || true
    done
    if dpkg -s "postgresql-${PG_MAJOR}-songmatch" >/dev/null 2>&1; then dpkg -P "postgresql-${PG_MAJOR}-songmatch" >/dev/null || true; fi
    exit "${rc}"
fi

# ------------------------------------------------------------------ from here: the package alone
KIT="$2"
cd "${KIT}"
! command -v cargo >/dev/null 2>&1 || die "cargo is on PATH: this test must run without a Rust toolchain"
[[ ! -e "${KIT}/Cargo.toml" ]] || die "a source tree is in the kit"
PORT="55${PG_MAJOR}"
BIN="$("${PG_CONFIG}" --bindir)"
PKGLIBDIR="$("${PG_CONFIG}" --pkglibdir)" SHAREDIR="$("${PG_CONFIG}" --sharedir)"
PG_OS_USER=postgres
as_pg() { if [[ "$(id -un)" == "${PG_OS_USER}" ]]; then "$@"; else runuser -u "${PG_OS_USER}" -- "$@"; fi; }
DATA="${KIT}/data"
psql_db() { "${BIN}/psql" "host=127.0.0.1 port=${PORT} user=postgres dbname=${1}" -X -q -At -v ON_ERROR_STOP=1 "${@:2}"; }
check() { [[ "$2" == "$3" ]] || die "$1: expected '$2', got '$3'"; echo "ok - $1"; }

leftovers() { find "${PKGLIBDIR}" "${SHAREDIR}" -name '*songmatch*' 2>/dev/null | sort; }
[[ -z "$(leftovers)" ]] || die "songmatch files present before the install: $(leftovers | head -3)"

cluster_start() {
    if [[ ! -f "${DATA}/PG_VERSION" ]]; then
        mkdir -p "${DATA}" && chown "${PG_OS_USER}:" "${DATA}" "${KIT}"
        as_pg "${BIN}/initdb" -D "${DATA}" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        printf '%s\n' "port = ${PORT}" "listen_addresses = '127.0.0.1'" "unix_socket_directories = '${KIT}'" \
            "shared_preload_libraries = 'songmatch'" "max_worker_processes = 32" "fsync = off" \
            | as_pg tee -a "${DATA}/postgresql.conf" >/dev/null
    fi
    as_pg "${BIN}/pg_ctl" -D "${DATA}" -l "${KIT}/postgres.log" -w -t 60 "${1:-start}" >/dev/null \
        || { tail -20 "${KIT}/postgres.log" >&2; die "server did not ${1:-start}"; }
}
cluster_stop() { as_pg "${BIN}/pg_ctl" -D "${DATA}" -m fast -w stop >/dev/null; }

# the inference service answers: mode service, running, and an embedding computed through it
service_answers() {
    local db="$1" st
    for _ in $(seq 1 60); do
        st="$(psql_db "${db}" -c "select songmatch.inference_status() #>> '{service,running}'")"
        [[ "${st}" == true ]] && break
        sleep 1
    done
    check "$2: the inference service runs" "true" "${st}"
    check "$2: mode" "service" "$(psql_db "${db}" -c "select songmatch.inference_status()->>'mode'")"
    check "$2: an embedding through the service" "384" \
        "$(psql_db "${db}" -c "select pg_catalog.array_length(songmatch.embed('a quiet song for a rainy night')::real[], 1)")"
}

log "PostgreSQL ${PG_MAJOR} ($("${PG_CONFIG}" --version)), ${BASE}: installed from the package alone (no cargo on PATH)"

# ---- the tree's binaries
mkdir -p "${KIT}/tar" && tar -xzf "${BASE}.tar.gz" -C "${KIT}/tar"
bash "${KIT}/packaging/check-elf.sh" "${KIT}/tar/${BASE}"

# ---- the .deb
dpkg_args=()
if ! dpkg -s "postgresql-${PG_MAJOR}" >/dev/null 2>&1; then
    log "postgresql-${PG_MAJOR} is not a Debian package on this machine (a source build): dpkg -i --force-depends"
    dpkg_args=(--force-depends)
fi
dpkg -i "${dpkg_args[@]}" "${BASE}.deb" >/dev/null
PKG="postgresql-${PG_MAJOR}-songmatch"
check "dpkg: ${PKG} installed" "install ok installed" "$(dpkg-query -W -f='${Status}' "${PKG}")"
mapfile -t listed < <(dpkg -L "${PKG}")
[[ -f "${PKGLIBDIR}/songmatch.so" && -f "${PKGLIBDIR}/songmatch/libonnxruntime.so.1" ]] || die "the .deb did not install into ${PKGLIBDIR}"
cluster_start
psql_db postgres -c "create database pkg" -c "create database pkg_up"
psql_db pkg -c "create extension songmatch cascade"
check "CREATE EXTENSION: version" "${VERSION}" "$(psql_db pkg -c "select extversion from pg_extension where extname = 'songmatch'")"
check "versions() names the server major" "${PG_MAJOR}" "$(psql_db pkg -c "select songmatch.versions()->>'postgresql'")"
service_answers pkg ".deb"
psql_db pkg -f sql/demo/catalogue.sql >/dev/null
"${BIN}/psql" "host=127.0.0.1 port=${PORT} user=postgres dbname=pkg" -X -v ON_ERROR_STOP=1 -f sql/demo/show.sql >"${KIT}/demo.out"
n="$(psql_db pkg -c "select count(*) from songmatch.match_playlist((select id from songmatch.playlists order by id limit 1), top_k => 5)")"
[[ "${n}" -ge 1 ]] || die "the demo: match_playlist returned no row"
echo "ok - the demo SQL ($(wc -l <"${KIT}/demo.out") lines of output; match_playlist answers ${n} rows)"
PG_PORT="${PORT}" bash pgrx-tests/run.sh >"${KIT}/regress.log" 2>&1 || { tail -40 "${KIT}/regress.log"; die "the regress suite"; }
echo "ok - the regress suite: $(grep -cE '^(ok|not ok)|\.\.\. ok' "${KIT}/regress.log" || true) tests passed"
oldest="$(ls "${SHAREDIR}/extension" | sed -n 's/^songmatch--\([0-9.]*\)\.sql$/\1/p' | sort -V | head -1)"
psql_db pkg_up -c "create extension songmatch version '${oldest}' cascade" -c "alter extension songmatch update"
check "ALTER EXTENSION UPDATE from ${oldest}" "${VERSION}" "$(psql_db pkg_up -c "select extversion from pg_extension where extname = 'songmatch'")"
cluster_start restart
service_answers pkg "after a restart"
cluster_stop
dpkg -P "${PKG}" >/dev/null
for p in "${listed[@]}"; do
    case "${p}" in */songmatch* | *songmatch) [[ ! -e "${p}" ]] || die "dpkg -P left ${p}" ;; esac
done
[[ -z "$(leftovers)" ]] || die "left behind after dpkg -P: $(leftovers | tr '\n' ' ')"
echo "ok - dpkg -P: nothing of songmatch is left (${#listed[@]} paths listed)"

# ---- the tarball through install-in-image.sh (the Dockerfiles' RUN step), pg_config on PATH
PATH="${BIN}:${PATH}" sh packaging/docker/install-in-image.sh "${BASE}.tar.gz"
cluster_start
psql_db postgres -c "create database tar"
psql_db tar -c "create extension songmatch cascade"
service_answers tar "tarball (install-in-image.sh)"
cluster_stop
sh "${KIT}/tar/${BASE}/install.sh" --pg-config "${PG_CONFIG}" --uninstall
[[ -z "$(leftovers)" ]] || die "left behind after install.sh --uninstall: $(leftovers | tr '\n' ' ')"
echo "ok - install.sh --uninstall: nothing of songmatch is left"

# ---- install-in-image.sh --supabase, against stand-ins for the image's files: a `postgres`
# wrapper that sets NIX_PGLIBDIR (here this server's pkglibdir), a postgresql.conf that preloads
# plpgsql (Supabase's list starts so), names supautils.privileged_extensions and includes conf.d
SB="${KIT}/supabase"
DATA="${KIT}/data-supabase"
mkdir -p "${SB}/conf.d" "${DATA}" && chown -R "${PG_OS_USER}:" "${SB}" "${DATA}"
printf '#!/bin/sh\nexport NIX_PGLIBDIR='"'"'%s'"'"'\nexec "%s/postgres" "$@"\n' "${PKGLIBDIR}" "${BIN}" >"${SB}/postgres"
as_pg "${BIN}/initdb" -D "${DATA}" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
printf '%s\n' "port = ${PORT}" "listen_addresses = '127.0.0.1'" "unix_socket_directories = '${KIT}'" "fsync = off" \
    "shared_preload_libraries = 'plpgsql'" "supautils.privileged_extensions = 'pgcrypto, vector'" \
    "include_dir = '${SB}/conf.d'" | as_pg tee -a "${DATA}/postgresql.conf" >/dev/null
PATH="${BIN}:${PATH}" SONGMATCH_POSTGRES_WRAPPER="${SB}/postgres" SONGMATCH_PG_CONF="${DATA}/postgresql.conf" \
    SONGMATCH_CONF_DIR="${SB}/conf.d" sh packaging/docker/install-in-image.sh "${BASE}.tar.gz" --supabase
as_pg "${BIN}/pg_ctl" -D "${DATA}" -l "${KIT}/postgres.log" -w -t 60 start >/dev/null || { tail -20 "${KIT}/postgres.log" >&2; die "the supabase stand-in did not start"; }
check "supabase: shared_preload_libraries" "plpgsql, songmatch" "$(psql_db postgres -c "show shared_preload_libraries")"
check "supabase: supautils.privileged_extensions" "pgcrypto, vector, songmatch" "$(psql_db postgres -c "show supautils.privileged_extensions")"
psql_db postgres -c "create database sb"
psql_db sb -c "create schema extensions" -c "create extension vector with schema extensions" -c "create extension songmatch"
service_answers sb "supabase stand-in (vector in schema extensions)"
as_pg "${BIN}/pg_ctl" -D "${DATA}" -m fast -w stop >/dev/null
sh "${KIT}/tar/${BASE}/install.sh" --pkglibdir "${PKGLIBDIR}" --sharedir "${SHAREDIR}" --uninstall
[[ -z "$(leftovers)" ]] || die "left behind after install.sh --uninstall: $(leftovers | tr '\n' ' ')"
echo "package install test passed: ${BASE} (PostgreSQL ${PG_MAJOR})"
