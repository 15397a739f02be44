#!/usr/bin/env bash
# match_playlist through the API path (role authenticated + request.jwt.claims, as PostgREST calls
# an RPC) with the installed build against a reference library built from an earlier release, in
# one run on the same server: cache hits, and misses (a new config per call: stage 1 over stored
# embeddings, then the context, results and counters are stored). Prints ms per call and the ratio
# current / reference.
#
#   bash bench/api_path_bench.sh /path/to/reference/libsongmatch.so 0.1.0
#
# The reference library is installed as the extension `songmatch_ref` (its frozen install script
# from sql/releases/, module songmatch_ref.so) in a database of its own; both databases are dropped
# at the end. Build a reference from a release commit with e.g.
#   git worktree add /tmp/ref <commit> && (cd /tmp/ref && cargo build --release)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REF_LIB=${1:?usage: api_path_bench.sh REFERENCE_LIB VERSION}
REF_VERSION=${2:?usage: api_path_bench.sh REFERENCE_LIB VERSION}
source "${ROOT}/scripts/pg-env.sh"
BIN="$("${PG_CONFIG}" --bindir)"
PGBENCH="${BIN}/pgbench"
DSN_BASE="${BENCH_DSN_BASE:-host=127.0.0.1 port=${PG_PORT} user=postgres}"
CALLS="${BENCH_API_CALLS:-400}"
EXT="$("${PG_CONFIG}" --sharedir)/extension"
LIB="$("${PG_CONFIG}" --pkglibdir)"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"; for d in sm_api_cur sm_api_ref; do "${BIN}/psql" "${DSN_BASE} dbname=postgres" -Xqc "drop database if exists ${d} with (force)" >/dev/null 2>&1 || true; done' EXIT

install -m 0755 "${REF_LIB}" "${LIB}/songmatch_ref.so"
sed -e "s/^default_version.*/default_version = '${REF_VERSION}'/" -e "s/^module_pathname.*/module_pathname = '\$libdir\/songmatch_ref'/" \
    "${EXT}/songmatch.control" >"${EXT}/songmatch_ref.control"
install -m 0644 "${ROOT}/sql/releases/songmatch--${REF_VERSION}.sql" "${EXT}/songmatch_ref--${REF_VERSION}.sql"

"${BIN}/psql" "${DSN_BASE} dbname=postgres" -Xq -v ON_ERROR_STOP=1 -c "do \$\$ begin
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
end \$\$" >/dev/null
A=00000000-0000-4000-8000-000000000001
for pair in "sm_api_cur:songmatch" "sm_api_ref:songmatch_ref"; do
    db=${pair%%:*}
    ext=${pair#*:}
    p() { "${BIN}/psql" "${DSN_BASE} dbname=${db}" -Xq -At -v ON_ERROR_STOP=1 "$@"; }
    "${BIN}/psql" "${DSN_BASE} dbname=postgres" -Xqc "drop database if exists ${db} with (force)" -c "create database ${db}" >/dev/null
    p -c "set client_min_messages = warning" -c "create extension ${ext} cascade" >/dev/null
    p -f "${ROOT}/pgrx-tests/client/catalogue.sql" >/dev/null
    p -c "select bf_generate_catalogue(600, 12)" -c "select songmatch.register_bundle('default', true)" \
      -c "select songmatch.grant_access('authenticated')" -c "set client_min_messages = warning" \
      -c "select songmatch.enable_row_level_security()" >/dev/null
    # every artifact stored: a miss below runs no inference
    p -c "select count(*) from songmatch.embed_tracks(array(select id from songmatch.tracks))" >/dev/null
    cat >"${WORK}/${db}_hit.sql" <<SQL
begin;
set local role authenticated;
set local request.jwt.claims = '{"sub": "${A}", "role": "authenticated"}';
select count(*) from songmatch.match_playlist(2, top_k => 20);
commit;
SQL
    cat >"${WORK}/${db}_miss.sql" <<SQL
begin;
set local role authenticated;
set local request.jwt.claims = '{"sub": "${A}", "role": "authenticated"}';
select count(*) from songmatch.match_playlist(2, top_k => 20, config => jsonb_build_object('weights', jsonb_build_object('audio', random())));
commit;
SQL
    "${PGBENCH}" -n -t 20 -f "${WORK}/${db}_hit.sql" "${DSN_BASE} dbname=${db}" >/dev/null 2>&1
done

lat() { "${PGBENCH}" -n -t "$2" -f "${WORK}/$1.sql" "${DSN_BASE} dbname=${1%_*}" 2>/dev/null | sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p'; }
declare -A R
for round in 1 2 3; do # interleaved, the best of three rounds
    for k in sm_api_cur_hit sm_api_ref_hit sm_api_cur_miss sm_api_ref_miss; do
        n=${CALLS}
        [[ ${k} == *miss ]] && n=$((CALLS / 4))
        v=$(lat "${k}" "${n}")
        if [[ -z "${R[${k}]:-}" ]] || awk "BEGIN{exit !(${v} < ${R[${k}]})}"; then R[${k}]=${v}; fi
    done
done
printf '%-34s %10s %10s %8s\n' "match_playlist, API path" "current" "${REF_VERSION}" "ratio"
for kind in hit miss; do
    c=${R[sm_api_cur_${kind}]}
    r=${R[sm_api_ref_${kind}]}
    printf '%-34s %8.3f ms %8.3f ms %8.3f\n' "cache ${kind} (200 candidates)" "${c}" "${r}" "$(awk "BEGIN{print ${c}/${r}}")"
done
printf '{"api_hit_ms": %s, "api_hit_ref_ms": %s, "api_miss_ms": %s, "api_miss_ref_ms": %s}\n' \
    "${R[sm_api_cur_hit]}" "${R[sm_api_ref_hit]}" "${R[sm_api_cur_miss]}" "${R[sm_api_ref_miss]}"
rm -f "${LIB}/songmatch_ref.so" "${EXT}/songmatch_ref.control" "${EXT}/songmatch_ref--${REF_VERSION}.sql"
