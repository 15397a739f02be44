#!/usr/bin/env bash
# Ensure pgvector >= PGVECTOR_MIN is installed for PostgreSQL PG_MAJOR.
#
# Order of attempts:
#   a) already installed (vector.control default_version >= min, vector.so present) -> done
#   b) apt has a postgresql-PG_MAJOR-pgvector candidate >= min (PGDG, Ubuntu, ...) -> apt-get install
#   c) build from Debian's own pgvector source package (suite PGVECTOR_SRC_SUITE),
#      using a deb-src entry derived from this machine's existing Debian apt sources.
#
# Env overrides: PG_CONFIG (default /usr/lib/postgresql/$PG_MAJOR/bin/pg_config),
#                BUILD_DIR (default target/build, relative to the repo root).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"

export DEBIAN_FRONTEND=noninteractive

PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config}"
BUILD_DIR="${BUILD_DIR:-target/build}"
case "${BUILD_DIR}" in
    /*) ;;
    *) BUILD_DIR="${REPO_ROOT}/${BUILD_DIR}" ;;
esac
SRC_SUITE="${PGVECTOR_SRC_SUITE:-trixie}"
SRC_LIST=/etc/apt/sources.list.d/songmatch-src.sources
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

# Find the URIs (and Signed-By) of this machine's Debian "main" archive entry.
# Prints "URI<TAB>SIGNED_BY" lines; Signed-By may be empty.
find_debian_uris() {
    local f
    # deb822 files first (debian.sources is the Debian 12+ default).
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
        [[ -f "${f}" && "${f}" != "${SRC_LIST}" ]] || continue
        awk -v RS='' '
            {
                types = ""; uris = ""; suites = ""; comps = ""; signed = ""; enabled = "yes"
                n = split($0, lines, "\n")
                for (i = 1; i <= n; i++) {
                    line = lines[i]
                    if (line ~ /^[[:space:]]*#/) continue
                    if (match(line, /^[A-Za-z-]+:/)) {
                        key = tolower(substr(line, 1, RLENGTH - 1))
                        val = substr(line, RLENGTH + 1)
                        gsub(/^[[:space:]]+|[[:space:]]+$/, "", val)
                        if (key == "types") types = val
                        else if (key == "uris") uris = val
                        else if (key == "suites") suites = val
                        else if (key == "components") comps = val
                        else if (key == "signed-by") signed = val
                        else if (key == "enabled") enabled = tolower(val)
                    }
                }
                if (enabled == "no") next
                if ((" " types " ") !~ / deb /) next
                if ((" " comps " ") !~ / main /) next
                # the main archive, not -security / -updates / -backports
                ok = 0; ns = split(suites, s, /[[:space:]]+/)
                for (j = 1; j <= ns; j++) if (s[j] !~ /-/ && s[j] !~ /\//) ok = 1
                if (!ok) next
                nu = split(uris, u, /[[:space:]]+/)
                for (j = 1; j <= nu; j++) if (u[j] ~ /\/debian\/?$/) print u[j] "\t" signed
            }' "${f}"
    done
    # one-line format
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "${f}" ]] || continue
        awk '
            /^[[:space:]]*deb[[:space:]]/ {
                signed = ""; i = 2
                if ($2 ~ /^\[/) {
                    while (i <= NF) {
                        if ($i ~ /^\[?signed-by=/) { signed = $i; sub(/^\[?signed-by=/, "", signed); sub(/\]$/, "", signed) }
                        if ($i ~ /\]$/) { i++; break }
                        i++
                    }
                }
                uri = $i; suite = $(i + 1)
                main = 0; for (k = i + 2; k <= NF; k++) if ($k == "main") main = 1
                if (main && suite !~ /-/ && uri ~ /\/debian\/?$/) print uri "\t" signed
            }' "${f}"
    done
}

if [[ -f "${SRC_LIST}" ]] && grep -qE "^Suites:[[:space:]]*${SRC_SUITE}([[:space:]]|$)" "${SRC_LIST}"; then
    log "deb-src entry ${SRC_LIST} already present"
else
    mapfile -t entries < <(find_debian_uris | awk -F'\t' '!seen[$1]++')
    ((${#entries[@]} > 0)) || die "could not find a Debian 'main' archive entry in /etc/apt/sources.list{,.d/} to derive a deb-src entry from.
       Install pgvector >= ${PGVECTOR_MIN} for PostgreSQL ${PG_MAJOR} another way (e.g. the PGDG apt repository), then re-run."
    uri="${entries[0]%%$'\t'*}"
    signed="${entries[0]#*$'\t'}"
    [[ "${signed}" != "${entries[0]}" ]] || signed=""
    # Only keyring *paths* are carried over (an inline key block is not).
    [[ "${signed}" == /* ]] || signed=""
    if [[ -z "${signed}" && -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
        signed=/usr/share/keyrings/debian-archive-keyring.gpg
    fi
    log "writing ${SRC_LIST} (deb-src ${SRC_SUITE} main, from this machine's Debian entry)"
    tmp="$(mktemp)"
    {
        echo "# Written by songmatch scripts/setup-pgvector.sh: source packages only"
        echo "# (used to build pgvector >= ${PGVECTOR_MIN}); binary installs are unaffected."
        echo "Types: deb-src"
        echo "URIs: ${uri}"
        echo "Suites: ${SRC_SUITE}"
        echo "Components: main"
        [[ -z "${signed}" ]] || echo "Signed-By: ${signed}"
    } >"${tmp}"
    "${SUDO[@]}" install -m 0644 "${tmp}" "${SRC_LIST}"
    rm -f "${tmp}"
fi

# Make sure the source index for the suite is present (apt-get update only if needed).
if ! apt-cache showsrc pgvector 2>/dev/null | grep -qE '^Version:'; then
    log "apt-get update (to fetch ${SRC_SUITE} source index)"
    "${SUDO[@]}" apt-get update -q
fi
src_version="$(apt-cache showsrc pgvector 2>/dev/null | awk '/^Version:/ {print $2}' | sort -V | tail -n1)"
[[ -n "${src_version}" ]] || die "apt has no source package 'pgvector' after adding ${SRC_LIST}"
version_ge "${src_version}" "${PGVECTOR_MIN}" || die "newest pgvector source package is ${src_version}, need >= ${PGVECTOR_MIN}"
log "pgvector source package version ${src_version}"

WORK="${BUILD_DIR}/pgvector"
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
make -C "${srcdir}" -j"$(nproc)" "${make_args[@]}"
log "installing pgvector ${built_version} into ${PKGLIBDIR} / ${SHAREDIR}/extension"
"${SUDO[@]}" make -C "${srcdir}" "${make_args[@]}" install

pgvector_ok || die "pgvector install did not produce ${CONTROL} (>= ${PGVECTOR_MIN}) and ${SO}"
log "pgvector ${INSTALLED_VERSION} installed for PostgreSQL ${PG_MAJOR} (built from Debian source ${src_version})"
