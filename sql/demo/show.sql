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
\echo '== embeddings in the backend: every track document, one batched call, stored idempotently'
\timing on
with docs as (
    select t.id, songmatch.track_document(to_jsonb(t), a.analysis) as doc,
           songmatch.content_hash('track_content', jsonb_build_object('track', to_jsonb(t) - array['id','created_at','updated_at'],
                                                                      'analysis', a.analysis)) as h,
           row_number() over (order by t.id) as ord
      from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id
), e as (
    select ord, embedding from songmatch.embed_batch((select array_agg(doc order by ord) from docs))
), m as (
    select id, version from songmatch.models() where id = (songmatch.bundle_info('default') -> 'identity' -> 'embedding' ->> 'id')
)
select count(songmatch.upsert_track_embedding(d.id, 'document', m.id, m.version, d.h, e.embedding)) as tracks_embedded
  from docs d join e using (ord) cross join m;
\timing off
\echo
\echo '== liked songs closest to "Rainy Day Acoustic" (cosine to the centroid of its members; not yet match_playlist)'
with p as (select id from songmatch.playlists where external_id = 'demo:p1'),
     c as (select avg(e.embedding) as centroid
             from songmatch.playlist_tracks pt join p on p.id = pt.playlist_id
             join songmatch.track_embeddings e on e.track_id = pt.track_id)
select t.external_id, t.name, t.artist, round((1 - (e.embedding <=> c.centroid))::numeric, 3) as cosine
  from songmatch.liked_tracks l
  join songmatch.tracks t on t.id = l.track_id
  join songmatch.track_embeddings e on e.track_id = t.id, c
 where not exists (select 1 from songmatch.playlist_tracks pt, p where pt.playlist_id = p.id and pt.track_id = t.id)
 order by e.embedding <=> c.centroid limit 5;
\echo
\echo '== the best playlist for a few liked songs'
with centroids as (
    select pt.playlist_id, avg(e.embedding) as centroid
      from songmatch.playlist_tracks pt join songmatch.track_embeddings e on e.track_id = pt.track_id
     group by pt.playlist_id
)
select t.name as song, best.name as best_playlist, best.cosine
  from songmatch.tracks t
  cross join lateral (
      select p.name, round((1 - (e.embedding <=> c.centroid))::numeric, 3) as cosine
        from centroids c join songmatch.playlists p on p.id = c.playlist_id
        join songmatch.track_embeddings e on e.track_id = t.id
       order by e.embedding <=> c.centroid limit 1) best
 where t.external_id in ('demo:t013', 'demo:t024', 'demo:t036', 'demo:t060', 'demo:t084', 'demo:t095')
 order by t.external_id;
