-- What `make demo` prints: a tour of what songmatch can do so far.
\pset footer off
\echo
\echo '== songmatch versions'
select key, value from jsonb_each_text(songmatch.versions()) order by key;
\echo
\echo '== the demo catalogue: one user, 8 playlists'
select p.name as playlist, count(pt.track_id) as tracks, p.description
  from songmatch.playlists p left join songmatch.playlist_tracks pt on pt.playlist_id = p.id
 group by p.id order by p.id;
select count(*) as liked_songs, count(*) filter (where not exists
         (select 1 from songmatch.playlist_tracks pt where pt.track_id = l.track_id)) as liked_in_no_playlist
  from songmatch.liked_tracks l;
\echo
\echo '== a track is a document (songmatch.track_document)'
select songmatch.track_document(to_jsonb(t), a.analysis) as document
  from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id
 where t.external_id = 'demo:t011';
\echo
\echo '== a playlist is a query (songmatch.playlist_query)'
select songmatch.playlist_query(to_jsonb(p), a.analysis) as query
  from songmatch.playlists p join songmatch.playlist_analyses a on a.playlist_id = p.id
 where p.external_id = 'demo:p1';
\echo
\echo '== content hashes: stable under key order, changed by any edit'
select t.name,
       songmatch.content_hash('track_content', jsonb_build_object('track', to_jsonb(t) - array['id','created_at','updated_at'],
                                                                  'analysis', a.analysis)) as content_hash
  from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id
 order by t.external_id limit 3;
select songmatch.id_set_hash('candidate_set', array_agg(track_id)) as liked_set_hash
  from songmatch.liked_tracks;
\echo
\echo '== embeddings in the backend: every track of the catalogue, batched, persisted by content hash'
select songmatch.stats_reset();
\timing on
select status, count(*) from songmatch.embed_tracks(array(select id from songmatch.tracks)) group by status order by status;
\timing off
\echo
\echo '== match_playlist: the best liked songs for "Rainy Day Acoustic", with every signal'
\timing on
select t.name, t.artist, m.score, m.rank,
       (m.components -> 'members' ->> 'value')::numeric(5,3) as members,
       (m.components -> 'audio' ->> 'value')::numeric(5,3) as audio,
       (m.components -> 'genre' ->> 'value')::numeric(5,3) as genre,
       (m.components -> 'query' ->> 'value')::numeric(5,3) as query,
       (m.components -> 'artist' ->> 'value')::numeric(5,3) as artist,
       (m.components -> 'year' ->> 'value')::numeric(5,3) as year,
       (m.components ->> 'stage1')::numeric(5,3) as stage1,
       (m.components -> 'ranker' ->> 'squashed')::numeric(5,3) as ranker
  from songmatch.match_playlist((select id from songmatch.playlists where external_id = 'demo:p1'), top_k => 5) m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
\timing off
select jsonb_pretty(m.components) as "components of the best match"
  from songmatch.match_playlist((select id from songmatch.playlists where external_id = 'demo:p1'), top_k => 5) m
 where m.rank = 1;
\echo
\echo '== match_songs_to_playlists: the best playlist for each liked song that is in none yet'
\timing on
select t.name as song, p.name as best_playlist, m.score
  from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001',
         track_ids => array(select l.track_id from songmatch.liked_tracks l
                             where not exists (select 1 from songmatch.playlist_tracks pt where pt.track_id = l.track_id)),
         top_k => 1) m
  join songmatch.tracks t on t.id = m.track_id join songmatch.playlists p on p.id = m.playlist_id
 order by p.name, m.score desc;
\timing off
select name, value from songmatch.stats order by name;
\echo
\echo '== the same call again: served from the match cache, 0 inferences'
select songmatch.stats_reset();
\timing on
select count(*) as songs_matched
  from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001',
         track_ids => array(select l.track_id from songmatch.liked_tracks l
                             where not exists (select 1 from songmatch.playlist_tracks pt where pt.track_id = l.track_id)),
         top_k => 1);
\timing off
select coalesce(sum(value) filter (where name like 'inferences:%'), 0) as inferences,
       coalesce(sum(value) filter (where name = 'context_hits'), 0) as cache_hits,
       coalesce(sum(value) filter (where name = 'context_misses'), 0) as cache_misses
  from songmatch.stats;
