-- the feature store (runs after cache): a match reads it while the catalogue's counter is the one
-- it was taken at, and answers exactly as it does from the tables
\set VERBOSITY terse
create temp view s as
  select coalesce(max(value) filter (where name = 'feature_store_embeddings'), 0) as from_store,
         coalesce(max(value) filter (where name = 'screened_out'), 0) as screened_out
    from songmatch.stats;
create temp table p1 as select id from songmatch.playlists where external_id = 'demo:p1';
create temp table cand as select array_agg(id order by id) as ids from songmatch.tracks where external_id like 'demo:t%';
-- a cache miss (this playlist's contexts deleted first): every id, score and component of the
-- top 10 of all demo tracks, of the owner's liked tracks, and of the top 5 of all demo tracks with
-- stage 2's window narrowed to the ranker's 10 best (where the store is current, stage 1's screen
-- reads and ranks only the candidates that may be among them: the same rows)
create function pg_temp.miss() returns text language plpgsql as $$
declare r text;
begin
  delete from songmatch.match_contexts where id in (select context_id from songmatch.match_results where playlist_id = (select id from p1));
  select string_agg(track_id || ':' || score || ':' || components::text, ' ' order by rank) into r
    from songmatch.match_playlist((select id from p1), candidate_track_ids => (select ids from cand), top_k => 10);
  delete from songmatch.match_contexts where id in (select context_id from songmatch.match_results where playlist_id = (select id from p1));
  r := r || ' | ' || (select string_agg(track_id || ':' || score || ':' || components::text, ' ' order by rank)
                        from songmatch.match_playlist((select id from p1), top_k => 5));
  delete from songmatch.match_contexts where id in (select context_id from songmatch.match_results where playlist_id = (select id from p1));
  return r || ' | ' || (select string_agg(track_id || ':' || score || ':' || components::text, ' ' order by rank)
                          from songmatch.match_playlist((select id from p1), candidate_track_ids => (select ids from cand), top_k => 5,
                                                        config => '{"ranker_top_n": 10}'));
end $$;
create temp table r (step text, result text, from_store float8, screened_out float8);
create function pg_temp.step(name text) returns void language plpgsql as $$
declare m text;
begin
  perform songmatch.stats_reset();
  m := pg_temp.miss();
  insert into r select name, m, (select from_store from s), (select screened_out from s);
end $$;
-- from the tables
set songmatch.feature_store = off;
select pg_temp.step('tables');
reset songmatch.feature_store;
-- built; a second build finds it current
select (b ->> 'built')::boolean as built, (b ->> 'tracks')::int = 106 as tracks, (b ->> 'with_embedding')::int as with_embedding,
       b ->> 'model' as model, (b ->> 'dimensions')::int as dims, (b ->> 'megabytes')::float8 > 0 as sized
  from songmatch.build_feature_store() b;
select (b ->> 'built')::boolean as built_again from songmatch.build_feature_store() b;
select (s ->> 'on')::boolean as "on", (s ->> 'present')::boolean as present, (s ->> 'current')::boolean as current,
       (s ->> 'tracks')::int as tracks, (s ->> 'generation') = (s ->> 'catalogue_generation') as same_generation
  from songmatch.feature_store_status() s;
select pg_temp.step('store');
-- discovery over the current store (up to songmatch.discovery_scan_max tracks) screens every
-- track with stage 1 itself: its recommendations are match_playlist's over every track but the
-- members (the same ids and scores), the screen keeping only what stage 2's window can hold (here
-- the ranker's 10 best and one more); else it finds neighbours through the HNSW index, whose
-- search on this small catalogue reaches every track, so the recommendations are the same
create function pg_temp.rec() returns text language sql as $$
  select string_agg(track_id || ':' || score, ' ' order by rank) || ' | ' || min(components -> 'discovery' ->> 'index_type')
         || ' | ' || min(components -> 'discovery' ->> 'index') || ' | ' || coalesce(min(components -> 'discovery' ->> 'screened'), '-')
         || ' | ' || min(components -> 'discovery' ->> 'candidates')
    from songmatch.recommend_for_playlist((select id from p1), top_k => 5, config => '{"weights": {"centroid": 0.0500003}, "ranker_top_n": 10}') $$;
create temp table rec as select pg_temp.rec() as scanned;
set songmatch.discovery_scan_max = 0;
alter table rec add column indexed text;
update rec set indexed = pg_temp.rec();
reset songmatch.discovery_scan_max;
alter table rec add column exact text;
update rec set exact = (select string_agg(track_id || ':' || score, ' ' order by rank)
    from songmatch.match_playlist((select id from p1),
           candidate_track_ids => (select array_agg(t.id) from songmatch.tracks t
                                    where t.id not in (select track_id from songmatch.playlist_tracks where playlist_id = (select id from p1))),
           top_k => 5, config => '{"weights": {"centroid": 0.0500003}, "ranker_top_n": 10}'));
select split_part(scanned, ' | ', 1) = exact as screened_as_exact, split_part(scanned, ' | ', 1) = split_part(indexed, ' | ', 1) as same_recommendations,
       split_part(scanned, ' | ', 2) as scanned_by, split_part(scanned, ' | ', 3) as scanned_in,
       split_part(scanned, ' | ', 4)::int as screened, split_part(scanned, ' | ', 5)::int as kept, split_part(indexed, ' | ', 4) as indexed_screened,
       split_part(indexed, ' | ', 2) as indexed_by, split_part(indexed, ' | ', 3) like 'songmatch.track_embeddings_hnsw_%' as through_the_index,
       array_length(string_to_array(split_part(scanned, ' | ', 1), ' '), 1) as recommended
  from rec;
-- switched off in the session: the tables
set songmatch.feature_store = off;
select pg_temp.step('off');
reset songmatch.feature_store;
-- a change of the catalogue: the store is of another generation until it is built again, and a
-- miss reads from it only the vectors of the candidates whose content hash it holds (all but the
-- changed track: the best one, whose popularity and so score changes)
create temp table best as select split_part((select result from r where step = 'tables'), ':', 1)::bigint as id;
update songmatch.tracks set popularity = popularity + 40 where id = (select id from best);
select (s ->> 'current')::boolean as current_after_change from songmatch.feature_store_status() s;
select pg_temp.step('changed, stale store');
set songmatch.feature_store = off;
select pg_temp.step('changed, off');
reset songmatch.feature_store;
select (b ->> 'built')::boolean as rebuilt from songmatch.build_feature_store() b;
select pg_temp.step('changed, store');
update songmatch.tracks set popularity = popularity - 40 where id = (select id from best);
-- not in a transaction that has changed the catalogue (it may roll back; no store is of it)
begin;
update songmatch.tracks set popularity = popularity + 1 where external_id = 'demo:t050';
select songmatch.build_feature_store();
rollback;
-- a file that is not a complete store is not read (and a forced build replaces it)
select b ->> 'path' as store_path from songmatch.build_feature_store() b \gset
\setenv STORE_PATH :store_path
\! sh -c 'case "$STORE_PATH" in /*.smstore) printf "not a store" > "$STORE_PATH.new" && mv "$STORE_PATH.new" "$STORE_PATH";; esac'
select pg_temp.step('damaged');
select (b ->> 'built')::boolean as forced from songmatch.build_feature_store(force => true) b;
select pg_temp.step('again');
-- every step answers as the tables do; the store gave the vectors where it was current
select step, result = (select result from r where step = 'tables') as same_as_tables, from_store, screened_out from r order by ctid;
select (select result from r where step = 'changed, stale store') = (select result from r where step = 'changed, off') as changed_same,
       (select result from r where step = 'changed, store') = (select result from r where step = 'changed, off') as rebuilt_same,
       (select result from r where step = 'changed, stale store') <> (select result from r where step = 'tables') as change_counted;
-- management roles only
select has_function_privilege('authenticated', 'songmatch.build_feature_store(boolean)', 'execute') as api_may_build,
       has_function_privilege('service_role', 'songmatch.build_feature_store(boolean)', 'execute') as management_may_build;
