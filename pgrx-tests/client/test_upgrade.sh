#!/usr/bin/env bash
# Upgrades: every released version (its install script frozen in sql/releases/) has a chain of
# upgrade scripts (sql/songmatch--A--B.sql) to the current version; a database created at each
# release, with a catalogue, artifacts, grants, row-level security and cached matches, runs
# ALTER EXTENSION songmatch UPDATE and keeps every row, serves the same matches from its cache
# with no inference, and then has exactly the schema, privileges and function definitions of a
# fresh CREATE EXTENSION (so a schema change without its upgrade script fails here).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CURRENT=$(sed -n 's/^version = "\(.*\)"$/\1/p' "${REPO_ROOT}/Cargo.toml" | head -1)
EXTDIR="$("${PG_CONFIG}" --sharedir)/extension"
A=00000000-0000-4000-8000-000000000001

# the chain of upgrade scripts from a version to the current one
chain() {
    local v=$1 path=$1 next
    while [[ "${v}" != "${CURRENT}" ]]; do
        next=$(find "${REPO_ROOT}/sql" -maxdepth 1 -name "songmatch--${v}--*.sql" | sed 's/.*--\(.*\)\.sql$/\1/' | sort -V | tail -1)
        [[ -n "${next}" ]] || return 1
        path="${path} -> ${next}"
        v=${next}
    done
    echo "${path}"
}

RELEASES=$(find "${REPO_ROOT}/sql/releases" -name 'songmatch--*.sql' | sed 's/.*songmatch--\(.*\)\.sql$/\1/' | sort -V)
[[ -n "${RELEASES}" ]] || fail "no frozen release scripts in sql/releases"
for r in ${RELEASES}; do
    [[ "${r}" != "${CURRENT}" ]] || fail "sql/releases/songmatch--${r}.sql is the current version: bump Cargo.toml's version"
    c=$(chain "${r}") || fail "no upgrade path from ${r} to ${CURRENT}: add sql/songmatch--${r}--<next>.sql"
    say "ok   upgrade path ${c}"
    [[ -f "${EXTDIR}/songmatch--${r}.sql" ]] || fail "${EXTDIR}/songmatch--${r}.sql is not installed (make install)"
done
for f in "${REPO_ROOT}"/sql/songmatch--*--*.sql; do
    [[ -f "${EXTDIR}/$(basename "${f}")" ]] || fail "$(basename "${f}") is not installed (make install)"
    cmp -s "${f}" "${EXTDIR}/$(basename "${f}")" || fail "the installed $(basename "${f}") differs from the repository's (make install)"
done

# A normalised listing of songmatch's schema: tables, columns, constraints, indexes, triggers,
# policies, views, functions (signature, attributes, settings, owner, body hash), privileges.
schema_listing() {
    "${PSQL}" "$(dsn "$1")" -X -q -At -v ON_ERROR_STOP=1 <<'SQL'
with rels as (
    select c.oid, c.relname, c.relkind, pg_get_userbyid(c.relowner) as owner, c.relrowsecurity, c.relacl
      from pg_class c where c.relnamespace = 'songmatch'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S', 'i')
)
select line from (
    select 'rel ' || relname || ' ' || relkind::text || ' owner=' || owner || ' rls=' || relrowsecurity as line from rels
    union all
    select 'acl ' || r.relname || ' ' || coalesce(pg_get_userbyid(a.grantee), 'PUBLIC') || ' ' || a.privilege_type
      from rels r, aclexplode(r.relacl) a
    union all
    select 'col ' || r.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || case when a.attnotnull then ' not null' else '' end
           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
           || case when a.attidentity <> '' then ' identity ' || a.attidentity::text else '' end
      from rels r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where r.relkind in ('r', 'p', 'v', 'm')
    union all
    select 'con ' || r.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
      from rels r join pg_constraint co on co.conrelid = r.oid
    union all
    select 'idx ' || pg_get_indexdef(r.oid) from rels r where r.relkind = 'i'
    union all
    select 'trg ' || pg_get_triggerdef(t.oid) from pg_trigger t join rels r on r.oid = t.tgrelid where not t.tgisinternal
    union all
    select 'pol ' || r.relname || ' ' || p.polname || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
           || ' / ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
      from pg_policy p join rels r on r.oid = p.polrelid
    union all
    select 'view ' || r.relname || ' ' || md5(pg_get_viewdef(r.oid)) from rels r where r.relkind = 'v'
    union all
    select 'fn ' || p.oid::regprocedure::text || ' returns ' || pg_get_function_result(p.oid)
           || ' kind=' || p.prokind::text || ' lang=' || l.lanname || ' vol=' || p.provolatile::text || ' strict=' || p.proisstrict
           || ' secdef=' || p.prosecdef || ' par=' || p.proparallel::text || ' owner=' || pg_get_userbyid(p.proowner)
           || ' config=' || coalesce(array_to_string(p.proconfig, ';'), '') || ' args=' || pg_get_function_arguments(p.oid)
           || ' body=' || md5(coalesce(p.prosrc, '') || coalesce(p.probin, ''))
      from pg_proc p join pg_language l on l.oid = p.prolang where p.pronamespace = 'songmatch'::regnamespace
    union all
    select 'fnacl ' || p.oid::regprocedure::text || ' ' || coalesce(pg_get_userbyid(a.grantee), 'PUBLIC') || ' ' || a.privilege_type
      from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     where p.pronamespace = 'songmatch'::regnamespace
    union all
    select 'dump ' || c.relname from pg_extension e, unnest(e.extconfig) x(oid) join pg_class c on c.oid = x.oid
     where e.extname = 'songmatch'
    union all
    select 'member ' || pg_describe_object(d.classid, d.objid, 0) from pg_depend d join pg_extension e on e.oid = d.refobjid
     where e.extname = 'songmatch' and d.deptype = 'e'
) s order by line
SQL
}

# the same grants, row-level security and app data in both databases
prepare_roles() {
    sql_admin "do \$\$ begin
        if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
        if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
        if not exists (select 1 from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
    end \$\$" >/dev/null
}
# (columns that an upgrade adds and fills with derived values are left out: track_content.signals
# (0.3.0) and document_hash (0.8.0), the owners 0.6.0 adds to per-user rows (checked against their
# parents below), and the artifacts' content_hash, which 0.8.0 re-keys to their document (checked
# below: every artifact current before the update is current after it)
fingerprints() {
    sql "select string_agg(c.relname || '=' || (xpath('/row/n/text()', query_to_xml(format(
             'select md5(coalesce(string_agg((jsonb_strip_nulls(to_jsonb(x)) - %L::text[])::text, ''|'' order by (jsonb_strip_nulls(to_jsonb(x)) - %L::text[])::text), '''')) as n from songmatch.%I x',
             d.cols, d.cols, c.relname),
             false, true, '')))[1]::text, ' ' order by c.relname)
           from pg_class c
          cross join lateral (select array['signals', 'owner_id', 'user_id', 'document_hash']
                                     || case when c.relname in ('track_embeddings', 'track_emotions', 'track_genres')
                                             then array['content_hash'] else '{}' end as cols) d
          where c.relnamespace = 'songmatch'::regnamespace and c.relkind = 'r' and c.relpersistence = 'p'"
}
# the artifacts computed from their track's current content (the key before 0.8.0) / document
CURRENT_OLD="select (select count(*) from songmatch.track_embeddings e join songmatch.track_content tc on tc.track_id = e.track_id and e.content_hash = tc.content_hash)
                 || ' ' || (select count(*) from songmatch.track_genres e join songmatch.track_content tc on tc.track_id = e.track_id and e.content_hash = tc.content_hash)"
CURRENT_NEW="select (select count(*) from songmatch.track_embeddings e join songmatch.track_content tc on tc.track_id = e.track_id and e.content_hash = tc.document_hash)
                 || ' ' || (select count(*) from songmatch.track_genres e join songmatch.track_content tc on tc.track_id = e.track_id and e.content_hash = tc.document_hash)"
match_as_a() {
    PGOPTIONS="-c songmatch.model_dir=${MATCH_MODELS}" "${PSQL}" "$(dsn)" -X -q -At -v ON_ERROR_STOP=1 -c "begin" -c "set local role authenticated" \
        -c "set local request.jwt.claims = '{\"sub\": \"${A}\"}'" \
        -c "select string_agg(track_id || ':' || score, ',' order by rank) from songmatch.match_playlist(${1}, top_k => 5)" -c "commit"
}

# A model directory as an earlier release installed it: the same models, the `default` bundle
# without the parts added since (0.1.0 had no ranker). The old release's data is made with it.
MODEL_DIR="${INSTALLED_MODELS}"
OLD_MODELS="${WORK}/models-old"
private_model_dir "${OLD_MODELS}"
python3 -c 'import json, sys; b = json.load(open(sys.argv[1])); b.pop("ranker", None); json.dump(b, open(sys.argv[1], "w"))' \
    "${OLD_MODELS}/bundles/default.json"
old_sql() { PGOPTIONS="-c songmatch.model_dir=${OLD_MODELS}" sql "$1"; }

prepare_roles
FRESH="${DB}_fresh"
for r in ${RELEASES}; do
    say "--- from ${r}"
    sql_admin "drop database if exists ${DB} with (force)" >/dev/null
    create_test_db "${DB}"
    sql "set client_min_messages = warning; create extension songmatch version '${r}' cascade" >/dev/null
    check_sql "installed version" "${r}" "select extversion from pg_extension where extname = 'songmatch'"
    "${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -f "${CLIENT_DIR}/catalogue.sql" >/dev/null
    sql "select bf_generate_catalogue(60, 4)" >/dev/null
    old_sql "select songmatch.register_bundle('default', true)" >/dev/null
    sql "select songmatch.grant_access('anon'), songmatch.grant_access('authenticated'), songmatch.grant_access('service_role')" >/dev/null
    sql "set client_min_messages = warning; select songmatch.enable_row_level_security()" >/dev/null
    # artifacts and cached matches made by the old release (as the app makes them)
    old_sql "select count(*) from songmatch.embed_tracks(array(select id from songmatch.tracks))" >/dev/null
    MATCH_MODELS="${OLD_MODELS}"
    M2=$(match_as_a 2)
    M4=$(match_as_a 4)
    MATCH_MODELS="${MODEL_DIR}"  # after the upgrade: the new installation's models
    [[ "${M2}" =~ ^[0-9]+: ]] || fail "matching at ${r}: ${M2}"
    sql "select songmatch.stats_reset()" >/dev/null
    BEFORE=$(fingerprints)
    # (a release from 0.8.0 on keys artifacts by their document already)
    if [[ "$(sql "select count(*) from pg_attribute where attrelid = 'songmatch.track_content'::regclass and attname = 'document_hash'")" == 1 ]]; then
        CURRENT_BEFORE=$(sql "${CURRENT_NEW}")
    else
        CURRENT_BEFORE=$(sql "${CURRENT_OLD}")
    fi
    [[ "${CURRENT_BEFORE}" =~ ^[1-9][0-9]*\  ]] || fail "no current embedding before the update: ${CURRENT_BEFORE}"
    # (the catalogue's generation counter of a release that has one: the update leaves it as it is)
    GEN=0
    if [[ "$(sql "select to_regclass('songmatch.catalogue_generation') is not null")" == "t" ]]; then
        GEN=$(sql "select sum(gen) from songmatch.catalogue_generation")
    fi

    sql "set client_min_messages = warning; alter extension songmatch update" >/dev/null
    check_sql "version after ALTER EXTENSION UPDATE" "${CURRENT}" "select extversion from pg_extension where extname = 'songmatch'"
    AFTER=$(fingerprints)
    # tables an upgrade adds start empty: leave those out (any other change fails below), and the
    # catalogue's generation counter (0.5.0), which starts with its 16 slots at 0 under a new epoch
    check_sql "the generation counter's slots after the update" "16 ${GEN} 1" \
        "select count(*) || ' ' || sum(gen) || ' ' || count(distinct epoch) from songmatch.catalogue_generation"
    AFTER=$(tr ' ' '\n' <<<"${AFTER}" | while IFS='=' read -r t h; do
        [[ "${t}" == "catalogue_generation" ]] && ! grep -qw "${t}=[0-9a-f]*" <<<"${BEFORE}" && continue
        if grep -qw "${t}=[0-9a-f]*" <<<"${BEFORE}" || [[ "${h}" != "d41d8cd98f00b204e9800998ecf8427e" ]]; then printf '%s=%s ' "${t}" "${h}"; fi
    done | sed 's/ $//')
    [[ "${AFTER}" == "${BEFORE}" ]] || fail "rows changed by the upgrade: $(diff <(tr ' ' '\n' <<<"${BEFORE}") <(tr ' ' '\n' <<<"${AFTER}") | head -5)"
    say "ok   every table's rows are unchanged ($(wc -w <<<"${AFTER}") tables)"
    check_sql "every per-user row carries its parent's user" "0 0 0 0" \
        "select (select count(*) from songmatch.playlist_tracks x join songmatch.playlists p on p.id = x.playlist_id where x.owner_id <> p.owner_id)
                || ' ' || (select count(*) from songmatch.playlist_analyses x join songmatch.playlists p on p.id = x.playlist_id where x.owner_id <> p.owner_id)
                || ' ' || (select count(*) from songmatch.playlist_profiles x join songmatch.playlists p on p.id = x.playlist_id where x.owner_id <> p.owner_id)
                || ' ' || (select count(*) from songmatch.match_results x join songmatch.match_contexts c on c.id = x.context_id where x.user_id <> c.user_id)"
    check_sql "the old rows have owners to check" "t" \
        "select (select count(*) from songmatch.playlist_tracks) > 0 and (select count(*) from songmatch.playlist_profiles) > 0
                and (select count(*) from songmatch.match_results) > 0"
    check_sql "every track's stage-1 signals are stored and current" "t" \
        "select bool_and(tc.signals is not distinct from songmatch.track_signals(to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis))
           from songmatch.track_content tc join songmatch.tracks t on t.id = tc.track_id left join songmatch.track_analyses a on a.track_id = t.id"
    check_sql "discovery works on the upgraded database" "3" \
        "select count(*) from songmatch.recommend_for_playlist(2, top_k => 3)"
    check "A's matches of playlist 2 after the upgrade" "${M2}" "$(match_as_a 2)"
    check "A's matches of playlist 4 after the upgrade" "${M4}" "$(match_as_a 4)"
    check_sql "served from the cache, no inference" "2 0" \
        "select songmatch.stat('context_hits')::int || ' ' || coalesce(sum(value), 0)::int from songmatch.stats where name like 'inferences:%'"
    check_sql "every artifact current before the update is current after it (embeddings, genres)" "${CURRENT_BEFORE}" "${CURRENT_NEW}"
    check_sql "every track's embedding a hit after the update" "60 hit" \
        "select count(*) || ' ' || string_agg(distinct status, ',') from songmatch.embed_tracks(array(select id from songmatch.tracks))"
    check_sql "no inference after the update" "0" \
        "select coalesce(sum(value), 0)::int from songmatch.stats where name like 'inferences:%'"
    check_sql "the old API role writes no shared table any more" "false false" \
        "select has_table_privilege('authenticated', 'songmatch.track_embeddings', 'UPDATE') || ' ' || has_table_privilege('authenticated', 'songmatch.model_bundles', 'UPDATE')"
    if [[ "${r}" == "0.1.0" ]]; then  # (0.1.0's grant_access gave service_role everything)
        check_sql "the old everything-role is a management role" "t" "select has_table_privilege('service_role', 'songmatch.tracks', 'DELETE')"
    fi
    check_sql "new functions work" "t" "select songmatch.grant_management('service_role') is not null"

    # the upgraded schema is the fresh one
    sql_admin "drop database if exists ${FRESH} with (force)" >/dev/null
    create_test_db "${FRESH}"
    "${PSQL}" "$(dsn "${FRESH}")" -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" -c "create extension songmatch cascade" \
        -c "select songmatch.grant_access('anon'), songmatch.grant_access('authenticated'), songmatch.grant_management('service_role')" \
        -c "select songmatch.enable_row_level_security()" >/dev/null
    schema_listing "${DB}" >"${WORK}/upgraded.txt"
    schema_listing "${FRESH}" >"${WORK}/fresh.txt"
    sql_admin "drop database if exists ${FRESH} with (force)" >/dev/null
    if ! diff -u "${WORK}/fresh.txt" "${WORK}/upgraded.txt" >"${WORK}/schema.diff"; then
        sed 's/^/      /' "${WORK}/schema.diff" | head -40
        fail "the schema after upgrading from ${r} differs from a fresh install (diff above: - fresh, + upgraded)"
    fi
    say "ok   the upgraded schema equals a fresh install ($(wc -l <"${WORK}/fresh.txt") catalog lines)"
done
pass
