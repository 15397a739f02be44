#!/usr/bin/env bash
# Install libonnxruntime.so (pinned in versions.env) into DEST_DIR, taken from
# the official `onnxruntime` wheel on PyPI:
#   DEST_DIR/libonnxruntime.so.$ONNXRUNTIME_VERSION   (mode 0644)
#   DEST_DIR/libonnxruntime.so   -> libonnxruntime.so.$ONNXRUNTIME_VERSION
#   DEST_DIR/libonnxruntime.so.1 -> libonnxruntime.so.$ONNXRUNTIME_VERSION  (the library's SONAME)
#
# Usage: scripts/fetch-onnxruntime.sh DEST_DIR
#   e.g. scripts/fetch-onnxruntime.sh "$(pg_config --pkglibdir)/songmatch"
# Env: WHEEL_CACHE (default target/cache/wheels, relative to the repo root), PYTHON (default python3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"

log() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 DEST_DIR"
DEST_DIR="$1"
PYTHON="${PYTHON:-python3}"
WHEEL_CACHE="${WHEEL_CACHE:-target/cache/wheels}"
case "${WHEEL_CACHE}" in
    /*) ;;
    *) WHEEL_CACHE="${REPO_ROOT}/${WHEEL_CACHE}" ;;
esac

for v in ONNXRUNTIME_VERSION ONNXRUNTIME_WHEEL ONNXRUNTIME_WHEEL_SHA256 ONNXRUNTIME_LIB_SHA256 \
         ONNXRUNTIME_PY_VERSION ONNXRUNTIME_PLATFORM; do
    [[ -n "${!v:-}" ]] || die "${v} is not set in ${SCRIPT_DIR}/versions.env"
done

LIB_NAME="libonnxruntime.so.${ONNXRUNTIME_VERSION}"
LIB_MEMBER="onnxruntime/capi/${LIB_NAME}"
SONAME_LINK="libonnxruntime.so.${ONNXRUNTIME_VERSION%%.*}"
WHEEL_PATH="${WHEEL_CACHE}/${ONNXRUNTIME_WHEEL}"
DEST_LIB="${DEST_DIR}/${LIB_NAME}"

sha256_of() { sha256sum "$1" | awk '{print $1}'; }

link_ok() { [[ -L "${DEST_DIR}/$1" && "$(readlink "${DEST_DIR}/$1")" == "${LIB_NAME}" ]]; }

# Make sure the version-less and SONAME symlinks point at the library.
ensure_links() {
    local l changed=0
    for l in libonnxruntime.so "${SONAME_LINK}"; do
        if ! link_ok "${l}"; then
            ln -sfn "${LIB_NAME}" "${DEST_DIR}/${l}"
            log "symlink ${DEST_DIR}/${l} -> ${LIB_NAME}"
            changed=1
        fi
    done
    return "${changed}"
}

# ------------------------------------------------------------ already installed?
if [[ -f "${DEST_LIB}" && ! -L "${DEST_LIB}" ]] && [[ "$(sha256_of "${DEST_LIB}")" == "${ONNXRUNTIME_LIB_SHA256}" ]]; then
    if link_ok libonnxruntime.so && link_ok "${SONAME_LINK}"; then
        log "${DEST_LIB} (onnxruntime ${ONNXRUNTIME_VERSION}, sha256 ok) and symlinks already present; nothing to do"
        exit 0
    fi
    ensure_links || true
    log "onnxruntime ${ONNXRUNTIME_VERSION} present in ${DEST_DIR}"
    exit 0
fi

# ------------------------------------------------------------ wheel (cached or download)
mkdir -p "${WHEEL_CACHE}"
if [[ -f "${WHEEL_PATH}" ]]; then
    if [[ "$(sha256_of "${WHEEL_PATH}")" == "${ONNXRUNTIME_WHEEL_SHA256}" ]]; then
        log "using cached wheel ${WHEEL_PATH} (sha256 ok)"
    else
        log "cached wheel ${WHEEL_PATH} has the wrong sha256; deleting and downloading again"
        rm -f "${WHEEL_PATH}"
    fi
fi
if [[ ! -f "${WHEEL_PATH}" ]]; then
    log "downloading onnxruntime==${ONNXRUNTIME_VERSION} wheel (cp${ONNXRUNTIME_PY_VERSION}, ${ONNXRUNTIME_PLATFORM}) into ${WHEEL_CACHE}"
    "${PYTHON}" -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version "${ONNXRUNTIME_PY_VERSION}" \
        --implementation cp --abi "cp${ONNXRUNTIME_PY_VERSION}" \
        --platform "${ONNXRUNTIME_PLATFORM}" \
        --dest "${WHEEL_CACHE}" \
        "onnxruntime==${ONNXRUNTIME_VERSION}"
    [[ -f "${WHEEL_PATH}" ]] || die "pip did not produce ${WHEEL_PATH} (got: $(ls "${WHEEL_CACHE}" | tr '\n' ' '))"
    actual="$(sha256_of "${WHEEL_PATH}")"
    if [[ "${actual}" != "${ONNXRUNTIME_WHEEL_SHA256}" ]]; then
        rm -f "${WHEEL_PATH}"
        die "sha256 mismatch for ${ONNXRUNTIME_WHEEL}:
         expected ${ONNXRUNTIME_WHEEL_SHA256}
         got      ${actual}
       The wheel was deleted. If the pin in scripts/versions.env is wrong, fix it deliberately."
    fi
    log "downloaded ${ONNXRUNTIME_WHEEL} (sha256 ok)"
fi

# ------------------------------------------------------------ extract + verify + install
mkdir -p -m 0755 "${DEST_DIR}"
chmod 0755 "${DEST_DIR}"
tmp="$(mktemp "${DEST_DIR}/.${LIB_NAME}.XXXXXX")"
trap 'rm -f "${tmp}"' EXIT
log "extracting ${LIB_MEMBER}"
"${PYTHON}" - "${WHEEL_PATH}" "${LIB_MEMBER}" "${tmp}" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
actual="$(sha256_of "${tmp}")"
if [[ "${actual}" != "${ONNXRUNTIME_LIB_SHA256}" ]]; then
    die "sha256 mismatch for ${LIB_MEMBER} from ${ONNXRUNTIME_WHEEL}:
         expected ${ONNXRUNTIME_LIB_SHA256}
         got      ${actual}"
fi
chmod 0644 "${tmp}"
mv -f "${tmp}" "${DEST_LIB}"
trap - EXIT
log "installed ${DEST_LIB} (sha256 ok, mode 0644)"
ensure_links || true
log "onnxruntime ${ONNXRUNTIME_VERSION} installed in ${DEST_DIR}"
