-- Loads a Spotify-songs CSV (already copied, in file order, into public.eval_import_raw by
-- eval/run.sh) into songmatch's catalogue: one user owns every playlist and likes every track.
--
-- Only track-level columns become track data. playlist_genre / playlist_subgenre describe the
-- PLAYLIST (they are the label the evaluation tries to recover) and are not loaded anywhere:
-- not into track analyses (that would leak the playlist into its tracks) and not into the
-- playlist's analysis either. Track analyses carry the audio features only (no genres, no moods).
-- Ids follow the order of first appearance in the file, so a reload gives the same ids.
\set ON_ERROR_STOP 1
\set owner 00000000-0000-4000-8000-00000000e7a1

begin;

-- the string NA stands for a missing value in this data
create temp view raw as
select rn,
       nullif(track_id, '') as track_id,
       nullif(nullif(btrim(track_name), ''), 'NA') as track_name,
       nullif(nullif(btrim(track_artist), ''), 'NA') as track_artist,
       nullif(nullif(btrim(track_album_name), ''), 'NA') as track_album_name,
       case when track_album_release_date ~ '^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$' then track_album_release_date end as release_date,
       case when track_popularity ~ '^[0-9]+$' and track_popularity::int between 0 and 100 then track_popularity::int end as popularity,
       case when duration_ms ~ '^[0-9]+$' then duration_ms::int end as duration_ms,
       nullif(playlist_id, '') as playlist_id,
       coalesce(nullif(nullif(btrim(playlist_name), ''), 'NA'), playlist_id) as playlist_name,
       danceability, energy, key, loudness, mode, speechiness, acousticness, instrumentalness,
       liveness, valence, tempo
  from public.eval_import_raw
 where nullif(track_id, '') is not null and nullif(playlist_id, '') is not null;

create temp table first_tracks as
select distinct on (track_id) * from raw order by track_id, rn;

insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity, duration_ms)
select track_id, coalesce(track_name, '(unknown title)'), coalesce(track_artist, ''), track_album_name,
       release_date, popularity, duration_ms
  from first_tracks
 order by rn;

-- numbers only: a value that is not a number is left out of the analysis
create function pg_temp.num(x text) returns jsonb language sql immutable as $$
    select case when x ~ '^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$' then to_jsonb(x::numeric) end
$$;

insert into songmatch.track_analyses (track_id, analysis)
select t.id,
       jsonb_build_object('audio', jsonb_strip_nulls(jsonb_build_object(
           'danceability', pg_temp.num(f.danceability), 'energy', pg_temp.num(f.energy),
           'valence', pg_temp.num(f.valence), 'tempo', pg_temp.num(f.tempo),
           'acousticness', pg_temp.num(f.acousticness), 'instrumentalness', pg_temp.num(f.instrumentalness),
           'speechiness', pg_temp.num(f.speechiness), 'liveness', pg_temp.num(f.liveness),
           'loudness', pg_temp.num(f.loudness), 'key', pg_temp.num(f.key), 'mode', pg_temp.num(f.mode))))
  from first_tracks f join songmatch.tracks t on t.external_id = f.track_id
 order by t.id;

insert into songmatch.playlists (external_id, owner_id, name)
select playlist_id, :'owner'::uuid, playlist_name
  from (select distinct on (playlist_id) playlist_id, playlist_name, rn from raw order by playlist_id, rn) p
 order by rn;

-- (playlist, track) pairs are de-duplicated; position = order of first appearance
insert into songmatch.playlist_tracks (playlist_id, track_id, position)
select p.id, t.id, row_number() over (partition by p.id order by x.rn)
  from (select distinct on (playlist_id, track_id) playlist_id, track_id, rn from raw order by playlist_id, track_id, rn) x
  join songmatch.playlists p on p.external_id = x.playlist_id
  join songmatch.tracks t on t.external_id = x.track_id;

insert into songmatch.liked_tracks (user_id, track_id)
select :'owner'::uuid, id from songmatch.tracks order by id;

commit;

analyze songmatch.tracks, songmatch.track_analyses, songmatch.playlists, songmatch.playlist_tracks, songmatch.liked_tracks;

select json_build_object('rows', (select count(*) from public.eval_import_raw),
                         'tracks', (select count(*) from songmatch.tracks),
                         'playlists', (select count(*) from songmatch.playlists),
                         'playlist_tracks', (select count(*) from songmatch.playlist_tracks)) as loaded;
