#!/bin/sh
# Install (or remove) songmatch from this unpacked tarball, for any layout of PostgreSQL:
#   ./install.sh [--pg-config PATH] [--pkglibdir DIR] [--sharedir DIR] [--uninstall]
# Without directories, they are asked of pg_config (--pg-config, else the one on PATH):
#   pkglibdir/songmatch.so, pkglibdir/songmatch/ (libonnxruntime and the C++ runtime it needs)
#   sharedir/extension/songmatch* (control file, install and upgrade scripts)
#   sharedir/songmatch/models/ (the default model bundle)
# The Supabase image takes --pkglibdir "$NIX_PGLIBDIR" (its `postgres` wrapper's library dir).
# The files installed are the ones listed in MANIFEST (path, sha256); --uninstall removes exactly
# those, then the songmatch directories that are left empty. The .deb (make package) is this same
# tree installed with this script into the Debian layout. POSIX sh: runs in Debian and Alpine images.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
PG_CONFIG="" PKGLIBDIR="" SHAREDIR="" MODE=install
while [ $# -gt 0 ]; do
    case "$1" in
        --pg-config) PG_CONFIG="$2"; shift 2 ;;
        --pkglibdir) PKGLIBDIR="$2"; shift 2 ;;
        --sharedir) SHAREDIR="$2"; shift 2 ;;
        --uninstall) MODE=uninstall; shift ;;
        -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
    esac
done
die() { echo "install.sh: ERROR: $*" >&2; exit 1; }
if [ -z "${PKGLIBDIR}" ] || [ -z "${SHAREDIR}" ]; then
    [ -n "${PG_CONFIG}" ] || PG_CONFIG="$(command -v pg_config || true)"
    [ -n "${PG_CONFIG}" ] && [ -x "${PG_CONFIG}" ] || die "no pg_config: give --pg-config, or --pkglibdir and --sharedir"
    [ -n "${PKGLIBDIR}" ] || PKGLIBDIR="$("${PG_CONFIG}" --pkglibdir)"
    [ -n "${SHAREDIR}" ] || SHAREDIR="$("${PG_CONFIG}" --sharedir)"
fi
[ -f "${HERE}/MANIFEST" ] || die "${HERE}/MANIFEST missing: not an unpacked songmatch tarball"
BUILT_FOR="$(sed -n 's/^# postgresql //p' "${HERE}/MANIFEST")"
if [ -n "${PG_CONFIG}" ]; then
    major="$("${PG_CONFIG}" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
    [ "${major}" = "${BUILT_FOR}" ] || die "this tarball is built for PostgreSQL ${BUILT_FOR}; ${PG_CONFIG} is PostgreSQL ${major}"
fi

# dest REL: where a MANIFEST path (pkglibdir/... or sharedir/...) goes
dest() {
    case "$1" in
        pkglibdir/*) printf '%s/%s' "${PKGLIBDIR}" "${1#pkglibdir/}" ;;
        sharedir/*) printf '%s/%s' "${SHAREDIR}" "${1#sharedir/}" ;;
        *) die "bad MANIFEST path $1" ;;
    esac
}

if [ "${MODE}" = uninstall ]; then
    n=0
    grep -v '^#' "${HERE}/MANIFEST" | while read -r kind rel _; do
        d="$(dest "${rel}")"
        if [ -e "${d}" ] || [ -L "${d}" ]; then rm -f "${d}"; fi
    done
    for d in "${PKGLIBDIR}/songmatch" "${SHAREDIR}/songmatch"; do
        [ -d "${d}" ] && find "${d}" -depth -type d -empty -delete
    done
    echo "songmatch removed from ${PKGLIBDIR} and ${SHAREDIR}"
    exit 0
fi

# verify the tree first: nothing is copied when a file is damaged
grep -v '^#' "${HERE}/MANIFEST" | while read -r kind rel sum; do
    [ "${kind}" = f ] || continue
    actual="$(sha256sum "${HERE}/${rel}" | cut -d' ' -f1)"
    [ "${actual}" = "${sum}" ] || die "${rel}: sha256 ${actual}, MANIFEST says ${sum}"
done
mkdir -p "${PKGLIBDIR}" "${SHAREDIR}/extension"
# the library is replaced by rename (a running server keeps the old file mapped)
grep -v '^#' "${HERE}/MANIFEST" | while read -r kind rel target; do
    d="$(dest "${rel}")"
    mkdir -p "$(dirname "${d}")"
    case "${kind}" in
        f) cp "${HERE}/${rel}" "${d}.new.$$" && chmod 0644 "${d}.new.$$" && mv -f "${d}.new.$$" "${d}" ;;
        l) ln -sfn "${target}" "${d}" ;;
    esac
done
find "${PKGLIBDIR}/songmatch" "${SHAREDIR}/songmatch" -type d -exec chmod 0755 {} +
chmod 0755 "${PKGLIBDIR}/songmatch.so"
echo "songmatch $(sed -n 's/^# songmatch //p' "${HERE}/MANIFEST") installed for PostgreSQL ${BUILT_FOR}: ${PKGLIBDIR}, ${SHAREDIR}"
echo "next: shared_preload_libraries = 'songmatch' (keep the entries already there), restart, CREATE EXTENSION songmatch CASCADE"
