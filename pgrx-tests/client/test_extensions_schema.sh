#!/usr/bin/env bash
# pgvector in a schema of its own, as Supabase keeps it (`create extension vector with schema
# extensions`): songmatch installs beside it and works there. Its own code writes artifacts as
# songmatch_owner, which must reach pgvector's functions by name (vector_dims in the upsert of an
# embedding, the distance operators of discovery): CREATE EXTENSION grants that role USAGE on the
# schema. The match path, discovery and a backfill run as a user would call them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sql_admin "drop database if exists ${DB} with (force)" >/dev/null
create_test_db "${DB}" off
sql "create schema extensions" >/dev/null
sql "create extension vector with schema extensions" >/dev/null
sql "set client_min_messages = warning; create extension songmatch" >/dev/null
"${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -f "${CLIENT_DIR}/catalogue.sql" >/dev/null
sql "select bf_generate_catalogue(60, 4)" >/dev/null
sql "select songmatch.register_bundle('default', true)" >/dev/null

check_sql "pgvector lives in the schema extensions" "extensions" \
    "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector'"
check_sql "songmatch_owner may use it" "t" "select has_schema_privilege('songmatch_owner', 'extensions', 'USAGE')"
P=$(sql "select p.id from songmatch.playlists p where exists (select 1 from songmatch.playlist_tracks pt where pt.playlist_id = p.id) order by p.id limit 1")
check_sql "match_playlist answers (and stores its embeddings)" "3" \
    "select count(*) from songmatch.match_playlist(${P}, candidate_track_ids => array(select id from songmatch.tracks order by id desc limit 10), top_k => 3)"
check_sql "embeddings were stored" "t" "select count(*) > 0 from songmatch.track_embeddings"
check_sql "recommend_for_playlist answers" "3" "select count(*) from songmatch.recommend_for_playlist(${P}, top_k => 3)"
sql "call songmatch.backfill('stale')" >/dev/null
check_sql "a backfill leaves every track embedded" "0" \
    "select count(*) from songmatch.tracks t where not exists (select 1 from songmatch.track_embeddings e where e.track_id = t.id)"
pass
