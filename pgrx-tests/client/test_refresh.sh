#!/usr/bin/env bash
# The background refresh (issue 13): with songmatch preloaded, a refresher per database drains the
# staleness queue by itself.
#  1. 500 tracks with analyses inserted: without any CALL, all have current embeddings, emotions
#     and genres within 60 s;
#  2. the analysis of 10 tracks changes: exactly those 10 are recomputed (the inference counters);
#     an edit that does not change the content (updated_at, a no-op UPDATE) of 10 more: 0;
#  2b. the feature store is rebuilt by the refresher after the catalogue changes, and matches read it;
#  3. members added to a playlist: its profile is current within seconds;
#  4. a poison row is retried with backoff and parked (pipeline_status shows it and its error) while
#     the rest completes; fixing the row re-queues it;
#  4b. a CALL backfill('stale') while the refresher runs: every changed item computed once;
#  5. kill -9 of the refresher mid-batch (the server restarts): nothing lost, nothing duplicated,
#     and the refresh resumes by itself;
#  6. a database created after the server started is served without configuration.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ "$(sql_admin "select current_setting('shared_preload_libraries') ~ 'songmatch'")" == "t" ]] \
    || skip "songmatch is not in shared_preload_libraries on this server"

EMB=all-minilm-l6-v2-int8
EMO=minilm-goemotions-head
infer() { sql "select coalesce(songmatch.stat('inferences:$1'), 0)::bigint"; }
current_sql="select count(*) from songmatch.tracks t join songmatch.track_content tc on tc.track_id = t.id
  where exists (select 1 from songmatch.track_embeddings e where e.track_id = t.id and e.model_name = '${EMB}' and e.content_hash = tc.document_hash)
    and exists (select 1 from songmatch.track_emotions m where m.track_id = t.id and m.content_hash = tc.document_hash)
    and exists (select 1 from songmatch.track_genres g where g.track_id = t.id and g.content_hash = tc.document_hash)"
backlog() { sql "select coalesce(sum(backlog), 0) from songmatch.pipeline_status"; }

# --- 1. 500 new tracks become current by themselves ---------------------------------------------------
T0=${SECONDS}
REFRESH=on setup_db 500 10
wait_for "500 tracks current" 60 "select (${current_sql}) = 500"
say "500 tracks current $((SECONDS - T0)) s after they were inserted (no CALL)"
wait_for "the playlists' profiles current" 30 "select not exists (select 1 from songmatch.stale_items)"
check_sql "a refresher runs here" "t" "select bool_and(refresher_running) from songmatch.pipeline_status"
check "duplicate embedding keys" "0" "$(embeddings_dups)"
check_sql "profiles of the 10 playlists" "10" "select count(*) from songmatch.playlist_profiles"

# --- 2. only changed content is recomputed --------------------------------------------------------------
# (tracks 401-420 are in no playlist, so no profile depends on them)
sql "select songmatch.stats_reset()" >/dev/null
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{summary}', to_jsonb('Changed summary of ' || track_id)) where track_id between 401 and 410" >/dev/null
wait_for "the 10 changed tracks current" 30 "select (${current_sql}) = 500 and not exists (select 1 from songmatch.stale_items)"
check "embeddings computed for 10 changed analyses" "10" "$(infer "${EMB}")"
check "emotions computed for 10 changed analyses" "10" "$(infer "${EMO}")"
sql "select songmatch.stats_reset()" >/dev/null
sql "update songmatch.tracks set updated_at = now() where id between 411 and 420" >/dev/null
sql "update songmatch.tracks set name = name where id between 411 and 420" >/dev/null
sql "update songmatch.track_analyses set analysis = analysis where track_id between 411 and 420" >/dev/null
sleep 3
check "stale marks after edits that change no content" "0" "$(backlog)"
check "embeddings computed for them" "0" "$(infer "${EMB}")"
check "emotions computed for them" "0" "$(infer "${EMO}")"

# --- 2b. the feature store follows the catalogue -----------------------------------------------------------
# (refresher 0 builds it once the catalogue's counter has held for a nap with nothing left to refresh)
store() { sql "select songmatch.feature_store_status() ->> '$1'"; }
wait_for "the feature store current" 30 \
    "select (s ->> 'current')::boolean and (s ->> 'tracks')::int = 500 and (s ->> 'with_embedding')::int = 500 from songmatch.feature_store_status() s"
G0=$(store generation)
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{summary}', to_jsonb('Changed again ' || track_id)) where track_id between 421 and 425" >/dev/null
check "the feature store right after a change" "false" "$(store current)"
wait_for "the feature store rebuilt after the change" 30 \
    "select (s ->> 'current')::boolean and (s ->> 'with_embedding')::int = 500 and (s ->> 'generation')::bigint > ${G0} from songmatch.feature_store_status() s"
sql "select songmatch.stats_reset()" >/dev/null
check_sql "a miss over 300 candidates" "5" \
    "select count(*) from songmatch.match_playlist(1, array(select id from songmatch.tracks order by id limit 300), top_k => 5, config => '{\"weights\": {\"centroid\": 0.0512}}')"
check_sql "its vectors from the feature store" "t" "select songmatch.stat('feature_store_embeddings') >= 290"

# --- 3. a playlist's new members: its profile follows -----------------------------------------------------
T0=$(date +%s%N)
sql "insert into songmatch.playlist_tracks (playlist_id, track_id, position) values (1, 450, 100), (1, 451, 101)" >/dev/null
wait_for "playlist 1's profile with 12 members" 20 \
    "select member_count = 12 from songmatch.playlist_profiles where playlist_id = 1 and not exists (select 1 from songmatch.stale_items where kind = 'profile')"
say "playlist 1's profile current $(( ($(date +%s%N) - T0) / 1000000 )) ms after its members changed"

# --- 4. a poison row is parked, the rest completes, fixing it re-queues it ---------------------------------
ERR='analysis.moods[0] must be a string, got number'
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{moods}', '[1, 2]') where track_id = 460" >/dev/null
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{summary}', '\"fine\"') where track_id between 461 and 470" >/dev/null
wait_for "the 10 good rows current" 30 "select (${current_sql}) = 499"
wait_for "the poison row parked" 40 "select parked = 1 from songmatch.pipeline_status where kind = 'embedding'"
check_sql "its error in pipeline_status" "${ERR}" "select last_error from songmatch.pipeline_status where kind = 'embedding'"
check_sql "its attempts" "5" "select attempts from songmatch.refresh_failures where kind = 'embedding' and item_id = 460"
check_sql "nothing else stale" "0" "select count(*) from songmatch.stale_items where item_id <> 460"
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{moods}', '[\"calm\"]') where track_id = 460" >/dev/null
wait_for "the fixed row current" 30 "select (${current_sql}) = 500 and not exists (select 1 from songmatch.stale_items)"
check_sql "its failures cleared" "0" "select count(*) from songmatch.refresh_failures"

# --- 4b. a CALL backfill while the refresher runs: no item is computed twice ------------------------------------
sql "select songmatch.stats_reset()" >/dev/null
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{summary}', to_jsonb('Third summary of ' || track_id)) where track_id between 201 and 400" >/dev/null
sql_log "call songmatch.backfill('stale', batch_size => 16)" "${WORK}/concurrent.log" || fail "backfill failed: $(tail -3 "${WORK}/concurrent.log")"
wait_for "the 200 changed tracks current" 60 "select (${current_sql}) = 500 and not exists (select 1 from songmatch.stale_items)"
check "embeddings computed for 200 changed tracks (refresher and CALL together)" "200" "$(infer "${EMB}")"
check "emotions computed for them" "200" "$(infer "${EMO}")"

# --- 5. kill -9 of the refresher in the middle of a batch -------------------------------------------------
sql "insert into songmatch.tracks (id, external_id, name, artist, album, release_date, popularity, duration_ms)
     select g, 'test:t' || g, 'Late Song ' || g, 'Late Artist ' || (g % 7), 'Late Album', '2001', 50, 200000
       from generate_series(501, 800) g" >/dev/null
sql "insert into songmatch.track_analyses (track_id, analysis)
     select g, jsonb_build_object('summary', 'A late song ' || g, 'moods', jsonb_build_array('calm'), 'language', 'en',
                                   'genres', jsonb_build_object('primary', 'folk'))
       from generate_series(501, 800) g" >/dev/null
# (batches of 64: once the first is committed, the refresher is in the middle of the next ones)
wait_for "the refresher half way" 30 "select (${current_sql}) > 520"
RPID="$(sql "select pid from pg_stat_activity where backend_type = 'songmatch refresher' and datname = current_database() limit 1")"
BEFORE="$(sql "${current_sql}")"
say "kill -9 refresher ${RPID} with ${BEFORE} tracks current"
kill -9 "${RPID}"
sleep 1
wait_server 120
wait_for "all 800 tracks current after the crash" 90 "select (${current_sql}) = 800 and not exists (select 1 from songmatch.stale_items)"
check "duplicate embedding keys" "0" "$(embeddings_dups)"
check_sql "duplicate emotion keys" "0" "select count(*) - count(distinct (track_id, model_name, model_version)) from songmatch.track_emotions"
check_sql "a refresher runs again" "t" "select bool_and(refresher_running) from songmatch.pipeline_status"

# --- 6. a database created after the server started ---------------------------------------------------------
DB2="${DB}_late"
sql_admin "drop database if exists ${DB2} with (force)" >/dev/null
sql_admin "create database ${DB2}" >/dev/null
"${PSQL}" "$(dsn "${DB2}")" -X -q -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" -c "create extension songmatch cascade" \
    -f "${CLIENT_DIR}/catalogue.sql" -c "select bf_generate_catalogue(40, 2)" >/dev/null
T0=${SECONDS}
deadline=$((SECONDS + 60))
until [[ "$("${PSQL}" "$(dsn "${DB2}")" -X -At -c "select (${current_sql}) = 40" 2>/dev/null)" == "t" ]]; do
    ((SECONDS < deadline)) || { sql_admin "drop database if exists ${DB2} with (force)"; fail "the late database was not served within 60 s"; }
    sleep 0.5
done
say "a database created after the server started: current $((SECONDS - T0)) s after its rows were inserted"
# its feature store, built by its refresher
OID2=$(sql_admin "select oid from pg_database where datname = '${DB2}'")
store_files="select count(*) from pg_catalog.pg_ls_dir('songmatch_store') f where f like '${OID2}.%'"
wait_for "the late database's feature store" 30 "select (${store_files}) = 1"
# a plain DROP DATABASE (no FORCE) is not blocked by the refresher: it leaves when it sees the drop
sql_admin "drop database ${DB2}" >/dev/null || fail "DROP DATABASE ${DB2} failed with a refresher connected"
# and the launcher removes its feature store
wait_for "the dropped database's feature store removed" 30 "select (${store_files}) = 0"
pass
