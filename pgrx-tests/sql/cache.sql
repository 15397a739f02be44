-- the match cache's fast path (runs after matching): a repeated call is found by its stamp; every
-- change of what a call reads moves a generation counter, so the next call is not served by the
-- old stamp, and answers exactly as a cache emptied of everything would
\set VERBOSITY terse
create temp view c as
  select coalesce(max(value) filter (where name = 'context_stamp_hits'), 0) as stamp_hits,
         coalesce(max(value) filter (where name = 'context_hits'), 0) as hits,
         coalesce(max(value) filter (where name = 'context_misses'), 0) as misses
    from songmatch.stats;
create temp table p1 as select id from songmatch.playlists where external_id = 'demo:p1';
create temp table cand as select array_agg(id order by id desc) as ids from songmatch.tracks
 where external_id in ('demo:t023', 'demo:t103', 'demo:t104', 'demo:t013', 'demo:t050', 'demo:t060');
-- the results of a call as one text, and the same from a cache emptied of this playlist's contexts
create function pg_temp.liked() returns text language sql as $$
  select string_agg(track_id || ':' || score, ' ' order by rank) from songmatch.match_playlist((select id from p1), top_k => 5) $$;
create function pg_temp.given() returns text language sql as $$
  select string_agg(track_id || ':' || score, ' ' order by rank)
    from songmatch.match_playlist((select id from p1), candidate_track_ids => (select ids from cand), top_k => 4) $$;
create function pg_temp.fresh(f text) returns text language plpgsql as $$
declare r text;
begin
  delete from songmatch.match_contexts where id in (select context_id from songmatch.match_results where playlist_id = (select id from p1));
  execute format('select pg_temp.%I()', f) into r;
  return r;
end $$;
select songmatch.stats_reset();
-- twice each: the second call is served by its stamp
select pg_temp.liked() is not null as liked, pg_temp.given() is not null as given;
select pg_temp.liked() = pg_temp.liked() as same, pg_temp.given() = pg_temp.given() as same_given;
select * from c;
-- a touch that changes nothing the content hash covers (updated_at) moves no counter
update songmatch.tracks set updated_at = now() where external_id = 'demo:t013';
update songmatch.track_analyses set analysis = analysis where track_id = (select id from songmatch.tracks where external_id = 'demo:t013');
select songmatch.stats_reset();
select pg_temp.liked() is not null, pg_temp.given() is not null;
select * from c;
-- each change below: the next call is not served by a stamp, and answers as a fresh computation
-- (in a transaction that is rolled back: the later tests see the demo data as it was)
begin;
create temp table log (step text, stamp_hits float8, equal_liked boolean, equal_given boolean);
create function pg_temp.step(name text) returns void language plpgsql as $$
declare l text; g text; s float8;
begin
  perform songmatch.stats_reset();
  l := pg_temp.liked(); g := pg_temp.given();
  s := (select stamp_hits from c);
  insert into log values (name, s, l = pg_temp.fresh('liked'), g = pg_temp.fresh('given'));
  perform pg_temp.liked(); perform pg_temp.given();   -- stamped again
end $$;
select pg_temp.step('baseline');
update songmatch.tracks set popularity = popularity + 7 where external_id = 'demo:t103';
select pg_temp.step('a candidate''s row');
update songmatch.track_analyses set analysis = analysis || '{"moods": ["brassy"]}'
 where track_id = (select id from songmatch.tracks where external_id = 'demo:t050');
select pg_temp.step('a candidate''s analysis');
update songmatch.tracks set release_date = '1999' where id = (select min(track_id) from songmatch.playlist_tracks where playlist_id = (select id from p1));
select pg_temp.step('a member''s row');
update songmatch.playlists set description = description || ' (rainy)' where id = (select id from p1);
select pg_temp.step('the playlist''s row');
update songmatch.playlist_analyses set analysis = analysis || '{"themes": ["umbrellas"]}' where playlist_id = (select id from p1);
select pg_temp.step('the playlist''s analysis');
insert into songmatch.playlist_tracks (playlist_id, track_id)
select (select id from p1), id from songmatch.tracks where external_id = 'demo:t104';
select pg_temp.step('a member added');
delete from songmatch.playlist_tracks where playlist_id = (select id from p1) and track_id = (select id from songmatch.tracks where external_id = 'demo:t104');
select pg_temp.step('a member removed');
insert into songmatch.liked_tracks (user_id, track_id)
select p.owner_id, t.id from songmatch.playlists p, songmatch.tracks t
 where p.id = (select id from p1) and t.external_id = 'demo:t103'
on conflict do nothing;
select pg_temp.step('a like');
select songmatch.activate('default', config => '{"weights": {"audio": 0.9}}', force => true) ->> 'changed' as changed;
select pg_temp.step('the active config');
select songmatch.activate('default', config => null, force => true) ->> 'changed' as changed;
select pg_temp.step('the active config back');
select step, stamp_hits, equal_liked, equal_given from log;
rollback;
-- the counters: one slot per writer, the same epoch in all 16
select count(*) as slots, count(distinct epoch) as epochs, sum(gen) > 0 as moved from songmatch.catalogue_generation;
-- a request limit holds for a repeat too: over max_candidates the call is refused, cached or not
select count(*) as rows from songmatch.match_playlist((select id from p1), top_k => 5);
set songmatch.max_candidates = 2;
do $$ begin perform songmatch.match_playlist((select id from p1), top_k => 5);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
reset songmatch.max_candidates;
-- a TRUNCATE of a per-user table cannot say whose inputs changed: every stamp is retired
select songmatch.stats_reset();
begin;
select sum(gen) as before from songmatch.catalogue_generation \gset
truncate songmatch.liked_tracks;
select sum(gen) > :before as moved from songmatch.catalogue_generation;
rollback;
