#!/usr/bin/env bash
# Staleness: the triggers mark exactly the artifacts whose inputs changed, and
# CALL songmatch.backfill('stale') refreshes exactly those: after one track's analysis changes,
# 1 embedding is computed (and its genres, and the profiles of its 3 playlists), nothing else.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=300
P=12
T=7   # in playlists 1, 5 and 9

marks() { sql "select coalesce(string_agg(kind || ':' || item_id, ' ' order by kind, item_id), '') from songmatch.stale_items"; }
mark_counts() { sql "select coalesce(string_agg(kind || '=' || n, ' ' order by kind), '') from (select kind, count(*) n from songmatch.stale_items group by kind) s"; }
stat() { sql "select songmatch.stat('$1')::bigint"; }

setup_db "${N}" "${P}"
# loading the catalogue marked everything: every track (3 kinds) and every playlist
check "marks after loading the catalogue" "embedding=${N} emotions=${N} genres=${N} profile=${P}" "$(mark_counts)"

EMO=$(sql "select coalesce(emotion_model, '') from songmatch.model_bundles where is_active")
say "active bundle's emotion model: ${EMO:-none}"
for j in embeddings genres profiles emotions; do
    sql_log "call songmatch.backfill('${j}')" "${WORK}/full_${j}.log" || fail "backfill ${j}: $(tail -5 "${WORK}/full_${j}.log")"
done
# a full backfill clears the marks it resolves (emotions: only when the bundle has a model)
if [[ -n "${EMO}" ]]; then
    check "marks after the full backfills" "" "$(mark_counts)"
else
    check "marks after the full backfills" "emotions=${N}" "$(mark_counts)"
    sql_log "call songmatch.backfill('stale')" "${WORK}/stale0.log" || fail "$(tail -5 "${WORK}/stale0.log")"
    grep -q 'has no emotion model' "${WORK}/stale0.log" || fail "no notice about the emotion model"
    check "marks after a stale run" "" "$(marks)"
fi
check_sql "profiles" "${P}" "select count(*) from songmatch.playlist_profiles"

# changes that must not mark anything
sql "update songmatch.track_analyses set analysis = analysis where track_id = 8" >/dev/null
sql "update songmatch.tracks set updated_at = now() where id = 8" >/dev/null
sql "update songmatch.playlist_tracks set position = position + 100 where playlist_id = 2" >/dev/null
sql "insert into songmatch.liked_tracks (user_id, track_id) values ('00000000-0000-4000-8000-000000000002', 10)" >/dev/null
check "marks after no-op updates and a like" "" "$(marks)"

# one track's analysis changes
sql "select songmatch.stats_reset()" >/dev/null
PROFILES_BEFORE=$(sql "select string_agg(playlist_id || '=' || content_hash, ' ' order by playlist_id) from songmatch.playlist_profiles")
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{summary}', '\"A rewritten summary.\"') where track_id = ${T}" >/dev/null
check "marks after updating track ${T}'s analysis" "embedding:${T} emotions:${T} genres:${T} profile:1 profile:5 profile:9" "$(marks)"
check_sql "reason" "track_analyses update" "select distinct reason from songmatch.stale_items"

sql_log "call songmatch.backfill('stale')" "${WORK}/stale1.log" || fail "$(tail -5 "${WORK}/stale1.log")"
grep -q "done: 6 item(s), 6 done, 0 failed" "${WORK}/stale1.log" || fail "final notice: $(tail -2 "${WORK}/stale1.log")"
check "marks after the stale run" "" "$(marks)"
check "embeddings computed (misses)" "1" "$(stat embedding_misses)"
check "profiles recomputed" "3" "$(stat profile_recomputes)"
# 1 track embedding; the recomputed profiles reuse their query embeddings (their playlists' text
# is unchanged)
check "inference counter" "1" "$(inferences)"
if [[ -n "${EMO}" ]]; then
    check "emotions computed (misses)" "1" "$(stat emotion_misses)"
    check "emotion inferences" "1" "$(stat "inferences:${EMO}")"
    check_sql "track ${T}'s emotions are current" "t" \
        "select content_hash = (select document_hash from songmatch.track_content where track_id = ${T}) from songmatch.track_emotions where track_id = ${T} and model_name = '${EMO}'"
fi
check_sql "track ${T}'s embedding is current" "t" \
    "select content_hash = (select document_hash from songmatch.track_content where track_id = ${T}) from songmatch.track_embeddings where track_id = ${T}"
check_sql "track ${T}'s genres are current" "2" \
    "select count(*) from songmatch.track_genres where track_id = ${T} and content_hash = (select document_hash from songmatch.track_content where track_id = ${T})"
PROFILES_AFTER=$(sql "select string_agg(playlist_id || '=' || content_hash, ' ' order by playlist_id) from songmatch.playlist_profiles")
CHANGED=$(join -v2 <(tr ' ' '\n' <<<"${PROFILES_BEFORE}" | sort) <(tr ' ' '\n' <<<"${PROFILES_AFTER}" | sort) | cut -d= -f1 | sort -n | xargs)
check "profiles whose content hash changed" "1 5 9" "${CHANGED}"

# membership and playlist changes mark only that playlist's profile
sql "select songmatch.stats_reset()" >/dev/null
sql "insert into songmatch.playlist_tracks (playlist_id, track_id, position) values (2, 200, 99)" >/dev/null
sql "update songmatch.playlists set description = 'A new description' where id = 3" >/dev/null
sql "delete from songmatch.playlist_tracks where playlist_id = 4 and track_id = 61" >/dev/null
check "marks after membership and playlist changes" "profile:2 profile:3 profile:4" "$(marks)"
sql_log "call songmatch.backfill('stale')" "${WORK}/stale2.log" || fail "$(tail -5 "${WORK}/stale2.log")"
check "marks after the stale run" "" "$(marks)"
check "embeddings computed (track 200 had one)" "0" "$(stat embedding_misses)"
check "profiles recomputed" "3" "$(stat profile_recomputes)"
check_sql "playlist 2's profile has 11 members" "11" "select member_count from songmatch.playlist_profiles where playlist_id = 2"

# an app role that may edit playlist memberships (and nothing of songmatch's bookkeeping) marks
# profiles too: the triggers run as their owner
TEST_ROLE="bf_app_$$"
sql "create role ${TEST_ROLE}; grant usage on schema songmatch to ${TEST_ROLE};
     grant select, insert, delete on songmatch.playlist_tracks to ${TEST_ROLE};
     grant select on songmatch.playlists, songmatch.tracks to ${TEST_ROLE}" >/dev/null
sql "set role ${TEST_ROLE}; insert into songmatch.playlist_tracks (playlist_id, track_id, position) values (6, 250, 12)" >/dev/null
check_sql "the app role cannot read stale_items" "f" "select has_table_privilege('${TEST_ROLE}', 'songmatch.stale_items', 'select')"
check "marks after the app role's insert" "profile:6" "$(marks)"
sql "delete from songmatch.stale_items" >/dev/null

# a mark made while a batch is in flight survives it: the batch clears only the marks it read.
# The runner is held inside its profile batch for playlist 2 (a locker holds the stored profile
# row) while another session changes playlist 2 again.
sql "select songmatch.stats_reset()" >/dev/null
sql "update songmatch.playlists set description = 'First change' where id = 2" >/dev/null
check "marks after changing playlist 2" "profile:2" "$(marks)"
check_sql "reason" "playlists update" "select distinct reason from songmatch.stale_items"
sql_log "begin; select 1 from songmatch.playlist_profiles where playlist_id = 2 for update; select pg_sleep(300); commit" \
    "${WORK}/locker.log" bf_locker &
BG_PIDS+=($!)
LOCKER=$!
wait_for "the locker holds the row" 60 \
    "select exists (select 1 from pg_locks l join pg_stat_activity a using (pid) where a.application_name = 'bf_locker' and l.relation = 'songmatch.playlist_profiles'::regclass)"
sql_log "call songmatch.backfill('stale')" "${WORK}/stale3.log" bf_runner &
BG_PIDS+=($!)
RUNNER=$!
wait_for "the runner blocked in its profile batch" 60 \
    "select wait_event_type = 'Lock' from pg_stat_activity where datname = current_database() and application_name = 'bf_runner'"
sql "update songmatch.playlists set description = 'Second change' where id = 2" >/dev/null
sql "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'bf_locker'" >/dev/null
wait "${RUNNER}" || fail "the stale run failed: $(tail -5 "${WORK}/stale3.log")"
wait "${LOCKER}" || true
# the batch computed the profile of the first change; the mark of the second one is kept
check "marks after the stale run" "profile:2" "$(marks)"
check "profiles recomputed" "1" "$(stat profile_recomputes)"
sql_log "call songmatch.backfill('stale')" "${WORK}/stale4.log" || fail "$(tail -5 "${WORK}/stale4.log")"
check "marks after another stale run" "" "$(marks)"
check "profiles recomputed (the stored one was behind)" "2" "$(stat profile_recomputes)"
check_sql "playlist 2's profile is current" "false" "select songmatch.playlist_profile(2) ->> 'recomputed'"
check_sql "stale jobs all done" "done" "select string_agg(distinct status, ',') from songmatch.analysis_jobs where job_type = 'stale'"

# One track changed by two transactions at once, its row (a popularity) and its analysis (a new
# document): the second waits for the first and then reads it, so track_content holds the content
# hash, signals and document hash of both changes (not one side's view of the other's old row).
content_now="select tc.content_hash = songmatch.track_content_hash(t.id)
                and tc.document_hash = songmatch.track_document_hash(to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis)
                and tc.signals = songmatch.track_signals(to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis)
           from songmatch.tracks t join songmatch.track_content tc on tc.track_id = t.id
           join songmatch.track_analyses a on a.track_id = t.id where t.id = 11"
sql_log "begin; update songmatch.tracks set popularity = (popularity + 13) % 101 where id = 11; select pg_sleep(2); commit" \
    "${WORK}/row.log" bf_row_writer &
BG_PIDS+=($!)
ROW=$!
wait_for "the row writer changed track 11" 60 \
    "select exists (select 1 from pg_stat_activity where datname = current_database() and application_name = 'bf_row_writer' and wait_event = 'PgSleep')"
sql_log "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{summary}', '\"Rewritten while its row changed\"') where track_id = 11" \
    "${WORK}/analysis.log" bf_analysis_writer || fail "the analysis update failed: $(tail -5 "${WORK}/analysis.log")"
wait "${ROW}" || fail "the row update failed: $(tail -5 "${WORK}/row.log")"
check_sql "track 11's content after both changes" "t" "${content_now}"
check "marks after both changes" \
    "embedding:11 emotions:11 genres:11$(sql "select coalesce(' ' || string_agg('profile:' || p.playlist_id, ' ' order by p.playlist_id), '')
                                                from (select distinct playlist_id from songmatch.playlist_tracks where track_id = 11) p")" \
    "$(marks)"
sql_log "call songmatch.backfill('stale')" "${WORK}/stale5.log" || fail "$(tail -5 "${WORK}/stale5.log")"
check_sql "track 11's artifacts keyed by its document" "3" \
    "select (select count(*) from songmatch.track_embeddings e where e.track_id = 11 and e.content_hash = tc.document_hash)
          + (select count(*) from songmatch.track_genres g where g.track_id = 11 and g.source_level = 'primary' and g.content_hash = tc.document_hash)
          + (select count(*) from songmatch.track_emotions m where m.track_id = 11 and m.content_hash = tc.document_hash)
       from songmatch.track_content tc where tc.track_id = 11"
pass
