#!/usr/bin/env bash
# A live catalogue under load: matchers and writers at once, with the background refresher and a
# concurrent CALL songmatch.backfill('stale').
#
#   matchers  12 sessions (pgbench): match_playlist of a random playlist and top_k, as the owner and
#             as the DBA, match_songs_to_playlists and recommend_for_playlist;
#   writers   popularity of random tracks (>= 20 rows/s), analyses rewritten (each a new document,
#             every track at most once), new tracks with their analyses (liked, so candidates),
#             members and likes added and removed; one statement (or one new track) a transaction;
#   backfill  CALL songmatch.backfill('stale') in a loop; the refresher drains the rest.
#
# Asserts: 0 errors of any kind in every session (pgbench counts failed transactions: deadlocks,
# lock timeouts, any ERROR); at the end every artifact is current (embeddings, emotions, genres of
# every track, every playlist's profile); the document embeddings computed equal the documents that
# changed (each once: songmatch.stats' inferences); popularity-only updates cause 0 inferences
# and 0 artifact stale marks.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ "$(sql_admin "select current_setting('shared_preload_libraries') ~ 'songmatch'")" == "t" ]] \
    || skip "songmatch is not in shared_preload_libraries on this server"
PGBENCH="${PG_BINDIR}/pgbench"
[[ -x "${PGBENCH}" ]] || fail "no pgbench in ${PG_BINDIR}"
DURATION="${CHURN_SECONDS:-40}"
EMB=all-minilm-l6-v2-int8
EMO=minilm-goemotions-head
U1=00000000-0000-4000-8000-000000000001
U2=00000000-0000-4000-8000-000000000002
infer() { sql "select coalesce(songmatch.stat('inferences:$1'), 0)::bigint"; }
# the model runs: what was asked of the model less what the inference service answered from
# another request's run (single flight)
runs() { sql "select (coalesce(songmatch.stat('inferences:$1'), 0) - coalesce(songmatch.stat('inferences_shared:$1'), 0))::bigint"; }
# every track's artifacts computed from its current document; every playlist's profile current
current_sql="select count(*) from songmatch.tracks t join songmatch.track_content tc on tc.track_id = t.id
  where exists (select 1 from songmatch.track_embeddings e where e.track_id = t.id and e.model_name = '${EMB}' and e.content_hash = tc.document_hash)
    and exists (select 1 from songmatch.track_emotions m where m.track_id = t.id and m.content_hash = tc.document_hash)
    and exists (select 1 from songmatch.track_genres g where g.track_id = t.id and g.content_hash = tc.document_hash)"

REFRESH=on setup_db 400 16
sql "insert into songmatch.liked_tracks (user_id, track_id) select '${U2}', g from generate_series(2, 400, 3) g" >/dev/null
# (the generated catalogue names its ids: new tracks take theirs after it)
sql "select setval(pg_get_serial_sequence('songmatch.tracks', 'id'), 1000)" >/dev/null
wait_for "400 tracks current" 90 "select (${current_sql}) = 400 and not exists (select 1 from songmatch.stale_items)"
# (every playlist matched once before the load: the match cache and profiles are warm)
sql "select count(*) from songmatch.playlists p, lateral songmatch.match_playlist(p.id, top_k => 5)" >/dev/null
wait_for "no stale item" 30 "select not exists (select 1 from songmatch.stale_items)"

# --- popularity only: no inference, no artifact marked stale ----------------------------------------
sql "select songmatch.stats_reset()" >/dev/null
sql "update songmatch.tracks set popularity = (popularity + 7) % 101 where id between 1 and 200" >/dev/null
check_sql "artifact stale marks after 200 popularity changes" "0" \
    "select count(*) from songmatch.stale_items where kind <> 'profile'"
check_sql "their document hashes unchanged" "200" \
    "select count(*) from songmatch.track_content tc join songmatch.track_embeddings e on e.track_id = tc.track_id
      where tc.track_id between 1 and 200 and e.content_hash = tc.document_hash"
check_sql "a match after them" "5" "select count(*) from songmatch.match_playlist(1, top_k => 5)"
wait_for "profiles current again" 30 "select not exists (select 1 from songmatch.stale_items)"
check "embeddings computed for popularity changes" "0" "$(infer "${EMB}")"
check "emotions computed for popularity changes" "0" "$(infer "${EMO}")"

# --- the load ------------------------------------------------------------------------------------------
sql "create table public.churn_docs (track_id bigint not null, at timestamptz not null default clock_timestamp());
     create sequence public.churn_rewrite;
     create table public.churn_pop (n bigint not null)" >/dev/null
sql "select songmatch.stats_reset()" >/dev/null
cat >"${WORK}/match.sql" <<'SQL'
\set p random(1, 16)
\set k random(1, 20)
select count(*) from songmatch.match_playlist(:p, top_k => :k);
SQL
cat >"${WORK}/match_owner.sql" <<SQL
\set p random(1, 8)
\set k random(1, 10)
select count(*) from songmatch.match_playlist('${U1}'::uuid, :p * 2, top_k => :k);
SQL
cat >"${WORK}/songs.sql" <<SQL
\set k random(1, 3)
select count(*) from songmatch.match_songs_to_playlists('${U2}'::uuid, top_k => :k);
SQL
cat >"${WORK}/recommend.sql" <<'SQL'
\set p random(1, 16)
select count(*) from songmatch.recommend_for_playlist(:p, top_k => 10);
SQL
cat >"${WORK}/popularity.sql" <<'SQL'
\set t random(1, 400)
update songmatch.tracks set popularity = (popularity + 1) % 101 where id = :t;
SQL
# (each rewrite a new document of a track not rewritten before: 1, 2, 3, ...)
cat >"${WORK}/rewrite.sql" <<'SQL'
with n as (select nextval('public.churn_rewrite') as v),
     u as (update songmatch.track_analyses a
              set analysis = jsonb_set(a.analysis, '{summary}', to_jsonb('Rewritten under load in ' || current_database() || ', number ' || n.v))
             from n where a.track_id = n.v and n.v <= 400 returning a.track_id)
insert into public.churn_docs (track_id) select track_id from u;
SQL
cat >"${WORK}/insert.sql" <<SQL
begin;
with t as (insert into songmatch.tracks (name, artist, album, release_date, popularity)
           values ('Churn Song ' || clock_timestamp(), 'Churn Artist', 'Churn Album', '2024', 50) returning id),
     a as (insert into songmatch.track_analyses (track_id, analysis)
           select id, jsonb_build_object('summary', 'A new song of ' || current_database() || ', ' || id, 'moods', jsonb_build_array('calm'),
                                         'genres', jsonb_build_object('primary', 'folk')) from t returning track_id),
     l as (insert into songmatch.liked_tracks (user_id, track_id) select '${U1}', track_id from a returning track_id)
insert into public.churn_docs (track_id) select track_id from l;
end;
SQL
# members and likes: one script of the four a transaction
cat >"${WORK}/member_add.sql" <<'SQL'
\set p random(1, 16)
\set t random(1, 400)
insert into songmatch.playlist_tracks (playlist_id, track_id) values (:p, :t) on conflict do nothing;
SQL
cat >"${WORK}/member_del.sql" <<'SQL'
\set p random(1, 16)
delete from songmatch.playlist_tracks where ctid = (select ctid from songmatch.playlist_tracks where playlist_id = :p order by random() limit 1)
   and (select count(*) from songmatch.playlist_tracks where playlist_id = :p) > 5;
SQL
cat >"${WORK}/like_add.sql" <<SQL
\set t random(1, 400)
insert into songmatch.liked_tracks (user_id, track_id) values ('${U2}', :t) on conflict do nothing;
SQL
cat >"${WORK}/like_del.sql" <<SQL
\set t random(1, 400)
delete from songmatch.liked_tracks where user_id = '${U2}' and track_id = :t;
SQL

bench() {  # name clients rate(tx/s, 0: as fast as it goes) scripts...
    local name=$1 clients=$2 rate=$3
    shift 3
    local args=()
    local s
    for s in "$@"; do args+=(-f "${WORK}/${s}"); done
    ((rate == 0)) || args+=(-R "${rate}")
    "${PGBENCH}" "$(dsn) application_name=churn_${name}" -n -c "${clients}" -j 1 -T "${DURATION}" "${args[@]}" \
        >"${WORK}/${name}.log" 2>&1 &
    BG_PIDS+=($!)
}
bench match 6 0 match.sql@4 match_owner.sql@2 songs.sql@1 recommend.sql@1
bench match2 6 0 match.sql@4 match_owner.sql@2 songs.sql@1 recommend.sql@1
bench popularity 2 30 popularity.sql
bench rewrite 1 2 rewrite.sql
bench insert 1 1 insert.sql
bench members 1 4 member_add.sql member_del.sql like_add.sql like_del.sql
# a CALL backfill('stale') in a loop beside the refresher
(
    end=$((SECONDS + DURATION))
    while ((SECONDS < end)); do
        "${PSQL}" "$(dsn) application_name=churn_backfill" -X -q -v ON_ERROR_STOP=1 \
            -c "set client_min_messages = warning" -c "call songmatch.backfill('stale', batch_size => 16)" \
            >>"${WORK}/backfill.log" 2>&1 || echo "backfill failed (status $?)" >>"${WORK}/backfill.log"
        sleep 1
    done
) &
BG_PIDS+=($!)
for p in "${BG_PIDS[@]}"; do wait "${p}" || true; done
BG_PIDS=()

# --- what the load did -------------------------------------------------------------------------------------
errors=0
for name in match match2 popularity rewrite insert members; do
    log="${WORK}/${name}.log"
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "${log}")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "${log}")
    lat=$(sed -n 's/^latency average = \(.*\)$/\1/p' "${log}")
    [[ -n "${tx}" ]] || { sed 's/^/    /' "${log}" | tail -20; fail "pgbench ${name} did not finish"; }
    if grep -qiE 'error|deadlock|aborted' "${log}" || [[ "${failed:-0}" != "0" ]]; then
        grep -iE 'error|deadlock|aborted|failed' "${log}" | head -5 | sed 's/^/    /'
        errors=$((errors + 1))
    fi
    say "${name}: ${tx} transactions, ${failed:-0} failed, latency average ${lat}"
done
if grep -q 'failed\|ERROR' "${WORK}/backfill.log" 2>/dev/null; then
    head -5 "${WORK}/backfill.log" | sed 's/^/    /'
    errors=$((errors + 1))
fi
check "sessions with errors" "0" "${errors}"
pop_rows=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "${WORK}/popularity.log")
check "popularity updates at >= 20 rows/s" "t" "$(sql "select ${pop_rows} >= 20 * ${DURATION}")"
check_sql "deadlocks in this database" "0" "select deadlocks from pg_stat_database where datname = current_database()"

# --- afterwards: everything current, each changed document embedded once ----------------------------------
# (on a timeout: the refresher's view, its failures, what is still marked, the tracks not current)
not_current_sql="select t.id, tc.document_hash is not null as has_content,
       (select string_agg((e.content_hash = tc.document_hash)::text, ',') from songmatch.track_embeddings e where e.track_id = t.id and e.model_name = '${EMB}') as emb_current,
       (select string_agg((m.content_hash = tc.document_hash)::text, ',') from songmatch.track_emotions m where m.track_id = t.id) as emo_current,
       (select string_agg((g.content_hash = tc.document_hash)::text, ',') from songmatch.track_genres g where g.track_id = t.id) as gen_current,
       (select string_agg(s.kind || '@' || s.marked_at, ',') from songmatch.stale_items s where s.item_id = t.id and s.kind <> 'profile') as marks
  from songmatch.tracks t left join songmatch.track_content tc on tc.track_id = t.id
 where t.id not in (select tt.id from (${current_sql/count(\*)/t.id}) tt) limit 10"
diagnosis="select * from songmatch.pipeline_status;
select kind, item_id, attempts, parked, left(last_error, 200) as last_error from songmatch.refresh_failures limit 10;
select kind, item_id, reason, marked_at from songmatch.stale_items order by marked_at limit 10;
${not_current_sql};
select pid, backend_type, application_name, state, wait_event_type, wait_event, left(query, 80) as query
  from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
wait_for "every artifact current" 120 \
    "select (${current_sql}) = (select count(*) from songmatch.tracks) and not exists (select 1 from songmatch.stale_items)" \
    "${diagnosis}"
check_sql "every playlist's profile current (a profile read recomputes nothing)" "0" \
    "select count(*) filter (where (songmatch.playlist_profile(p.id) ->> 'recomputed')::boolean) from songmatch.playlists p"
DOCS=$(sql "select count(distinct track_id) from public.churn_docs")
check_sql "every changed document of another track" "${DOCS}" "select count(*) from public.churn_docs"
check_sql "changed documents (rewritten analyses and new tracks)" "t" "select ${DOCS} >= 60"
check "document embeddings the model ran, one per changed document" "${DOCS}" "$(runs "${EMB}")"
check "emotions the model ran, one per changed document" "${DOCS}" "$(runs "${EMO}")"
say "single flight: $(infer "${EMB}") embeddings asked for, $(sql "select coalesce(songmatch.stat('inferences_shared:${EMB}'), 0)::bigint") of them shared; $(sql "select coalesce(songmatch.stat('artifact_writes_deferred'), 0)::bigint") writes left to their leader, $(sql "select coalesce(songmatch.stat('single_flight_waits'), 0)::bigint") contexts awaited, $(sql "select coalesce(songmatch.stat('artifact_writes_outdated'), 0)::bigint") outdated writes refused"
check "duplicate embedding keys" "0" "$(embeddings_dups)"
pass
