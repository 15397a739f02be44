#!/usr/bin/env bash
# Ensure pgvector >= PGVECTOR_MIN is installed for PostgreSQL PG_MAJOR.
#
# Order of attempts:
#   a) already installed (vector.control default_version >= min, vector.so present) -> done
#   b) apt has a postgresql-PG_MAJOR-pgvector candidate >= min (PGDG, Ubuntu, ...) -> apt-get install
#   c) build from Debian's own pgvector source package (suite PGVECTOR_SRC_SUITE),
#      using a deb-src entry derived from this machine's existing Debian apt sources.
#
# Env overrides: PG_MAJOR, PG_CONFIG (defaults: scripts/pg-env.sh),
#                BUILD_DIR (default target/build, relative to the repo root).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=pg-env.sh
source "${SCRIPT_DIR}/pg-env.sh"

export DEBIAN_FRONTEND=noninteractive

BUILD_DIR="${BUILD_DIR:-target/build}"
case "${BUILD_DIR}" in
    /*) ;;
    *) BUILD_DIR="${REPO_ROOT}/${BUILD_DIR}" ;;
esac
SRC_SUITE="${PGVECTOR_SRC_SUITE:-trixie}"
APT_PKG="postgresql-${PG_MAJOR}-pgvector"

log() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

if [[ ${EUID} -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo DEBIAN_FRONTEND=noninteractive)
else
    die "must run as root (or have sudo available)"
fi

[[ -x "${PG_CONFIG}" ]] || die "pg_config not found at ${PG_CONFIG} (run scripts/setup-system.sh first, or set PG_CONFIG)"
SHAREDIR="$("${PG_CONFIG}" --sharedir)"
PKGLIBDIR="$("${PG_CONFIG}" --pkglibdir)"
CONTROL="${SHAREDIR}/extension/vector.control"
SO="${PKGLIBDIR}/vector.so"

version_ge() { dpkg --compare-versions "$1" ge "$2"; }

# Print default_version from a vector.control file (empty if absent).
control_version() {
    [[ -f "$1" ]] || return 0
    sed -nE "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'?([^'[:space:]]+)'?.*/\1/p" "$1" | head -n1
}

# Succeeds when a suitable pgvector is installed; sets INSTALLED_VERSION.
INSTALLED_VERSION=""
pgvector_ok() {
    INSTALLED_VERSION="$(control_version "${CONTROL}")"
    [[ -n "${INSTALLED_VERSION}" ]] || return 1
    [[ -f "${SO}" ]] || return 1
    version_ge "${INSTALLED_VERSION}" "${PGVECTOR_MIN}"
}

# ---------------------------------------------------------------- (a)
if pgvector_ok; then
    log "pgvector ${INSTALLED_VERSION} already installed for PostgreSQL ${PG_MAJOR} (>= ${PGVECTOR_MIN}); nothing to do"
    exit 0
fi
if [[ -n "${INSTALLED_VERSION}" ]]; then
    log "found pgvector ${INSTALLED_VERSION} (control ${CONTROL}), need >= ${PGVECTOR_MIN} with ${SO}"
else
    log "pgvector not installed for PostgreSQL ${PG_MAJOR} (${CONTROL} missing)"
fi

# ---------------------------------------------------------------- (b)
apt_candidate() {
    apt-cache policy "${APT_PKG}" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

# If apt has never been updated (fresh container), refresh once so the
# candidate check below is meaningful.
if ! compgen -G '/var/lib/apt/lists/*Packages*' >/dev/null; then
    log "apt package lists are empty; apt-get update"
    "${SUDO[@]}" apt-get update -q
fi

cand="$(apt_candidate)"
if [[ -n "${cand}" && "${cand}" != "(none)" ]] && version_ge "${cand}" "${PGVECTOR_MIN}"; then
    log "apt candidate ${APT_PKG} ${cand} >= ${PGVECTOR_MIN}; installing with apt"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${APT_PKG}"
    pgvector_ok || die "${APT_PKG} installed but ${CONTROL} / ${SO} do not show pgvector >= ${PGVECTOR_MIN}"
    log "pgvector ${INSTALLED_VERSION} installed from apt (${APT_PKG} ${cand})"
    exit 0
fi
log "no suitable apt binary package (${APT_PKG} candidate: ${cand:-(none)}); building from Debian source (${SRC_SUITE})"

# ---------------------------------------------------------------- (c)
command -v dpkg-source >/dev/null 2>&1 || die "dpkg-source missing (install dpkg-dev: scripts/setup-system.sh)"
command -v make >/dev/null 2>&1 || die "make missing"

bash "${SCRIPT_DIR}/deb-src.sh" pgvector

src_version="$(apt-cache showsrc pgvector 2>/dev/null | awk '/^Version:/ {print $2}' | sort -V | tail -n1)"
[[ -n "${src_version}" ]] || die "apt has no source package 'pgvector' (scripts/deb-src.sh)"
version_ge "${src_version}" "${PGVECTOR_MIN}" || die "newest pgvector source package is ${src_version}, need >= ${PGVECTOR_MIN}"
log "pgvector source package version ${src_version}"

WORK="${BUILD_DIR}/pgvector-pg${PG_MAJOR}"
mkdir -p "${WORK}"
upstream="${src_version#*:}"
upstream="${upstream%-*}"
srcdir="${WORK}/pgvector-${upstream}"
if [[ -f "${srcdir}/vector.control" ]]; then
    log "source already unpacked in ${srcdir}"
else
    log "apt-get source pgvector=${src_version} (in ${WORK})"
    # Download as root without the _apt sandbox warning noise; dpkg-source verifies
    # the .dsc signature against the installed Debian keyrings where available.
    (cd "${WORK}" && apt-get -q -o APT::Sandbox::User=root source "pgvector=${src_version}")
fi
[[ -f "${srcdir}/vector.control" ]] || die "expected ${srcdir}/vector.control after apt-get source"
built_version="$(control_version "${srcdir}/vector.control")"
version_ge "${built_version}" "${PGVECTOR_MIN}" || die "source tree has pgvector ${built_version}, need >= ${PGVECTOR_MIN}"

# JIT bitcode needs the clang/llvm-lto that PostgreSQL was configured with; skip it otherwise.
make_args=(OPTFLAGS="" PG_CONFIG="${PG_CONFIG}")
pgxs_global="$("${PG_CONFIG}" --pgxs)"
pgxs_global="$(dirname "${pgxs_global}")/../../src/Makefile.global"
if [[ -f "${pgxs_global}" ]] && grep -qE '^with_llvm[[:space:]]*=[[:space:]]*yes' "${pgxs_global}"; then
    clang_bin="$(awk -F'=' '/^CLANG[[:space:]]*=/ {gsub(/[[:space:]]/, "", $2); print $2; exit}' "${pgxs_global}")"
    llvm_bin="$(awk -F'=' '/^LLVM_BINPATH[[:space:]]*=/ {gsub(/[[:space:]]/, "", $2); print $2; exit}' "${pgxs_global}")"
    if [[ ! -x "${clang_bin}" || ! -x "${llvm_bin}/llvm-lto" ]]; then
        log "clang/llvm-lto for JIT bitcode not found (${clang_bin}, ${llvm_bin}/llvm-lto); building without bitcode"
        make_args+=(with_llvm=no)
    fi
fi

log "building pgvector ${built_version} (make ${make_args[*]})"
# (env -u: a make of its own, not a sub-make of the project's Makefile and its command-line variables)
env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make -C "${srcdir}" -j"$(nproc)" "${make_args[@]}"
log "installing pgvector ${built_version} into ${PKGLIBDIR} / ${SHAREDIR}/extension"
"${SUDO[@]}" env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make -C "${srcdir}" "${make_args[@]}" install

pgvector_ok || die "pgvector install did not produce ${CONTROL} (>= ${PGVECTOR_MIN}) and ${SO}"
log "pgvector ${INSTALLED_VERSION} installed for PostgreSQL ${PG_MAJOR} (built from Debian source ${src_version})"
