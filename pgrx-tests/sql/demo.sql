-- the project's demo catalogue loads and has the documented shape
\set VERBOSITY terse
\set ECHO none
\set QUIET on
\i ../sql/demo/catalogue.sql
\set QUIET off
\set ECHO all
select (select count(*) from songmatch.tracks) as tracks,
       (select count(*) from songmatch.playlists) as playlists,
       (select count(*) from songmatch.playlist_tracks) as memberships,
       (select count(*) from songmatch.liked_tracks) as liked,
       (select count(*) from songmatch.track_analyses) as analyses;
select p.name, count(*) from songmatch.playlists p join songmatch.playlist_tracks pt on pt.playlist_id = p.id
 group by p.name order by p.name;
-- every analysis yields a canonical document, and all hashes are distinct
select count(distinct songmatch.content_hash('track_content',
           jsonb_build_object('track', to_jsonb(t) - array['id', 'created_at', 'updated_at'], 'analysis', a.analysis))) as distinct_hashes,
       count(*) filter (where songmatch.track_document(to_jsonb(t), a.analysis) like t.name || ' by ' || t.artist || E'\n%') as documents
  from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id;
