#!/usr/bin/env bash
# The PostgreSQL major a script works on, and where that major's server lives.
#   source scripts/pg-env.sh      sets PG_MAJOR, PG_CONFIG and PG_PORT unless the caller set them
#   scripts/pg-env.sh VAR         prints one of them (the Makefile's defaults)
# PG_MAJOR defaults to versions.env's PG_MAJOR_DEFAULT. PG_CONFIG is the distribution's
# /usr/lib/postgresql/NN/bin/pg_config when that server is installed, else the private prefix that
# scripts/setup-pg-source.sh builds (PostgreSQL 17 on Debian 12). Each major has its own port, so
# the local clusters of 15 and 17 can run side by side: 543NN.
_pg_env_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${_pg_env_dir}/versions.env"
PG_MAJOR="${PG_MAJOR:-${PG_MAJOR_DEFAULT}}"
pg_private_prefix() {
    local v="PG${1}_PREFIX"
    printf '%s' "${!v:-}"
}
if [[ -z "${PG_CONFIG:-}" ]]; then
    PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
    _pg_prefix="$(pg_private_prefix "${PG_MAJOR}")"
    if [[ ! -x "${PG_CONFIG}" && -n "${_pg_prefix}" ]]; then PG_CONFIG="${_pg_prefix}/bin/pg_config"; fi
fi
PG_PORT="${PG_PORT:-543${PG_MAJOR}}"
export PG_MAJOR PG_CONFIG PG_PORT
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    case "${1:-}" in
        PG_MAJOR | PG_CONFIG | PG_PORT) printf '%s\n' "${!1}" ;;
        *) echo "usage: $0 PG_MAJOR|PG_CONFIG|PG_PORT" >&2; exit 2 ;;
    esac
fi
