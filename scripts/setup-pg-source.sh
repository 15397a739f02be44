#!/usr/bin/env bash
# PostgreSQL PG_MAJOR for a machine whose distribution has no server package of that major
# (PostgreSQL 17 on Debian 12). Idempotent:
#   a) the distribution's /usr/lib/postgresql/NN/bin/pg_config exists (PGDG, Debian 13...) -> done
#   b) the private build is installed at the pinned version -> done
#   c) otherwise: fetch Debian's source package (PGNN_SRC_VERSION, suite PGVECTOR_SRC_SUITE), check
#      the upstream tarball against PGNN_ORIG_SHA256, build it with this machine's libraries and
#      install it:
#        programs, headers, libpq             PGNN_PREFIX (/opt/songmatch-pg17): private, so
#                                             Debian's psql wrapper keeps choosing the packaged 15
#        server modules (pkglibdir)           /usr/lib/postgresql/NN/lib  \ the layout of Debian's
#        extension SQL, timezones (sharedir)  /usr/share/postgresql/NN    / postgresql-NN package
#      so a postgresql-NN-songmatch .deb (make package) installs where this server reads it, as it
#      does on a host with Debian's or PGDG's server.
# Env: PG_MAJOR (default versions.env's PG_MAJOR_DEFAULT), BUILD_DIR (default target/build).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=pg-env.sh
source "${SCRIPT_DIR}/pg-env.sh"
export DEBIAN_FRONTEND=noninteractive

log() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

if [[ ${EUID} -eq 0 ]]; then SUDO=(); else SUDO=(sudo DEBIAN_FRONTEND=noninteractive); fi

if [[ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config" ]]; then
    log "PostgreSQL ${PG_MAJOR} is installed by the distribution (/usr/lib/postgresql/${PG_MAJOR}/bin); nothing to build"
    exit 0
fi
v_version="PG${PG_MAJOR}_SRC_VERSION"
v_sha="PG${PG_MAJOR}_ORIG_SHA256"
v_prefix="PG${PG_MAJOR}_PREFIX"
SRC_VERSION="${!v_version:-}"
ORIG_SHA256="${!v_sha:-}"
PREFIX="${!v_prefix:-}"
[[ -n "${SRC_VERSION}" && -n "${ORIG_SHA256}" && -n "${PREFIX}" ]] \
    || die "PostgreSQL ${PG_MAJOR} is not installed and versions.env pins no source build of it (${v_version}, ${v_sha}, ${v_prefix})"
UPSTREAM="${SRC_VERSION#*:}"
UPSTREAM="${UPSTREAM%-*}"
PKGLIBDIR="/usr/lib/postgresql/${PG_MAJOR}/lib"
SHAREDIR="/usr/share/postgresql/${PG_MAJOR}"

# what the build is: the version and configure's options (a change of either rebuilds)
CONFIGURE=(--prefix="${PREFIX}" --libdir="${PKGLIBDIR}" --datadir="${SHAREDIR}"
    --with-openssl --with-icu --with-libxml --with-lz4 --with-zstd --with-readline --with-zlib
    --with-system-tzdata=/usr/share/zoneinfo)
STAMP="${PREFIX}/songmatch-build"
WANT="${SRC_VERSION} ${ORIG_SHA256} ${CONFIGURE[*]}"
if [[ -x "${PREFIX}/bin/pg_config" && -x "${PREFIX}/bin/postgres" && -f "${SHAREDIR}/postgres.bki" ]] \
        && [[ "$(cat "${STAMP}" 2>/dev/null)" == "${WANT}" ]]; then
    log "PostgreSQL ${UPSTREAM} already built in ${PREFIX} (Debian source ${SRC_VERSION}); nothing to do"
    exit 0
fi

# the libraries the server is configured with (Debian 12 names); build tools come from setup-system.sh
DEPS=(curl bison flex libxml2-dev libicu-dev libreadline-dev zlib1g-dev libssl-dev liblz4-dev libzstd-dev pkg-config make gcc)
missing=()
for p in "${DEPS[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "${p}" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("${p}")
done
if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || { "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi

BUILD_DIR="${BUILD_DIR:-target/build}"
case "${BUILD_DIR}" in /*) ;; *) BUILD_DIR="${REPO_ROOT}/${BUILD_DIR}" ;; esac
WORK="${BUILD_DIR}/postgresql-${PG_MAJOR}"
ORIG="${WORK}/postgresql-${PG_MAJOR}_${UPSTREAM}.orig.tar.bz2"
mkdir -p "${WORK}"
sha256_of() { sha256sum "$1" | awk '{print $1}'; }
if [[ ! -f "${ORIG}" || "$(sha256_of "${ORIG}")" != "${ORIG_SHA256}" ]]; then
    rm -f "${ORIG}"
    # The upstream tarball of Debian's source package, from the pool of the Debian archive this
    # machine uses (the archive keeps a version's files only while a suite names it: when the pin
    # is gone, pin a newer version and its sha256 deliberately).
    bash "${SCRIPT_DIR}/deb-src.sh" "postgresql-${PG_MAJOR}"
    uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/songmatch-src.sources)"
    url="${uri%/}/pool/main/p/postgresql-${PG_MAJOR}/postgresql-${PG_MAJOR}_${UPSTREAM}.orig.tar.bz2"
    log "downloading ${url}"
    curl -fsSL --retry 3 -o "${ORIG}.part" "${url}" \
        || die "could not download ${url}: is postgresql-${PG_MAJOR} ${SRC_VERSION} still in the archive?"
    mv "${ORIG}.part" "${ORIG}"
fi
actual="$(sha256_of "${ORIG}")"
[[ "${actual}" == "${ORIG_SHA256}" ]] || { rm -f "${ORIG}"; die "sha256 mismatch for ${ORIG}: expected ${ORIG_SHA256}, got ${actual} (deleted)"; }
log "postgresql-${PG_MAJOR}_${UPSTREAM}.orig.tar.bz2: sha256 ok"

SRC="${WORK}/postgresql-${UPSTREAM}"
rm -rf "${SRC}"
tar -xjf "${ORIG}" -C "${WORK}"
[[ -f "${SRC}/configure" ]] || die "unexpected tarball layout: no ${SRC}/configure"
cd "${SRC}"
log "configuring PostgreSQL ${UPSTREAM}: --prefix=${PREFIX} --libdir=${PKGLIBDIR} --datadir=${SHAREDIR}"
./configure "${CONFIGURE[@]}" >"${WORK}/configure.log" 2>&1 \
    || { tail -30 "${WORK}/configure.log" >&2; die "configure failed (${WORK}/configure.log)"; }
log "building PostgreSQL ${UPSTREAM} (several minutes; log ${WORK}/build.log)"
# (as a top-level make: PostgreSQL's build generates its headers only when MAKELEVEL is 0, and
# this script may run under the project's make, whose MAKEFLAGS must not reach it either)
pg_make() { env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make "$@"; }
pg_make -j"$(nproc)" >"${WORK}/build.log" 2>&1 || { tail -30 "${WORK}/build.log" >&2; die "build failed"; }
"${SUDO[@]}" env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make install >"${WORK}/install.log" 2>&1 \
    || { tail -30 "${WORK}/install.log" >&2; die "install failed"; }
[[ "$("${PREFIX}/bin/pg_config" --pkglibdir)" == "${PKGLIBDIR}" && "$("${PREFIX}/bin/pg_config" --sharedir)" == "${SHAREDIR}" ]] \
    || die "the build's pg_config does not name ${PKGLIBDIR} and ${SHAREDIR}"
printf '%s\n' "${WANT}" | "${SUDO[@]}" tee "${STAMP}" >/dev/null
cd "${REPO_ROOT}"
rm -rf "${SRC}"
log "PostgreSQL ${UPSTREAM} installed (pg_config ${PREFIX}/bin/pg_config)"
