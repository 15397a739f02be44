#!/usr/bin/env bash
# Make a Debian source package of suite PGVECTOR_SRC_SUITE (trixie) known to apt:
#   scripts/deb-src.sh SOURCE_PACKAGE
# writes a deb-src entry (/etc/apt/sources.list.d/songmatch-src.sources) derived from this
# machine's own Debian "main" archive entry, and runs apt-get update when apt does not know
# SOURCE_PACKAGE yet. Source packages only: binary installs are unaffected. Used by
# setup-pgvector.sh (pgvector for a server without a binary package) and setup-pg-source.sh
# (PostgreSQL 17 on Debian 12).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
export DEBIAN_FRONTEND=noninteractive

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: $0 SOURCE_PACKAGE" >&2; exit 2; }
PKG="$1"
SRC_SUITE="${PGVECTOR_SRC_SUITE:-trixie}"
SRC_LIST=/etc/apt/sources.list.d/songmatch-src.sources

log() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

if [[ ${EUID} -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo DEBIAN_FRONTEND=noninteractive)
else
    die "must run as root (or have sudo available)"
fi

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
       Install what needs the source package ${PKG} another way (e.g. the PGDG apt repository), then re-run."
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
        echo "# Written by songmatch scripts/deb-src.sh: source packages only"
        echo "# (pgvector and PostgreSQL 17 builds); binary installs are unaffected."
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
if ! apt-cache showsrc "${PKG}" 2>/dev/null | grep -qE '^Version:'; then
    log "apt-get update (to fetch the ${SRC_SUITE} source index)"
    "${SUDO[@]}" apt-get update -q
fi
apt-cache showsrc "${PKG}" 2>/dev/null | grep -qE '^Version:' || die "apt has no source package ${PKG} after adding ${SRC_LIST}"
