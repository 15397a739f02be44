#!/bin/sh
# The one RUN step of the Dockerfiles beside this script, and what `make test-package` runs
# (packaging/test-install.sh), so that only their FROM and COPY lines go untested here.
#   install-in-image.sh TARBALL              plain PostgreSQL (postgres:NN-bookworm): install.sh
#                                            into the directories of the pg_config on PATH
#   install-in-image.sh TARBALL --supabase   supabase/postgres:
#     - the library into NIX_PGLIBDIR, the directory the image's `postgres` wrapper sets (its server
#       loads modules from there, not from pg_config --pkglibdir); SQL, control file and models into
#       $(pg_config --sharedir);
#     - conf.d/songmatch.conf: shared_preload_libraries and supautils.privileged_extensions, each
#       the image's own list plus songmatch (a later setting replaces an earlier one, so the lists
#       are repeated whole), and max_worker_processes of at least 32.
# Env (defaults: the image's files): SONGMATCH_POSTGRES_WRAPPER (the `postgres` on PATH),
# SONGMATCH_PG_CONF (/etc/postgresql/postgresql.conf), SONGMATCH_CONF_DIR (/etc/postgresql-custom/conf.d).
set -eu
die() { echo "install-in-image.sh: ERROR: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ -f "$1" ] || die "usage: install-in-image.sh TARBALL [--supabase]"
TARBALL="$1" MODE="${2:-plain}"
tmp="$(mktemp -d)"
tar -xzf "${TARBALL}" -C "${tmp}"
set -- "${tmp}"/postgresql-*-songmatch_*
[ -f "$1/install.sh" ] || die "${TARBALL} is not a songmatch tarball"
dir="$1"

case "${MODE}" in
plain)
    sh "${dir}/install.sh"
    ;;
--supabase)
    wrapper="${SONGMATCH_POSTGRES_WRAPPER:-$(command -v postgres || true)}"
    [ -n "${wrapper}" ] && [ -f "${wrapper}" ] || die "no postgres wrapper on PATH"
    libdir="$(sed -n "s|.*NIX_PGLIBDIR[^/]*\(/[^'\" :]*\).*|\1|p" "${wrapper}" | head -n 1)"
    [ -n "${libdir}" ] && [ -d "${libdir}" ] || die "${wrapper} sets no NIX_PGLIBDIR (not a supabase/postgres image?)"
    sh "${dir}/install.sh" --pkglibdir "${libdir}" --sharedir "$(pg_config --sharedir)"

    pg_conf="${SONGMATCH_PG_CONF:-/etc/postgresql/postgresql.conf}"
    conf_dir="${SONGMATCH_CONF_DIR:-/etc/postgresql-custom/conf.d}"
    [ -f "${pg_conf}" ] || die "${pg_conf} missing"
    grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'${conf_dir}'" "${pg_conf}" \
        || die "${pg_conf} does not include_dir '${conf_dir}'"
    # the last value a setting has in the server's files (postgresql.conf, then its include files)
    files="${pg_conf} $(ls "$(dirname "${conf_dir}")"/*.conf "${conf_dir}"/*.conf 2>/dev/null | grep -v '/songmatch\.conf$' || true)"
    last() {
        # shellcheck disable=SC2086
        cat ${files} | sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p; s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p" | tail -n 1
    }
    plus() { case ", $1, " in *", songmatch, "*) echo "$1" ;; ", , ") echo songmatch ;; *) echo "$1, songmatch" ;; esac; }
    preload="$(plus "$(last shared_preload_libraries)")"
    privileged="$(plus "$(last 'supautils\.privileged_extensions')")"
    workers="$(last max_worker_processes)"
    [ -n "${workers}" ] && [ "${workers}" -ge 32 ] || workers=32
    mkdir -p "${conf_dir}"
    cat >"${conf_dir}/songmatch.conf" <<CONF
# songmatch (packaging/docker/install-in-image.sh): the image's lists plus songmatch
shared_preload_libraries = '${preload}'
supautils.privileged_extensions = '${privileged}'
max_worker_processes = ${workers}
CONF
    echo "songmatch: ${conf_dir}/songmatch.conf: preload '${preload}'; privileged '${privileged}'"
    ;;
*) die "unknown mode ${MODE}" ;;
esac
rm -rf "${tmp}"
