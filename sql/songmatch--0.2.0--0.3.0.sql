-- songmatch 0.2.0 -> 0.3.0: matching at catalogue scale, and discovery.
--
-- * track_content gains `signals`: a track's compact stage-1 signals (audio, genres, artists,
--   album, year, popularity), written by the trigger that keeps its content hash, so that a
--   ranking reads bytes instead of parsing every candidate's row and analysis. Filled here.
-- * match_playlist becomes SQL over songmatch.match_context (the context's id; computed on a
--   miss): the cached path returns the stored rows without converting them. Its signature,
--   defaults and results are unchanged; so are the match contexts (same hashes), which keep
--   answering.
-- * recommend_for_playlist / recommend_context: candidates from the whole catalogue through the
--   bundle's HNSW index and the members' artists and albums (new btree indexes on tracks).
-- * track_signals(jsonb, jsonb).
-- * An event trigger refuses a DROP that would delete a non-empty catalogue (songmatch.allow_drop).
-- Roles that may execute match_playlist get the new API functions.

-- discovery (recommend_for_playlist) reads the tracks of the members' artists and albums
create index tracks_artist_idx on songmatch.tracks (artist);
create index tracks_album_idx on songmatch.tracks (album);

alter table songmatch.track_content add column signals bytea;
comment on table songmatch.track_content is
    'The current te_v1_ content hash and compact stage-1 signals of every track (maintained by triggers on tracks and track_analyses).';

CREATE FUNCTION songmatch."track_signals"(
	"track" jsonb,
	"analysis" jsonb
) RETURNS bytea
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'track_signals_wrapper';

create or replace function songmatch.refresh_track_content() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    tid bigint;
begin
    -- (separate branches: a record has only its own table's fields)
    if tg_table_name = 'tracks' then
        tid := new.id;
    elsif tg_op = 'DELETE' then
        tid := old.track_id;
    else
        tid := new.track_id;
    end if;
    insert into songmatch.track_content as tc (track_id, content_hash, signals)
    select s.id, songmatch.content_hash('track_content', jsonb_build_object('track', s.track, 'analysis', s.analysis)),
           songmatch.track_signals(s.track, s.analysis)
      from (select t.id, to_jsonb(t) - array['id', 'created_at', 'updated_at'] as track, a.analysis
              from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id
             where t.id = tid) s
    on conflict (track_id) do update set content_hash = excluded.content_hash, signals = excluded.signals, updated_at = now()
     where tc.content_hash <> excluded.content_hash or tc.signals is distinct from excluded.signals;
    return null;
end
$$;

update songmatch.track_content tc
   set signals = songmatch.track_signals(to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis)
  from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id
 where t.id = tc.track_id;

CREATE FUNCTION songmatch."match_context"(
	"playlist_id" bigint,
	"candidate_track_ids" bigint[] DEFAULT NULL,
	"top_k" INT DEFAULT 20,
	"config" jsonb DEFAULT NULL
) RETURNS bigint
VOLATILE
LANGUAGE c
AS 'MODULE_PATHNAME', 'match_context_wrapper';

CREATE FUNCTION songmatch."recommend_context"(
	"playlist_id" bigint,
	"top_k" INT DEFAULT 20,
	"config" jsonb DEFAULT NULL,
	"exclude_liked" bool DEFAULT false
) RETURNS bigint
VOLATILE
LANGUAGE c
AS 'MODULE_PATHNAME', 'recommend_context_wrapper';

-- (the same signature: its grants stay)
create or replace function songmatch.match_playlist(
    playlist_id bigint,
    candidate_track_ids bigint[] default null,
    top_k integer default 20,
    config jsonb default null)
returns table (track_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctx bigint := songmatch.match_context(playlist_id, candidate_track_ids, top_k, config);
begin
    return query
        select r.track_id, r.score, r.rank, r.components
          from songmatch.match_results r
         where r.context_id = ctx and r.playlist_id = match_playlist.playlist_id
         order by r.rank;
end
$$;
comment on function songmatch.match_playlist(bigint, bigint[], integer, jsonb) is
    'The best candidate tracks for a playlist (default: the owner''s liked tracks not in it), best first, with every signal in components; served from the match cache when the inputs are unchanged.';

create function songmatch.recommend_for_playlist(
    playlist_id bigint,
    top_k integer default 20,
    config jsonb default null,
    exclude_liked boolean default false)
returns table (track_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctx bigint := songmatch.recommend_context(playlist_id, top_k, config, exclude_liked);
begin
    return query
        select r.track_id, r.score, r.rank, r.components
          from songmatch.match_results r
         where r.context_id = ctx and r.playlist_id = recommend_for_playlist.playlist_id
         order by r.rank;
end
$$;
comment on function songmatch.recommend_for_playlist(bigint, integer, jsonb, boolean) is
    'Tracks of the whole catalogue that fit a playlist: nearest neighbours of its profile and members through the bundle''s vector index, ranked by stage 1 and stage 2 like match_playlist, cached the same way.';

create or replace function songmatch.grant_access(role_name name) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    pure      text[] := array['versions', 'content_hash', 'id_set_hash', 'canonical_json', 'track_document',
                              'playlist_query', 'current_user_id'];
    api       text[] := array['embed', 'embed_halfvec', 'embed_batch', 'emotions', 'emotions_batch', 'rerank',
                              'tokenize', 'models', 'bundle_info', 'track_content_hash', 'embed_tracks',
                              'classify_tracks', 'playlist_profile', 'match_playlist', 'match_songs_to_playlists',
                              'match_context', 'recommend_for_playlist', 'recommend_context', 'track_signals'];
    readable  text[] := array['tracks', 'track_analyses', 'track_content', 'track_embeddings', 'track_emotions',
                              'track_genres', 'model_bundles', 'active_config', 'playlists', 'playlist_tracks',
                              'playlist_analyses', 'playlist_profiles', 'liked_tracks', 'match_contexts',
                              'match_results'];
    f         regprocedure;
    t         text;
begin
    perform songmatch.check_grantee(role_name);
    execute format('revoke all on all tables in schema songmatch from %I', role_name);
    execute format('revoke all on all sequences in schema songmatch from %I', role_name);
    execute format('revoke all on all routines in schema songmatch from %I', role_name);
    execute format('grant usage on schema songmatch to %I', role_name);
    for f in
        select p.oid::regprocedure from pg_proc p
         where p.pronamespace = 'songmatch'::regnamespace
           and p.proname = any (case when role_name = 'anon' then pure else pure || api end)
    loop
        execute format('grant execute on function %s to %I', f, role_name);
    end loop;
    if role_name = 'anon' then
        return;
    end if;
    foreach t in array readable loop
        execute format('grant select on songmatch.%I to %I', t, role_name);
    end loop;
end
$$;

-------------------------------------------------------------------------------------------------
-- DROP EXTENSION songmatch drops its tables, and the app's catalogue (tracks, playlists, likes,
-- analyses) lives in them. So that nobody loses it by surprise, an event trigger refuses a
-- DROP EXTENSION / DROP SCHEMA / DROP OWNED that names songmatch or cascades while the catalogue
-- has rows, unless the session has set songmatch.allow_drop = on (README, "Upgrades").
-------------------------------------------------------------------------------------------------
create function songmatch.guard_catalogue_drop() returns event_trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if pg_catalog.current_setting('songmatch.allow_drop', true) = 'on' then
        return;
    end if;
    -- (the targets of a DROP are not known before it runs: the statement names songmatch, or
    -- cascades and may reach it through pgvector or its schema)
    if pg_catalog.current_query() !~* '(\msongmatch\M|\mcascade\M)' then
        return;
    end if;
    if not exists (select 1 from songmatch.tracks) and not exists (select 1 from songmatch.playlists)
       and not exists (select 1 from songmatch.liked_tracks) then
        return;
    end if;
    raise exception '% would delete songmatch''s catalogue: its tables (tracks, playlists, likes, analyses, artifacts, match cache) belong to the extension', tg_tag
        using errcode = '55000',
              hint = 'Keep a copy first (pg_dump), then SET songmatch.allow_drop = on in this session and run it again.';
end
$$;
comment on function songmatch.guard_catalogue_drop() is
    'Event trigger: refuses a DROP that would delete a non-empty songmatch catalogue unless songmatch.allow_drop is on.';
create event trigger songmatch_guard_catalogue_drop on ddl_command_start
    when tag in ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
    execute function songmatch.guard_catalogue_drop();

-- search_path and ownership of the new functions (as in finalize.sql)
do $$
declare
    vschema text;
    f       regprocedure;
begin
    select n.nspname into strict vschema
      from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    foreach f in array array['songmatch.match_playlist(bigint, bigint[], integer, jsonb)',
                             'songmatch.recommend_for_playlist(bigint, integer, jsonb, boolean)']::regprocedure[] loop
        execute format('alter function %s set search_path = pg_catalog, songmatch, %I, pg_temp', f, vschema);
    end loop;
    foreach f in array array['songmatch.match_context(bigint, bigint[], integer, jsonb)',
                             'songmatch.recommend_context(bigint, integer, jsonb, boolean)']::regprocedure[] loop
        execute format('alter function %s set search_path = pg_catalog, pg_temp', f);
    end loop;
    foreach f in array array['songmatch.match_playlist(bigint, bigint[], integer, jsonb)',
                             'songmatch.recommend_for_playlist(bigint, integer, jsonb, boolean)',
                             'songmatch.match_context(bigint, bigint[], integer, jsonb)',
                             'songmatch.recommend_context(bigint, integer, jsonb, boolean)',
                             'songmatch.track_signals(jsonb, jsonb)',
                             'songmatch.refresh_track_content()',
                             'songmatch.guard_catalogue_drop()',
                             'songmatch.grant_access(name)']::regprocedure[] loop
        execute format('alter function %s owner to songmatch_owner', f);
    end loop;
end
$$;
revoke execute on function songmatch.recommend_for_playlist(bigint, integer, jsonb, boolean),
    songmatch.match_context(bigint, bigint[], integer, jsonb),
    songmatch.recommend_context(bigint, integer, jsonb, boolean),
    songmatch.track_signals(jsonb, jsonb), songmatch.guard_catalogue_drop() from public;

-- the roles that may execute match_playlist (API and management roles) get the new API
do $$
declare
    r name;
begin
    for r in
        select a.rolname from pg_catalog.pg_roles a
         where a.rolname <> 'songmatch_owner' and not a.rolsuper
           and has_function_privilege(a.oid, 'songmatch.match_playlist(bigint, bigint[], integer, jsonb)', 'EXECUTE')
    loop
        execute format('grant execute on function songmatch.recommend_for_playlist(bigint, integer, jsonb, boolean),
            songmatch.match_context(bigint, bigint[], integer, jsonb),
            songmatch.recommend_context(bigint, integer, jsonb, boolean),
            songmatch.track_signals(jsonb, jsonb) to %I', r);
    end loop;
end
$$;
