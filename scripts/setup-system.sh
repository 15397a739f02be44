#!/usr/bin/env bash
# Install the system packages needed to build and test songmatch
# (PostgreSQL server + dev headers, clang for bindgen, OpenSSL, ...).
# Idempotent: only missing packages are installed, and `apt-get update` only
# runs when something is actually missing. Works on Debian and Ubuntu.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=pg-env.sh
source "${SCRIPT_DIR}/pg-env.sh"

export DEBIAN_FRONTEND=noninteractive

log() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

if [[ ${EUID} -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo DEBIAN_FRONTEND=noninteractive)
else
    die "must run as root (or have sudo available)"
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: only Debian/Ubuntu are supported"

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# The server packages of PG_MAJOR, unless the distribution has none (PostgreSQL 17 on Debian 12:
# scripts/setup-pg-source.sh builds it) and a server of that major is not installed already.
PG_PACKAGES=("postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" "postgresql-client-${PG_MAJOR}")
if [[ "${PG_MAJOR}" != "${PG_MAJOR_DEFAULT}" && -z "$(apt-cache policy "postgresql-${PG_MAJOR}" 2>/dev/null \
        | awk '/Candidate:/ && $2 != "(none)" {print $2}')" ]]; then
    log "the distribution has no postgresql-${PG_MAJOR}: scripts/setup-pg-source.sh builds it"
    PG_PACKAGES=()
fi
PACKAGES=(
    "${PG_PACKAGES[@]}"
    clang
    libclang-dev
    pkg-config
    libssl-dev
    sudo
    dpkg-dev
    patchelf
    binutils
    ca-certificates
)

# python3 may be a non-Debian interpreter (e.g. pyenv); only pull in the Debian
# venv/pip packages when the python3 on PATH actually lacks those modules.
if ! python3 -m venv --help >/dev/null 2>&1; then
    log "python3 -m venv does not work; will install python3-venv"
    PACKAGES+=(python3 python3-venv)
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    log "python3 -m pip does not work; will install python3-pip"
    PACKAGES+=(python3 python3-pip)
fi

MISSING=()
for pkg in "${PACKAGES[@]}"; do
    if is_installed "${pkg}"; then
        :
    else
        # de-duplicate
        [[ " ${MISSING[*]-} " == *" ${pkg} "* ]] || MISSING+=("${pkg}")
    fi
done

if ((${#MISSING[@]} == 0)); then
    log "all system packages already installed (${#PACKAGES[@]} checked)"
else
    log "missing packages: ${MISSING[*]}"
    log "apt-get update"
    "${SUDO[@]}" apt-get update -q
    for pkg in "${MISSING[@]}"; do
        cand="$(apt-cache policy "${pkg}" 2>/dev/null | awk '/Candidate:/ {print $2}')"
        if [[ -z "${cand}" || "${cand}" == "(none)" ]]; then
            die "package ${pkg} has no install candidate in the configured apt sources.
       (On Ubuntu releases without PostgreSQL ${PG_MAJOR}, add the PostgreSQL
       project's apt repository (PGDG) first, then re-run this script.)"
        fi
    done
    log "apt-get install ${MISSING[*]}"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${MISSING[@]}"
    for pkg in "${MISSING[@]}"; do
        is_installed "${pkg}" || die "package ${pkg} still not installed after apt-get install"
    done
    log "installed: ${MISSING[*]}"
fi

# The postgresql packages normally create the `postgres` user; make sure of it
# (e.g. when only the client/dev packages come from somewhere else).
if id -u postgres >/dev/null 2>&1; then
    log "OS user postgres exists"
else
    log "creating OS user postgres"
    if getent group postgres >/dev/null 2>&1; then
        group_opt=(-g postgres)
    else
        group_opt=(-U)
    fi
    "${SUDO[@]}" useradd --system "${group_opt[@]}" --home-dir /var/lib/postgresql \
        --create-home --shell /bin/bash --comment "PostgreSQL administrator" postgres
    id -u postgres >/dev/null 2>&1 || die "failed to create OS user postgres"
fi

if ((${#PG_PACKAGES[@]})); then
    [[ -x "${PG_CONFIG}" ]] || die "${PG_CONFIG} not found after install"
    log "system setup complete ($("${PG_CONFIG}" --version), pg_config ${PG_CONFIG})"
else
    log "system setup complete (PostgreSQL ${PG_MAJOR}: built from source by scripts/setup-pg-source.sh)"
fi
