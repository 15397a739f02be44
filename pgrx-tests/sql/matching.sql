-- match_playlist, the match cache, and what each input change recomputes (runs after demo, embed)
\set VERBOSITY terse
select songmatch.stats_reset();
create temp view counters as
  select coalesce(max(value) filter (where name = 'inferences:all-minilm-l6-v2-int8'), 0) as inferences,
         coalesce(max(value) filter (where name = 'embedding_misses'), 0) as embedding_misses,
         coalesce(max(value) filter (where name = 'profile_recomputes'), 0) as profile_recomputes,
         coalesce(max(value) filter (where name = 'context_hits'), 0) as context_hits,
         coalesce(max(value) filter (where name = 'context_misses'), 0) as context_misses
    from songmatch.stats;
create temp table p as select id, external_id from songmatch.playlists;
-- first call: liked songs not in "Rainy Day Acoustic"; track embeddings are already stored
-- (embed.sql), so only the playlist's own query text is embedded
select t.external_id, round(m.score::numeric, 3) as score, m.rank
  from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 5) m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
select * from counters;
-- the same call again: served from the cache, no inference
select count(*) from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 5);
select * from counters;
-- the contributions sum to stage1; the score is not stage1: the default bundle has a learned
-- ranker (components.stage2 names it), whose blend is checked below
select count(*) as rows,
       bool_and(abs((select sum((c.value ->> 'contribution')::float8) from jsonb_each(m.components) c
                      where jsonb_typeof(c.value) = 'object') - (m.components ->> 'stage1')::float8) < 1e-5) as contributions_sum,
       bool_and(m.score = (m.components ->> 'stage1')::float8) as score_is_stage1,
       min(m.components ->> 'stage2') as stage2
  from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 20) m;
select * from counters;
-- a playlist analysis change: new context, the profile is recomputed (1 query embedding), no track is re-embedded
update songmatch.playlist_analyses set analysis = analysis || '{"moods": ["calm", "rainy"]}'
 where playlist_id = (select id from p where external_id = 'demo:p1');
select count(*) from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 5);
select * from counters;
-- a liked track's analysis change: exactly that track is re-embedded
update songmatch.track_analyses set analysis = analysis || '{"summary": "Now with a brass section."}'
 where track_id = (select id from songmatch.tracks where external_id = 'demo:t013');
select count(*) from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 5);
select * from counters;
-- a config change: new context, nothing re-embedded
select t.external_id, m.rank
  from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 3,
                                config => '{"weights": {"audio": 1, "members": 0, "centroid": 0, "query": 0, "genre": 0}}') m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
select * from counters;
-- membership change: the profile is recomputed, its query embedding reused (the playlist's text is unchanged): no inference
insert into songmatch.playlist_tracks (playlist_id, track_id)
select (select id from p where external_id = 'demo:p1'), id from songmatch.tracks where external_id = 'demo:t011';
select t.external_id, m.rank
  from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 3) m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
select * from counters;
-- one context per distinct call above (each other top_k, config, input or content change made its
-- own; the repeats reused theirs): a count, not a check of determinism (that one follows)
select count(distinct context_hash) as contexts from songmatch.match_contexts;
-- the blend of stage 2 (README, "Stage 2, the learned ranker"), for every row, from its components:
-- score = (1 - beta)*stage1 + beta*sigma(ranker), beta = components.ranker.weight (ranker_weight),
-- sigma(ranker) from the raw components.ranker.score, which components.ranker.squashed equals; rows
-- below the ranker's window ("not ranked: ...") get (1 - beta)*stage1. To 1e-6: the components are
-- rounded to 6 decimals (an error of at most 0.5e-6 in stage1 and 0.125e-6 through sigma'). Over
-- demo:p1's default top 20 (all ranked) and a call ranking only the first 5 of its top 20.
create temp table cached as
  select track_id, score, rank, components
    from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 20);
select count(*) as rows,
       count(*) filter (where jsonb_typeof(r.components -> 'ranker') = 'object') as ranked,
       bool_and(case when jsonb_typeof(r.components -> 'ranker') = 'object' then
                  abs((r.components #>> '{ranker,squashed}')::float8
                      - 1 / (1 + exp(-(r.components #>> '{ranker,score}')::float8))) < 1e-6
                  and abs(r.score - ((1 - (r.components #>> '{ranker,weight}')::float8) * (r.components ->> 'stage1')::float8
                                     + (r.components #>> '{ranker,weight}')::float8
                                       * (1 / (1 + exp(-(r.components #>> '{ranker,score}')::float8))))) < 1e-6
                else r.components ->> 'ranker' like 'not ranked: %'
                  and abs(r.score - (1 - r.beta) * (r.components ->> 'stage1')::float8) < 1e-6 end) as blend_ok
  from (select c.score, c.components, 0.8::float8 as beta from cached c
        union all
        select m.score, m.components, 0.8::float8
          from songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 20,
                                        config => '{"ranker_top_n": 5, "ranker_weight": 0.8}') m) r;
-- results are deterministic: demo:p1's top 20 computed again (its context, and so its cached rows,
-- deleted first) are the same rows, scores and components
delete from songmatch.match_contexts
 where id = (select songmatch.match_context((select id from p where external_id = 'demo:p1'), top_k => 20));
select count(*) as rows,
       count(*) filter (where c.track_id = m.track_id and c.score = m.score and c.components = m.components) as identical
  from cached c
  full join songmatch.match_playlist((select id from p where external_id = 'demo:p1'), top_k => 20) m on m.rank = c.rank;
-- explicit candidates, including tracks that are not liked
select t.external_id, m.rank
  from songmatch.match_playlist((select id from p where external_id = 'demo:p2'),
                                candidate_track_ids => (select array_agg(id) from songmatch.tracks
                                                         where external_id in ('demo:t023', 'demo:t103', 'demo:t104', 'demo:t013'))) m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
-- edge cases: empty candidate list → no rows; non-existent ids, bad top_k, unknown playlist → errors
select count(*) as empty from songmatch.match_playlist((select id from p where external_id = 'demo:p2'), candidate_track_ids => '{}');
do $$ begin perform songmatch.match_playlist((select id from p where external_id = 'demo:p2'), candidate_track_ids => array[999999, 999998]);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.match_playlist((select id from p where external_id = 'demo:p2'), candidate_track_ids => array[1, null]);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.match_playlist((select id from p where external_id = 'demo:p2'), top_k => 0);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.match_playlist(-1);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.match_playlist((select id from p where external_id = 'demo:p2'), config => '{"weights": {"tempo": 1}}');
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
-- the same call naming the playlist's user (routable by it): the same rows, from the same context;
-- for another user the playlist does not exist (22023)
select (select array_agg(track_id || ':' || score order by rank)
          from songmatch.match_playlist('00000000-0000-4000-8000-000000000001', (select id from p where external_id = 'demo:p2'), top_k => 5))
     = (select array_agg(track_id || ':' || score order by rank)
          from songmatch.match_playlist((select id from p where external_id = 'demo:p2'), top_k => 5)) as same_rows,
       songmatch.match_context('00000000-0000-4000-8000-000000000001', (select id from p where external_id = 'demo:p2'), top_k => 5)
     = songmatch.match_context((select id from p where external_id = 'demo:p2'), top_k => 5) as same_context;
do $$ begin perform songmatch.match_playlist('00000000-0000-4000-8000-0000000000ff', (select id from songmatch.playlists where external_id = 'demo:p2'));
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.match_playlist(null::uuid, (select id from songmatch.playlists where external_id = 'demo:p2'));
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
-- a playlist without tracks is matched on its own query text
insert into songmatch.playlists (external_id, owner_id, name, description)
values ('demo:empty', '00000000-0000-4000-8000-000000000001', 'Workout Bangers', 'High energy tracks for the gym');
select t.external_id, m.rank, m.components ? 'members' as has_members, m.components ? 'query' as has_query
  from songmatch.match_playlist((select id from songmatch.playlists where external_id = 'demo:empty'), top_k => 3) m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
-- the app flow: the best playlist for each of a few liked songs
select t.external_id as song, p.external_id as playlist, m.rank
  from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001',
         track_ids => (select array_agg(id) from songmatch.tracks where external_id in ('demo:t024', 'demo:t036', 'demo:t060', 'demo:t095')),
         top_k => 1) m
  join songmatch.tracks t on t.id = m.track_id join songmatch.playlists p on p.id = m.playlist_id
 order by 1;
-- the content hashes kept by triggers equal the ones computed from the rows, for every track
select count(*) as tracks, count(*) filter (where tc.content_hash = songmatch.track_content_hash(t.id)) as equal
  from songmatch.tracks t left join songmatch.track_content tc on tc.track_id = t.id;
-- profiles are persisted once per playlist and bundle
select count(*) as profiles, count(distinct playlist_id) as playlists from songmatch.playlist_profiles;
select (songmatch.playlist_profile((select id from p where external_id = 'demo:p3')) ->> 'member_count')::int as members;
-- a call changes none of the caller's settings: the match's own (no JIT, generic plans, the
-- index's search parameters) are put back, within the caller's transaction too
begin;
set local jit = on;
set local plan_cache_mode = auto;
set local hnsw.ef_search = 17;
select count(*) as miss from songmatch.match_playlist((select id from p where external_id = 'demo:p3'), top_k => 2,
                                                      config => '{"weights": {"centroid": 0.0500007}}');
select count(*) as discovered from songmatch.recommend_for_playlist((select id from p where external_id = 'demo:p3'), top_k => 2,
                                                                    config => '{"weights": {"centroid": 0.0500007}}');
select current_setting('jit') as jit, current_setting('plan_cache_mode') as plan_cache_mode,
       current_setting('hnsw.ef_search') as ef_search;
commit;
