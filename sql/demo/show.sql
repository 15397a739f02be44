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
