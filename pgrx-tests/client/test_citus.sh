#!/usr/bin/env bash
# songmatch on Citus (README, "Scaling out"): a throw-away cluster on this machine (a coordinator
# and two workers, scripts/citus.sh, which builds Citus from ../shared/vendor/citus when it is not
# installed). The demo catalogue and two users are loaded and matched on one node first; then
# songmatch.distribute() makes the catalogue reference tables and the per-user tables distributed
# by user. On the cluster:
#   - match_playlist(user_id, playlist_id) and match_songs_to_playlists give the single-node results
#     (same ids, scores within 1e-6), computed on the worker that holds the user (delegated);
#   - a repeat is served from the match cache with 0 inferences on the worker;
#   - row-level security: user B sees nothing of A, and cannot match A's playlists;
#   - writes keep working: a new member moves A's counter, and the next call is computed again;
#   - a third worker is added and the shards rebalanced: the results do not change.
# Skipped (exit 77) only when Citus is neither installed nor buildable here.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# (the version of this build: every node runs it)
CURRENT=$(sed -n 's/^version = "\(.*\)"$/\1/p' "${REPO_ROOT}/Cargo.toml" | head -1)

CITUS="${REPO_ROOT}/scripts/citus.sh"
bash "${CITUS}" available || skip "Citus is not installed and ../shared/vendor/citus is absent"
CLUSTER="$(mktemp -d /tmp/songmatch_citus.XXXXXX)"  # (the servers run as the postgres OS user)
chmod 0755 "${CLUSTER}"
# (the cluster goes with the test, whatever happens)
stop_cluster() { [[ "${KEEP_CLUSTER:-0}" == 1 ]] && { echo "  (kept the cluster in ${CLUSTER})"; return; }; bash "${CITUS}" stop "${CLUSTER}" >/dev/null 2>&1 || true; }
trap 'stop_cluster; cleanup' EXIT

bash "${CITUS}" start "${CLUSTER}" 2 >"${WORK}/start.log" 2>&1 || { cat "${WORK}/start.log"; fail "the cluster did not start"; }
port_of() { awk -v n="$1" '$1 == n {print $2}' "${CLUSTER}/ports"; }
COORD=$(port_of coordinator)
W1=$(port_of worker1)
W2=$(port_of worker2)
DB=songmatch_citus
DSN_BASE="host=127.0.0.1 port=${COORD} user=postgres"
on() { recorded "${PSQL}" "host=127.0.0.1 port=$1 user=postgres dbname=${DB}" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }
say "cluster: coordinator ${COORD}, workers ${W1} ${W2}"

for p in "${COORD}" "${W1}" "${W2}"; do
    "${PSQL}" "host=127.0.0.1 port=${p} user=postgres dbname=postgres" -X -q -v ON_ERROR_STOP=1 \
        -c "create database ${DB}" -c "alter database ${DB} set songmatch.auto_refresh = off" >/dev/null
    on "${p}" "create extension citus" >/dev/null
done
sql "select citus_set_coordinator_host('127.0.0.1', ${COORD})" >/dev/null
sql "select citus_add_node('127.0.0.1', ${W1})" >/dev/null
sql "select citus_add_node('127.0.0.1', ${W2})" >/dev/null
sql "set client_min_messages = warning; create extension songmatch cascade" >/dev/null
# (Citus reaches the other nodes as the current role: songmatch's own writes and SECURITY DEFINER
# functions run as songmatch_owner, which must be able to log in there; README, "Scaling out")
sql "alter role songmatch_owner login" >/dev/null
check "songmatch on every node" "${CURRENT} ${CURRENT} ${CURRENT}" \
    "$(for p in "${COORD}" "${W1}" "${W2}"; do on "${p}" "select extversion from pg_extension where extname = 'songmatch'"; done | tr '\n' ' ' | sed 's/ $//')"

# ---- one node: the demo catalogue (user A), a second user B, their matches
A=00000000-0000-4000-8000-000000000001
B=00000000-0000-4000-8000-0000000000b2
"${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -f "${REPO_ROOT}/sql/demo/catalogue.sql" >/dev/null
sql "select songmatch.register_bundle('default', true)" >/dev/null
sql "insert into songmatch.playlists (external_id, owner_id, name, description)
     values ('b:p1', '${B}', 'Quiet Focus', 'Calm instrumental music for reading and thinking'),
            ('b:p2', '${B}', 'Dance Floor', 'Loud, fast and bright: club hits for the weekend')" >/dev/null
sql "insert into songmatch.playlist_tracks (playlist_id, track_id)
     select p.id, t.id from songmatch.playlists p, songmatch.tracks t
      where (p.external_id = 'b:p1' and t.external_id in ('demo:t001', 'demo:t002', 'demo:t030', 'demo:t031'))
         or (p.external_id = 'b:p2' and t.external_id in ('demo:t023', 'demo:t024', 'demo:t059', 'demo:t060'))" >/dev/null
sql "insert into songmatch.liked_tracks (user_id, track_id) select '${B}', id from songmatch.tracks where id % 4 = 1" >/dev/null
# (the catalogue's artifacts are computed once, on the coordinator, before the users' calls)
sql "select count(*) from songmatch.embed_tracks(array(select id from songmatch.tracks))" >/dev/null

# every playlist's matches (as its user's call) and every user's songs-to-playlists, one call each
# (as the app makes them; on the cluster, each call is routed to its user's worker)
PLAYLISTS=$(sql "select owner_id || ':' || id from songmatch.playlists order by id")
results() {
    local x
    {
    for x in ${PLAYLISTS}; do
        echo "${x#*:}=$(sql "select string_agg(m.track_id || ':' || m.score, ',' order by m.rank)
                             from songmatch.match_playlist('${x%%:*}', ${x#*:}, top_k => 5) m")"
    done
    for x in "${A}" "${B}"; do
        echo "${x}=$(sql "select string_agg(s.track_id || '>' || s.playlist_id || ':' || s.score, ',' order by s.track_id, s.rank)
                          from songmatch.match_songs_to_playlists('${x}', top_k => 2) s")"
    done
    } | tr '\n' ' ' | sed 's/ $//'
}
SINGLE=$(results)
check_sql "the old API gives the same rows on one node" "t" \
    "select bool_and((select string_agg(m.track_id || ':' || m.score, ',' order by m.rank) from songmatch.match_playlist(p.id, top_k => 5) m)
                     = (select string_agg(m.track_id || ':' || m.score, ',' order by m.rank) from songmatch.match_playlist(p.owner_id, p.id, top_k => 5) m))
       from songmatch.playlists p"
[[ $(wc -w <<<"${SINGLE}") -eq 12 ]] || fail "expected 10 playlists and 2 users of results, got: ${SINGLE:0:300}"
# (the cluster computes its own: the match cache and profiles are emptied)
sql "truncate songmatch.match_results, songmatch.match_contexts, songmatch.playlist_profiles" >/dev/null

# ---- the API role and row-level security, as on one node
sql "do \$\$ begin
        if not exists (select 1 from pg_roles where rolname = 'sm_api') then create role sm_api login; end if;
     end \$\$" >/dev/null
sql "select songmatch.grant_access('sm_api'), songmatch.enable_row_level_security()" >/dev/null

# ---- distribute
check_sql "distribute() reports" "true 8" \
    "select (d ->> 'distributed') || ' ' || (d ->> 'shard_count') from songmatch.distribute(shard_count => 8) d"
check "a second distribute() does nothing" "false" "$(sql "select songmatch.distribute() ->> 'distributed'")"
check_sql "the catalogue is reference tables, the users' tables distributed by user (co-located)" "9 8 1" \
    "select count(*) filter (where partmethod = 'n') || ' ' || count(*) filter (where partmethod = 'h') || ' '
            || count(distinct colocationid) filter (where partmethod = 'h')
       from pg_dist_partition where logicalrelid::text like 'songmatch.%'"
check_sql "the rows are where they were" "106 10 2" \
    "select (select count(*) from songmatch.tracks) || ' ' || (select count(*) from songmatch.playlists) || ' '
            || (select count(distinct user_id) from songmatch.liked_tracks)"
check_sql "user A's rows live on one worker" "1" \
    "select count(distinct nodeport) from pg_dist_shard s join pg_dist_shard_placement p using (shardid)
      where s.logicalrelid = 'songmatch.playlists'::regclass
        and get_shard_id_for_distribution_column('songmatch.playlists', '${A}'::uuid) = s.shardid"

# ---- the same results, computed on the workers
stats_reset() { for p in "${COORD}" "${W1}" "${W2}"; do on "${p}" "select songmatch.stats_reset()" >/dev/null; done; }
stat_all() { local n=0 v; for p in "${COORD}" "${W1}" "${W2}"; do v=$(on "${p}" "select coalesce(sum(value), 0)::bigint from songmatch.stats where name like '$1'"); n=$((n + v)); done; echo "${n}"; }
stats_reset
CLUSTER1=$(results)
[[ "${CLUSTER1}" == "${SINGLE}" ]] || fail "the cluster's results differ from one node's: $(diff <(tr ' ' '\n' <<<"${SINGLE}") <(tr ' ' '\n' <<<"${CLUSTER1}") | head -6)"
say "ok   the cluster's results equal one node's ($(wc -w <<<"${SINGLE}") result sets)"
check "the coordinator computed nothing of them" "0" "$(on "${COORD}" "select coalesce(sum(value), 0)::bigint from songmatch.stats where name in ('context_misses', 'context_hits')")"
check "the workers computed them (misses)" "t" "$( (( $(stat_all context_misses) > 0 )) && echo t || echo f)"
stats_reset
check "a repeat: the same rows" "${SINGLE}" "$(results)"
check "a repeat: 0 inferences, 0 misses on every node" "0 0" "$(stat_all 'inferences:%') $(stat_all context_misses)"
check "a repeat: served by stamp on the workers" "t" "$( (( $(stat_all context_stamp_hits) >= 12 )) && echo t || echo f)"

# ---- row-level security through delegation, as PostgREST calls: its transaction, the claims by
# set_config(..., true), then its db-pre-request function songmatch.citus_pre_request(), which
# carries them to the workers
as_user_try() {  # as_user_try UUID SQL (a failure is the caller's to judge); as_user: recorded (lib.sh)
    "${PSQL}" "host=127.0.0.1 port=${COORD} user=sm_api dbname=${DB}" -X -q -At -v ON_ERROR_STOP=1 \
        -c "begin" -c "select set_config('request.jwt.claims', '{\"sub\": \"$1\"}', true) is null" \
        -c "select songmatch.citus_pre_request()" -c "$2" -c "commit" | tail -n +3
}
as_user() { recorded as_user_try "$@"; }
A_P1=$(sql "select id from songmatch.playlists where external_id = 'demo:p1'")
B_P1=$(sql "select id from songmatch.playlists where external_id = 'b:p1'")
check "without the pre-request function, B's delegated call sees no user" "0" \
    "$("${PSQL}" "host=127.0.0.1 port=${COORD} user=sm_api dbname=${DB}" -X -q -At -v ON_ERROR_STOP=1 -c "begin" \
        -c "select set_config('request.jwt.claims', '{\"sub\": \"${B}\"}', true) is null" \
        -c "select count(*) from songmatch.match_songs_to_playlists('${B}')" -c "commit" | tail -n +2)"
check "B sees B's playlists only" "2" "$(as_user "${B}" "select count(*) from songmatch.playlists")"
check "B sees none of A's likes, members or cache" "0 0 0" \
    "$(as_user "${B}" "select (select count(*) from songmatch.liked_tracks where user_id = '${A}') || ' ' || (select count(*) from songmatch.playlist_tracks where owner_id = '${A}') || ' ' || (select count(*) from songmatch.match_results where user_id = '${A}')")"
check "B matches B's playlist on the cluster" "$(sql "select string_agg(track_id || ':' || score, ',' order by rank) from songmatch.match_playlist('${B}', ${B_P1}, top_k => 5)")" \
    "$(as_user "${B}" "select string_agg(track_id || ':' || score, ',' order by rank) from songmatch.match_playlist('${B}', ${B_P1}, top_k => 5)")"
ERR=$(as_user_try "${B}" "select count(*) from songmatch.match_playlist('${A}', ${A_P1})" 2>&1 || true)
[[ "${ERR}" == *"playlist ${A_P1} does not exist"* ]] || fail "B matching A's playlist: ${ERR}"
say "ok   B matching A's playlist: does not exist"
ERR=$(sql_try "select count(*) from songmatch.match_playlist(${A_P1})" 2>&1 || true)
[[ "${ERR}" == *"is not routed on a distributed deployment: call match_playlist(user_id, playlist_id, ...)"* ]] \
    || fail "match_playlist(playlist_id) on the cluster: ${ERR}"
say "ok   match_playlist(playlist_id) on the cluster: refused, naming match_playlist(user_id, playlist_id)"
check "B's songs-to-playlists for A: nothing" "0" "$(as_user "${B}" "select count(*) from songmatch.match_songs_to_playlists('${A}')")"

# ---- writes on the cluster: a member added (with its owner) moves A's counter; the next call is computed again
GEN0=$(sql "select coalesce(max(gen), 0) from songmatch.user_generations where user_id = '${A}'")
T99=$(sql "select id from songmatch.tracks where external_id = 'demo:t099'")
sql "insert into songmatch.playlist_tracks (playlist_id, track_id, owner_id) values (${A_P1}, ${T99}, '${A}')" >/dev/null
check "A's generation moved" "t" "$(sql "select gen > coalesce(${GEN0:-0}, 0) from songmatch.user_generations where user_id = '${A}'")"
sql "update songmatch.tracks set popularity = coalesce(popularity, 0) + 1 where external_id = 'demo:t050'" >/dev/null
T50=$(sql "select id from songmatch.tracks where external_id = 'demo:t050'")
check_sql "a track's edit: every node's copy of its content hash is the new one" "3 true" \
    "select count(*) || ' ' || bool_and(r.success and r.result = songmatch.track_content_hash(${T50}))
       from run_command_on_all_nodes('select content_hash from songmatch.track_content where track_id = ${T50}') r"
stats_reset
sql "select count(*) from songmatch.match_playlist('${A}', ${A_P1}, top_k => 5)" >/dev/null
check "the next call of A's playlist is computed again" "1" "$(stat_all context_misses)"
sql "delete from songmatch.playlist_tracks where owner_id = '${A}' and playlist_id = ${A_P1} and track_id = ${T99}" >/dev/null
sql "update songmatch.tracks set popularity = popularity - 1 where id = ${T50}" >/dev/null
check "back as before: the single-node results again" "${SINGLE}" "$(results)"

# ---- the catalogue's artifacts are computed once, on the coordinator: a new track is marked
# stale there only, and CALL backfill('stale') on the coordinator embeds it once for every node
sql "insert into songmatch.tracks (external_id, name, artist, album) values ('c:new', 'Northern Lights', 'Aurora Trio', 'Polar')" >/dev/null
sql "insert into songmatch.track_analyses (track_id, analysis)
     select id, '{\"summary\": \"A slow piano piece for snowy nights\", \"moods\": [\"calm\"]}' from songmatch.tracks where external_id = 'c:new'" >/dev/null
TNEW=$(sql "select id from songmatch.tracks where external_id = 'c:new'")
check "the new track is stale on the coordinator only" "3 0 0" \
    "$(for p in "${COORD}" "${W1}" "${W2}"; do on "${p}" "select count(*) from songmatch.stale_items where item_id = ${TNEW} and kind <> 'profile'"; done | tr '\n' ' ' | sed 's/ $//')"
stats_reset
"${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -c "call songmatch.backfill('stale')" >/dev/null 2>"${WORK}/backfill.log" \
    || { cat "${WORK}/backfill.log"; fail "backfill('stale') on the coordinator failed"; }
check_sql "its embedding is on every node" "3 true" \
    "select count(*) || ' ' || bool_and(r.success and r.result = '1')
       from run_command_on_all_nodes('select count(*) from songmatch.track_embeddings where track_id = ${TNEW}') r"
check "embedded once, by the coordinator" "1 0" \
    "$(on "${COORD}" "select coalesce(sum(value), 0)::bigint from songmatch.stats where name like 'inferences:all-minilm%'") $(( $(stat_all 'inferences:all-minilm%') - $(on "${COORD}" "select coalesce(sum(value), 0)::bigint from songmatch.stats where name like 'inferences:all-minilm%'") ))"
sql "delete from songmatch.tracks where id = ${TNEW}" >/dev/null

# ---- a third worker, the shards rebalanced: the same results, from the cache
W3=$(bash "${CITUS}" add "${CLUSTER}" 2>>"${WORK}/start.log")
"${PSQL}" "host=127.0.0.1 port=${W3} user=postgres dbname=postgres" -X -q -v ON_ERROR_STOP=1 \
    -c "create database ${DB}" -c "alter database ${DB} set songmatch.auto_refresh = off" >/dev/null
on "${W3}" "create extension citus" >/dev/null
sql "select citus_add_node('127.0.0.1', ${W3})" >/dev/null
sql "select rebalance_table_shards(shard_transfer_mode => 'block_writes')" >/dev/null
check_sql "distribute() again gives the new worker songmatch's grants" "t" "select (songmatch.distribute() ->> 'privileges_synced')::int > 0"
check_sql "the new worker holds shards" "t" \
    "select count(*) > 0 from pg_dist_shard_placement where nodeport = ${W3} and shardid in (select shardid from pg_dist_shard where logicalrelid = 'songmatch.playlists'::regclass)"
check "songmatch on the new worker" "${CURRENT}" "$(on "${W3}" "select extversion from pg_extension where extname = 'songmatch'")"
stats_reset; on "${W3}" "select songmatch.stats_reset()" >/dev/null
check "after rebalancing: the same results" "${SINGLE}" "$(results)"
check "after rebalancing: 0 inferences" "0" "$(( $(stat_all 'inferences:%') + $(on "${W3}" "select coalesce(sum(value), 0)::bigint from songmatch.stats where name like 'inferences:%'") ))"

pass
