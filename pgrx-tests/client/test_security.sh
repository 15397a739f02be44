#!/usr/bin/env bash
# Security: the attack matrix of the Supabase contract. Real connections, `set local role` and
# request.jwt.claims exactly as PostgREST sets them, two users A and B:
#   - B (authenticated) writes no shared table (every songmatch table: INSERT, UPDATE, DELETE,
#     TRUNCATE -> 42501, the table unchanged) and calls no management function (42501);
#   - B reads nothing of A's (playlists, members, likes, profiles, contexts, results: 0 rows), and
#     matching A's playlist or user fails or returns nothing, writing no row;
#   - a `sub` that is not a uuid, no claims, and anon: nothing beyond the pure functions;
#   - objects B creates in public do not reach songmatch's privileged code (search_path pinned);
#   - request limits (54000) that an API role cannot raise, and statement_timeout inside a batch;
#   - A's matching works end to end through the same path (miss, then a hit with 0 inferences).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A=00000000-0000-4000-8000-000000000001 # owns the even playlists, likes every third track
B=00000000-0000-4000-8000-000000000002 # owns the odd playlists
claims() { printf '{"sub": "%s", "role": "authenticated"}' "$1"; }

setup_db 120 6
api_roles
sql "select songmatch.grant_access('anon'), songmatch.grant_access('authenticated'), songmatch.grant_management('service_role')" >/dev/null
sql "select songmatch.enable_row_level_security()" >/dev/null
sql "insert into songmatch.liked_tracks (user_id, track_id) select '${B}', g from generate_series(2, 120, 5) g" >/dev/null

# api ROLE CLAIMS 'statement': one PostgREST-like transaction; prints the statement's last output
# line, or "ERROR:  <sqlstate>" when it fails
api() {
    local set_claims=()
    [[ -z "$2" ]] || set_claims=(-c "set local request.jwt.claims = '$2'")
    "${PSQL}" "$(dsn)" -X -q -At -c "\\set VERBOSITY sqlstate" -c "begin" -c "set local role $1" \
        "${set_claims[@]}" -c "$3" -c "commit" 2>&1 | grep -v '^$' | tail -1
}
# api_msg: the same, with the error's message (terse: without the CONTEXT lines of the SQL
# wrappers, as PostgREST reports it)
api_msg() {
    "${PSQL}" "$(dsn)" -X -q -At -c "\\set VERBOSITY terse" -c "begin" -c "set local role $1" -c "set local request.jwt.claims = '$2'" \
        -c "$3" -c "commit" 2>&1 | grep -v '^$' | tail -1
}
as_a() { api authenticated "$(claims "${A}")" "$1"; }
as_b() { api authenticated "$(claims "${B}")" "$1"; }
denied() { check "$1" "ERROR:  42501" "$2"; }

# --- A matches end to end through the API path: a miss, then a hit with no inference ----------
sql "select songmatch.stats_reset()" >/dev/null
FIRST=$(as_a "select string_agg(track_id || ':' || rank, ',' order by rank) from songmatch.match_playlist(2, top_k => 5)")
[[ "${FIRST}" =~ ^[0-9]+:1,[0-9]+:2,[0-9]+:3,[0-9]+:4,[0-9]+:5$ ]] || fail "A's first match: ${FIRST}"
say "ok   A's match_playlist(2): ${FIRST}"
INF=$(inferences)
((INF > 0)) || fail "the miss ran no inference"
check "A's repeat is the same" "${FIRST}" \
    "$(as_a "select string_agg(track_id || ':' || rank, ',' order by rank) from songmatch.match_playlist(2, top_k => 5)")"
check "the repeat ran no inference" "${INF}" "$(inferences)"
check_sql "the repeat was a cache hit" "1" "select songmatch.stat('context_hits')::int"
check_sql "A's context belongs to A" "1 ${A}" "select count(*) || ' ' || min(user_id::text) from songmatch.match_contexts"
check "A sees their context" "1" "$(as_a "select count(*) from songmatch.match_contexts")"

# --- B writes no table of songmatch ----------------------------------------------------------
fingerprint() { sql "select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from songmatch.$1 x"; }
TABLES=$(sql "select string_agg(c.relname, ' ' order by c.relname) from pg_class c
               where c.relnamespace = 'songmatch'::regnamespace and c.relkind in ('r', 'p')")
NT=0
for t in ${TABLES}; do
    col=$(sql "select attname from pg_attribute where attrelid = 'songmatch.${t}'::regclass and attnum = 1")
    before=$(fingerprint "${t}")
    for stmt in "insert into songmatch.${t} default values" "update songmatch.${t} set ${col} = ${col}" \
                "delete from songmatch.${t}" "truncate songmatch.${t}"; do
        got=$(as_b "${stmt}")
        [[ "${got}" == "ERROR:  42501" ]] || fail "B: ${stmt}: expected ERROR:  42501, got '${got}'"
    done
    [[ "$(fingerprint "${t}")" == "${before}" ]] || fail "songmatch.${t} changed under B's attempts"
    NT=$((NT + 1))
done
say "ok   B: INSERT/UPDATE/DELETE/TRUNCATE on all ${NT} tables -> 42501, every table unchanged"
((NT >= 20)) || fail "only ${NT} tables found"
denied "B poisons shared embeddings" \
    "$(as_b "update songmatch.track_embeddings set embedding = embedding where track_id in (select track_id from songmatch.track_embeddings limit 5)")"
denied "B deactivates the bundle" "$(as_b "update songmatch.model_bundles set is_active = false")"
ACTIVE=$(sql "select bundle_hash from songmatch.model_bundles where is_active")

# --- B calls no management function ----------------------------------------------------------
for stmt in "select songmatch.activate('default')" \
            "select songmatch.activate('default', config => '{\"weights\": {\"audio\": 1}}', force => true)" \
            "select songmatch.register_bundle('default', true)" \
            "select songmatch.reload_models()" \
            "select songmatch.stats_reset()" \
            "select songmatch.enable_row_level_security()" \
            "select songmatch.disable_row_level_security()" \
            "select songmatch.grant_access('authenticated')" \
            "select songmatch.grant_management('authenticated')" \
            "select songmatch.create_embedding_index('x', 3)" \
            "select songmatch.mark_stale_tracks(array[1], 'x')" \
            "select songmatch.upsert_track_embedding(1, 'document', 'all-minilm-l6-v2-int8', '1', 'te_v1_' || repeat('0', 64), songmatch.embed('x'))" \
            "select count(*) from songmatch.score_tracks(array[1, 2], array[3, 4])" \
            "select songmatch.eval_active_bundle()" \
            "select songmatch.backfill_cancel(1)" \
            "call songmatch.backfill('embeddings')"; do
    denied "B: ${stmt:0:70}" "$(as_b "${stmt}")"
done
check_sql "the active bundle is unchanged" "${ACTIVE}" "select bundle_hash from songmatch.model_bundles where is_active"
check_sql "no active config was set" "0" "select count(*) from songmatch.active_config"

# --- B reads and matches nothing of A's, and writes nothing for it ---------------------------
rows_of_a() {
    sql "select (select count(*) from songmatch.match_contexts where user_id = '${A}') || ' '
             || (select count(*) from songmatch.match_results r join songmatch.playlists p on p.id = r.playlist_id where p.owner_id = '${A}') || ' '
             || (select count(*) from songmatch.playlist_profiles f join songmatch.playlists p on p.id = f.playlist_id where p.owner_id = '${A}')"
}
BEFORE=$(rows_of_a)
check "B sees A's playlists" "0" "$(as_b "select count(*) from songmatch.playlists where owner_id = '${A}'")"
check "B sees own playlists" "3" "$(as_b "select count(*) from songmatch.playlists")"
check "B sees A's members" "0" "$(as_b "select count(*) from songmatch.playlist_tracks where playlist_id in (2, 4, 6)")"
check "B sees A's playlist analyses" "0" "$(as_b "select count(*) from songmatch.playlist_analyses where playlist_id in (2, 4, 6)")"
check "B sees A's likes" "0" "$(as_b "select count(*) from songmatch.liked_tracks where user_id = '${A}'")"
check "B sees A's profiles" "0" "$(as_b "select count(*) from songmatch.playlist_profiles")"
check "B sees A's contexts" "0" "$(as_b "select count(*) from songmatch.match_contexts")"
check "B sees A's results" "0" "$(as_b "select count(*) from songmatch.match_results")"
check "B matches A's playlist" "ERROR:  22023" "$(as_b "select count(*) from songmatch.match_playlist(2)")"
check "B matches A's playlist with candidates" "ERROR:  22023" \
    "$(as_b "select count(*) from songmatch.match_playlist(4, candidate_track_ids => array[1, 2, 3])")"
check "B asks for A's profile" "ERROR:  22023" "$(as_b "select songmatch.playlist_profile(6)")"
check "B matches A's songs" "0" "$(as_b "select count(*) from songmatch.match_songs_to_playlists('${A}')")"
check "B matches songs to A's playlists" "0" \
    "$(as_b "select count(*) from songmatch.match_songs_to_playlists('${A}', track_ids => array[1, 2, 3])")"
check "rows for A's playlists after B's calls (contexts, results, profiles)" "${BEFORE}" "$(rows_of_a)"
# B's own playlist works, and its cache rows are B's
check "B matches own playlist" "3" "$(as_b "select count(*) from songmatch.match_playlist(1, top_k => 3)")"
check "B sees only own contexts" "1 ${B}" "$(as_b "select count(*) || ' ' || min(user_id::text) from songmatch.match_contexts")"
check "A still sees only own contexts" "1" "$(as_a "select count(*) from songmatch.match_contexts")"

# --- no identity, a bad identity, anon: the pure functions only ------------------------------
for who in "not-a-uuid:$(claims not-a-uuid)" "no sub:{\"role\": \"authenticated\"}" "no claims:"; do
    label=${who%%:*}
    c=${who#*:}
    check "${label}: playlists visible" "0" "$(api authenticated "${c}" "select count(*) from songmatch.playlists")"
    check "${label}: current_user_id" "" "$(api authenticated "${c}" "select songmatch.current_user_id()")"
    check "${label}: match_playlist" "ERROR:  22023" "$(api authenticated "${c}" "select count(*) from songmatch.match_playlist(1)")"
    check "${label}: match_songs_to_playlists" "0" "$(api authenticated "${c}" "select count(*) from songmatch.match_songs_to_playlists('${A}')")"
    denied "${label}: embed_tracks" "$(api authenticated "${c}" "select count(*) from songmatch.embed_tracks(array[100])")"
    denied "${label}: classify_tracks" "$(api authenticated "${c}" "select count(*) from songmatch.classify_tracks(array[100])")"
    check "${label}: a pure function" "te_v1_" "$(api authenticated "${c}" "select left(songmatch.content_hash('track_content', '{}'), 6)")"
done
check "anon: a pure function" "te_v1_" "$(api anon "$(claims "${A}")" "select left(songmatch.content_hash('track_content', '{}'), 6)")"
denied "anon: match_playlist" "$(api anon "$(claims "${A}")" "select count(*) from songmatch.match_playlist(2)")"
denied "anon: embed" "$(api anon "$(claims "${A}")" "select songmatch.embed('x') is not null")"
denied "anon: reads tracks" "$(api anon "$(claims "${A}")" "select count(*) from songmatch.tracks")"
denied "anon: reads playlists" "$(api anon "$(claims "${A}")" "select count(*) from songmatch.playlists")"
check "A's embed_tracks works" "2" "$(as_a "select count(*) filter (where status in ('computed', 'hit')) from songmatch.embed_tracks(array[100, 101])")"
check "service_role (management) sees every playlist" "6" "$(api service_role "" "select count(*) from songmatch.playlists")"

# --- objects in public do not reach songmatch's privileged code ------------------------------
sql "grant create on schema public to authenticated; create table public.pwned (who text, what text);
     grant insert, select on public.pwned to public" >/dev/null
SHADOW="create function public.now() returns timestamptz language plpgsql as \$f\$
            begin insert into public.pwned values (current_user, 'now'); return '2000-01-01'; end \$f\$;
        create function public.content_hash(text, jsonb) returns text language plpgsql as \$f\$
            begin insert into public.pwned values (current_user, 'content_hash'); return 'te_v1_' || repeat('0', 64); end \$f\$;
        create function public.to_jsonb(songmatch.tracks) returns jsonb language plpgsql as \$f\$
            begin insert into public.pwned values (current_user, 'to_jsonb'); return '{}'; end \$f\$;
        create function public.unnest(text[], float8[]) returns table (a text, b float8) language plpgsql as \$f\$
            begin insert into public.pwned values (current_user, 'unnest'); end \$f\$;
        create table public.track_embeddings (like songmatch.track_embeddings);
        create table public.stats_deltas (name text, delta float8, at timestamptz)"
check "B creates shadowing objects in public" "" "$(as_b "${SHADOW}")"
# a changed analysis: A's next match re-embeds track 21 (an UPDATE of its embedding row, whose
# touch trigger calls now()), stores a new profile, context and results, and records counters
sql "update songmatch.track_analyses set analysis = analysis || '{\"summary\": \"A changed song.\"}' where track_id = 21" >/dev/null
check "A matches after the change" "5" \
    "$(api authenticated "$(claims "${A}")" "set local search_path = public, songmatch; select count(*) from songmatch.match_playlist(2, top_k => 5)")"
check_sql "nothing called B's objects" "0" "select count(*) from public.pwned"
check_sql "nothing wrote B's tables" "0 0" "select (select count(*) from public.track_embeddings) || ' ' || (select count(*) from public.stats_deltas)"
check_sql "track 21's embedding is current and fresh" "true true" \
    "select (te.content_hash = tc.document_hash) || ' ' || (te.updated_at > now() - interval '1 hour')
       from songmatch.track_embeddings te join songmatch.track_content tc using (track_id) where te.track_id = 21"
sql "drop function public.now(), public.content_hash(text, jsonb), public.to_jsonb(songmatch.tracks), public.unnest(text[], float8[]);
     drop table public.pwned, public.track_embeddings, public.stats_deltas; revoke create on schema public from authenticated" >/dev/null

# --- request limits: 54000 with the limit in the message; an API role cannot raise them ------
lim() { api_msg authenticated "$(claims "${A}")" "$1"; }
check "top_k over the limit" "ERROR:  top_k = 1001 is more than songmatch.max_top_k = 1000" \
    "$(lim "select count(*) from songmatch.match_playlist(2, top_k => 1001)")"
check "candidates over the limit" "ERROR:  candidate_track_ids has 10001 candidate tracks, more than songmatch.max_candidates = 10000" \
    "$(lim "select count(*) from songmatch.match_playlist(2, candidate_track_ids => array(select generate_series(1, 10001)::bigint))")"
check "text over the limit" "ERROR:  text has 20001 characters, more than songmatch.max_text_length = 20000" \
    "$(lim "select songmatch.embed(repeat('x', 20001)) is null")"
check "batch over the limit" "ERROR:  texts has 1001 elements, more than songmatch.max_batch_size = 1000" \
    "$(lim "select count(*) from songmatch.embed_batch(array_fill('x'::text, array[1001]))")"
check "sqlstate of a limit" "ERROR:  54000" "$(as_a "select count(*) from songmatch.match_songs_to_playlists('${A}', top_k => 5000)")"
# (the library is loaded first: before that, SET only makes a placeholder, dropped with a warning
# when the library loads)
denied "an API role raises a limit" "$(as_a "select songmatch.versions() is null; set songmatch.max_candidates = 1000000")"
denied "an API role changes the model directory" "$(as_a "select songmatch.versions() is null; set songmatch.model_dir = '/tmp'")"
if [[ "$(sql "select current_setting('shared_preload_libraries') ~ 'songmatch'")" == "t" ]]; then
    # preloaded: the settings exist in every session from its start, so the SET itself is refused
    denied "an API role sets a limit before any songmatch call" "$(as_a "set songmatch.max_candidates = 1000000")"
else
    check "a placeholder set before loading is not applied" "10000" \
        "$(as_a "set songmatch.max_candidates = 1000000; select songmatch.versions() is null; select current_setting('songmatch.max_candidates')")"
fi

# --- statement_timeout stops inference within a batch ------------------------------------------
# (57014 rather than a count: the timeout struck before the batch of 1000 texts ended, an order
# of events that does not depend on the machine's speed; the time is printed, not bounded: speed
# is make bench's)
T0=$(date +%s%N)
check "statement_timeout inside embed_batch" "ERROR:  57014" \
    "$(as_a "set local statement_timeout = '0.3s'; select count(*) from songmatch.embed_batch(array(select 'timeout test song ' || g || repeat(' la', 60) from generate_series(1, 1000) g))")"
MS=$((($(date +%s%N) - T0) / 1000000))
say "cancelled after ${MS} ms (a timeout of 0.3 s + at most one batch; printed, not asserted)"
pass
