#!/usr/bin/env bash
# pg_dump / pg_restore of a database that uses songmatch: the catalogue, the artifacts and the
# match cache come back (extension tables are registered with pg_extension_config_dump), and so do
# the grants of the API roles and row-level security; the restored database serves the same
# matches from its cache with no inference. Row-level security is switched on again after the
# restore (pg_dump does not carry it for an extension's tables).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A=00000000-0000-4000-8000-000000000001
PG_BIN="$(dirname "${PSQL}")"
RESTORED="${DB}_restored"

setup_db 120 6
sql_admin "do \$\$ begin
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
end \$\$" >/dev/null
sql "select songmatch.grant_access('authenticated')" >/dev/null
sql "set client_min_messages = warning; select songmatch.enable_row_level_security()" >/dev/null
match_as_a() {
    "${PSQL}" "$(dsn "$1")" -X -q -At -v ON_ERROR_STOP=1 -c "begin" -c "set local role authenticated" \
        -c "set local request.jwt.claims = '{\"sub\": \"${A}\"}'" \
        -c "select string_agg(track_id || ':' || score, ',' order by rank) from songmatch.match_playlist(${2}, top_k => 5)" -c "commit"
}
M2=$(match_as_a "${DB}" 2)
M4=$(match_as_a "${DB}" 4)
counts() {
    "${PSQL}" "$(dsn "$1")" -X -q -At -v ON_ERROR_STOP=1 -c "select string_agg(c.relname || '=' || (xpath('/row/n/text()',
        query_to_xml(format('select count(*) as n from songmatch.%I', c.relname), false, true, '')))[1]::text, ' ' order by c.relname)
          from pg_extension e, unnest(e.extconfig) x(oid) join pg_class c on c.oid = x.oid where e.extname = 'songmatch'"
}
BEFORE=$(counts "${DB}")

"${PG_BIN}/pg_dump" "$(dsn)" -Fc -f "${WORK}/dump" 2>"${WORK}/dump.log" || fail "pg_dump: $(tail -3 "${WORK}/dump.log")"
sql_admin "drop database if exists ${RESTORED} with (force)" >/dev/null
create_test_db "${RESTORED}"
trap 'sql_admin "drop database if exists ${RESTORED} with (force)" >/dev/null 2>&1 || true; cleanup' EXIT
"${PG_BIN}/pg_restore" -d "$(dsn "${RESTORED}")" --exit-on-error "${WORK}/dump" 2>"${WORK}/restore.log" \
    || fail "pg_restore: $(tail -3 "${WORK}/restore.log")"
check "row counts of every dumped table" "${BEFORE}" "$(counts "${RESTORED}")"
check "extension version" "$(sql "select extversion from pg_extension where extname = 'songmatch'")" \
    "$("${PSQL}" "$(dsn "${RESTORED}")" -X -q -At -c "select extversion from pg_extension where extname = 'songmatch'")"
r() { recorded "${PSQL}" "$(dsn "${RESTORED}")" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
# pg_dump does not carry ALTER TABLE ... ENABLE ROW LEVEL SECURITY of an extension's tables: the
# documented restore step switches it on again (README, "Upgrades")
check "row-level security after pg_restore (not dumped)" "f" "$(r "select relrowsecurity from pg_class where oid = 'songmatch.playlists'::regclass")"
r "set client_min_messages = warning; select songmatch.enable_row_level_security()" >/dev/null
check "row-level security on playlists" "t" "$(r "select relrowsecurity from pg_class where oid = 'songmatch.playlists'::regclass")"
check "B sees none of A's playlists" "0" "$("${PSQL}" "$(dsn "${RESTORED}")" -X -q -At -c "begin" -c "set local role authenticated" \
    -c "set local request.jwt.claims = '{\"sub\": \"00000000-0000-4000-8000-000000000002\"}'" \
    -c "select count(*) from songmatch.playlists where owner_id = '${A}'" -c "commit")"
check "the API role still writes no shared table" "f" "$(r "select has_table_privilege('authenticated', 'songmatch.track_embeddings', 'INSERT')")"
check "the API role still matches" "t" "$(r "select has_function_privilege('authenticated', 'songmatch.match_playlist(bigint, bigint[], integer, jsonb)', 'execute')")"
r "select songmatch.stats_reset()" >/dev/null
check "A's matches of playlist 2 in the restored database" "${M2}" "$(match_as_a "${RESTORED}" 2)"
check "A's matches of playlist 4 in the restored database" "${M4}" "$(match_as_a "${RESTORED}" 4)"
check "served from the restored cache, no inference" "2 0" \
    "$(r "select songmatch.stat('context_hits')::int || ' ' || coalesce(sum(value), 0)::int from songmatch.stats where name like 'inferences:%'")"
pass
