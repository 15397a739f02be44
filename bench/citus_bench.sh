#!/usr/bin/env bash
# make bench-citus: what running songmatch on Citus costs, on this machine's throw-away cluster
# (scripts/citus.sh; every node on the same 2 cores, so the figures are about overhead, not
# speed-up). One run:
#   - one node: the coordinator before songmatch.distribute() (tables local), then the cluster;
#   - per call: a cached match_playlist(user_id, playlist_id) and match_songs_to_playlists(user_id),
#     p50 latency by pgbench, one client; on one node vs delegated to the user's worker;
#   - throughput: cached match_songs_to_playlists of random users, 4 clients, on one node, and
#     distributed over 1 worker and over 2 (a fresh cluster each);
#   - a miss: a call whose cache was emptied (computed on the worker on the cluster).
# Users are synthetic (N_USERS users, 3 playlists of 8 demo tracks each, 20 likes), over the demo
# catalogue; the catalogue's embeddings are computed once, before any call.
# The last line is one JSON object.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CITUS="${ROOT}/scripts/citus.sh"
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
N_USERS="${N_USERS:-200}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
DB=songmatch_citus_bench

bash "${CITUS}" available || { echo "SKIP: Citus is not installed and ../shared/vendor/citus is absent" >&2; exit 0; }
WORK="$(mktemp -d)"
DIR=""
trap '[[ -z "${DIR}" ]] || bash "${CITUS}" stop "${DIR}" >/dev/null 2>&1 || true; rm -rf "${WORK}"' EXIT
log() { printf '==> %s\n' "$*" >&2; }
q() { "${PG_BINDIR}/psql" "host=127.0.0.1 port=${2:-${COORD}} user=postgres dbname=${DB}" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
U1=00000000-0000-4000-9000-000000000001

# cluster N: a fresh coordinator and N workers with the demo catalogue and the synthetic users,
# the catalogue's embeddings computed (tables still local: one node)
cluster() {
    DIR="$(mktemp -d /tmp/songmatch_citus_bench.XXXXXX)"; chmod 0755 "${DIR}"
    bash "${CITUS}" start "${DIR}" "$1" >"${WORK}/start.log" 2>&1 || { cat "${WORK}/start.log" >&2; exit 1; }
    COORD=$(awk '$1 == "coordinator" {print $2}' "${DIR}/ports")
    local p
    for p in $(awk '{print $2}' "${DIR}/ports"); do
        "${PG_BINDIR}/psql" "host=127.0.0.1 port=${p} user=postgres dbname=postgres" -X -q -v ON_ERROR_STOP=1 \
            -c "create database ${DB}" -c "alter database ${DB} set songmatch.auto_refresh = off" >/dev/null
        q "create extension citus" "${p}" >/dev/null
    done
    q "select citus_set_coordinator_host('127.0.0.1', ${COORD})" >/dev/null
    for p in $(awk '$1 ~ /^worker/ {print $2}' "${DIR}/ports"); do q "select citus_add_node('127.0.0.1', ${p})" >/dev/null; done
    q "set client_min_messages = warning; create extension songmatch cascade" >/dev/null
    q "alter role songmatch_owner login" >/dev/null
    "${PG_BINDIR}/psql" "host=127.0.0.1 port=${COORD} user=postgres dbname=${DB}" -X -q -v ON_ERROR_STOP=1 -f "${ROOT}/sql/demo/catalogue.sql" >/dev/null
    q "select songmatch.register_bundle('default', true)" >/dev/null
    q "insert into songmatch.playlists (external_id, owner_id, name, description)
       select 'u' || u || ':' || k, ('00000000-0000-4000-9000-' || lpad(u::text, 12, '0'))::uuid,
              (array['Rainy Day', 'Gym Power', 'Late Night', 'Road Trip', 'Brunch Jazz', 'Heartbreak'])[1 + (u + k) % 6] || ' ' || k,
              'A playlist of user ' || u
         from generate_series(1, ${N_USERS}) u, generate_series(1, 3) k" >/dev/null
    q "insert into songmatch.playlist_tracks (playlist_id, track_id, owner_id)
       select p.id, t.id, p.owner_id from songmatch.playlists p
         join lateral (select id from songmatch.tracks order by md5(p.id || ':' || id) limit 8) t on true
        where p.external_id like 'u%'" >/dev/null
    q "insert into songmatch.liked_tracks (user_id, track_id)
       select u.owner_id, t.id from (select distinct owner_id from songmatch.playlists where external_id like 'u%') u
         join lateral (select id from songmatch.tracks order by md5(u.owner_id || ':' || id) limit 20) t on true" >/dev/null
    q "select count(*) from songmatch.embed_tracks(array(select id from songmatch.tracks))" >/dev/null
    P1=$(q "select id from songmatch.playlists where owner_id = '${U1}' order by id limit 1")
    cat >"${WORK}/one_playlist.sql" <<SQL
select count(*) from songmatch.match_playlist('${U1}', ${P1}, top_k => 10);
SQL
}
stop_cluster() { bash "${CITUS}" stop "${DIR}" >/dev/null 2>&1 || true; DIR=""; }

cat >"${WORK}/one_songs.sql" <<SQL
select count(*) from songmatch.match_songs_to_playlists('${U1}');
SQL
cat >"${WORK}/random_songs.sql" <<SQL
\set u random(1, ${N_USERS})
select count(*) from songmatch.match_songs_to_playlists(('00000000-0000-4000-9000-' || lpad(:u::text, 12, '0'))::uuid);
SQL
# bench FILE CLIENTS -> "tps p50_ms"
bench() {
    local out
    out=$("${PG_BINDIR}/pgbench" -h 127.0.0.1 -p "${COORD}" -U postgres -n -f "$1" -c "$2" -j "$2" -T "${SECONDS_PER_RUN}" \
        -l --log-prefix="${WORK}/lat" "${DB}" 2>&1) || { echo "${out}" >&2; exit 1; }
    local tps; tps=$(awk '/^tps = / {printf "%.1f", $3}' <<<"${out}")
    local p50; p50=$(cat "${WORK}"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR + 1) / 2)] / 1000}')
    rm -f "${WORK}"/lat.*
    echo "${tps} ${p50}"
}
timed() {  # timed SQL -> ms of the statement, at the client
    "${PG_BINDIR}/psql" "host=127.0.0.1 port=${COORD} user=postgres dbname=${DB}" -X -q -At -v ON_ERROR_STOP=1 \
        -c '\timing on' -c "$1" | awk '/^Time: / {printf "%.1f", $2}'
}
warm_each() {  # every user's songs-to-playlists once, one call per user (each routed to its user's node)
    local u
    for ((u = 1; u <= N_USERS; u++)); do
        printf "select count(*) from songmatch.match_songs_to_playlists('00000000-0000-4000-9000-%012d');\n" "${u}"
    done | "${PG_BINDIR}/psql" "host=127.0.0.1 port=${COORD} user=postgres dbname=${DB}" -X -q -At -v ON_ERROR_STOP=1 >/dev/null
}
empty_cache() { q "truncate songmatch.match_results, songmatch.match_contexts, songmatch.playlist_profiles" >/dev/null; }

log "one node, then distributed over 1 worker (${N_USERS} synthetic users over the demo catalogue)"
cluster 1
# (a miss of another user first: the model is loaded where the call runs)
q "select count(*) from songmatch.match_songs_to_playlists('00000000-0000-4000-9000-000000000002')" >/dev/null
SINGLE_MISS_MS=$(timed "select count(*) from songmatch.match_songs_to_playlists('${U1}')")
warm_each
read -r _ SINGLE_PLAYLIST_MS < <(bench "${WORK}/one_playlist.sql" 1)
read -r _ SINGLE_SONGS_MS < <(bench "${WORK}/one_songs.sql" 1)
read -r SINGLE_TPS _ < <(bench "${WORK}/random_songs.sql" 4)
empty_cache
q "select songmatch.distribute(shard_count => 32)" >/dev/null
q "select count(*) from songmatch.match_songs_to_playlists('00000000-0000-4000-9000-000000000002')" >/dev/null
CLUSTER_MISS_MS=$(timed "select count(*) from songmatch.match_songs_to_playlists('${U1}')")
warm_each
read -r _ CLUSTER_PLAYLIST_MS < <(bench "${WORK}/one_playlist.sql" 1)
read -r _ CLUSTER_SONGS_MS < <(bench "${WORK}/one_songs.sql" 1)
read -r W1_TPS _ < <(bench "${WORK}/random_songs.sql" 4)
stop_cluster

log "distributed over 2 workers"
cluster 2
q "select songmatch.distribute(shard_count => 32)" >/dev/null
warm_each
read -r _ W2_SONGS_MS < <(bench "${WORK}/one_songs.sql" 1)
read -r W2_TPS _ < <(bench "${WORK}/random_songs.sql" 4)
stop_cluster

printf '\n%-62s %10s %10s %10s\n' "measure" "one node" "1 worker" "2 workers"
printf '%-62s %10s %10s %10s\n' "cached match_playlist(user, playlist), p50 ms" "${SINGLE_PLAYLIST_MS}" "${CLUSTER_PLAYLIST_MS}" ""
printf '%-62s %10s %10s %10s\n' "cached match_songs_to_playlists(user) (3 playlists), p50 ms" "${SINGLE_SONGS_MS}" "${CLUSTER_SONGS_MS}" "${W2_SONGS_MS}"
printf '%-62s %10s %10s %10s\n' "miss: match_songs_to_playlists(user), ms" "${SINGLE_MISS_MS}" "${CLUSTER_MISS_MS}" ""
printf '%-62s %10s %10s %10s\n' "cached songs-to-playlists of random users, 4 clients, calls/s" "${SINGLE_TPS}" "${W1_TPS}" "${W2_TPS}"
printf '(every node shares the same 2 cores: the cluster figures show the cost of routing, not a speed-up)\n\n'
printf '{"users": %s, "single_playlist_ms": %s, "citus_playlist_ms": %s, "single_songs_ms": %s, "citus_songs_ms": %s, "citus_2_workers_songs_ms": %s, "single_miss_ms": %s, "citus_miss_ms": %s, "single_tps": %s, "citus_1_worker_tps": %s, "citus_2_workers_tps": %s}\n' \
    "${N_USERS}" "${SINGLE_PLAYLIST_MS}" "${CLUSTER_PLAYLIST_MS}" "${SINGLE_SONGS_MS}" "${CLUSTER_SONGS_MS}" "${W2_SONGS_MS}" \
    "${SINGLE_MISS_MS}" "${CLUSTER_MISS_MS}" "${SINGLE_TPS}" "${W1_TPS}" "${W2_TPS}"
