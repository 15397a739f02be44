-- songmatch 0.4.0 -> 0.5.0: the match cache's fast path.
--
-- * A repeated match_playlist call is recognised by a stamp of its arguments, the active bundle
--   and config, and two generation counters that triggers advance on every change of a user's
--   playlists, members, analyses or likes (songmatch.user_generations) and of any track's content
--   (songmatch.catalogue_generation): a cached call no longer reads and hashes its inputs.
--   sql/cache.sql, included below as it is; match_contexts gets the column fast_key.
-- * match_songs_to_playlists becomes SQL over the new songmatch.match_songs_contexts (each of
--   the user's playlists' context, found by the fast path or computed), and returns the stored
--   rows as they are (same signature, defaults, grants and results). Roles that could call it can
--   call match_songs_contexts; grant_access grants both.
-- * The new tables and functions belong to songmatch_owner and are executable by nobody else
--   (the triggers run them), as in a fresh install.

-- ------------------------------------------------------------------------------------------
-- sql/cache.sql of 0.5.0, as it is
-- ------------------------------------------------------------------------------------------
-- The match cache's fast path: generation counters kept by triggers.
--
-- A repeated match_playlist call is recognised by a stamp (songmatch_core::hash::match_stamp):
-- its arguments, the active bundle and config, the owner's generation and the catalogue's. The
-- counters move, in the same transaction, with every change that can change what a call
-- computes: a user's playlists, their members and analyses, and their likes (the user's counter);
-- the content of any track, i.e. its row or its analysis (the catalogue's counter). A stamp that
-- is found names the context that answers the call, without reading or hashing its inputs; one
-- that is not found falls back to the context's content hash, and the context is stamped again.
-- Counters are only ever advanced, and the epoch is new in every CREATE EXTENSION (these tables
-- are not dumped), so a stamp never matches inputs other than its own.

create table if not exists songmatch.user_generations (
    user_id  uuid primary key,
    gen      bigint not null default 0
);
comment on table songmatch.user_generations is
    'Per user: a counter advanced by every change of their playlists, members, analyses or likes (the match cache''s fast path).';

-- 16 slots, so that concurrent writers of the catalogue do not queue on one row: the counter is
-- their sum. The epoch is the same in every slot.
create table if not exists songmatch.catalogue_generation (
    slot   smallint primary key check (slot between 0 and 15),
    gen    bigint not null default 0,
    epoch  uuid not null
);
comment on table songmatch.catalogue_generation is
    'A counter (the sum of 16 slots) advanced by every change of a track''s row or analysis, and the epoch of this install (the match cache''s fast path).';
insert into songmatch.catalogue_generation (slot, gen, epoch)
select g, 0, e.epoch from generate_series(0, 15) g, (select gen_random_uuid() as epoch) e
on conflict (slot) do nothing;

-- the stamp of the last computation of a context (NULL: none yet); several contexts may carry
-- the same stamp only for concurrent calls of one moment, any of which answers it
alter table songmatch.match_contexts add column if not exists fast_key text;
create index if not exists match_contexts_fast_key_idx on songmatch.match_contexts (fast_key) where fast_key is not null;

create or replace function songmatch.bump_catalogue_generation() returns void
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
    update songmatch.catalogue_generation set gen = gen + 1 where slot = pg_catalog.pg_backend_pid() % 16
$$;

create or replace function songmatch.bump_user_generations(user_ids uuid[]) returns void
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
    insert into songmatch.user_generations as g (user_id, gen)
    select distinct u, 1 from unnest(user_ids) u where u is not null order by 1
    on conflict (user_id) do update set gen = g.gen + 1
$$;

-- tracks and track_analyses: a change of what a track's content hash covers
create or replace function songmatch.catalogue_generation_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_op = 'TRUNCATE' then
        perform songmatch.bump_catalogue_generation();
    elsif tg_op = 'INSERT' then
        if exists (select 1 from new_rows) then
            perform songmatch.bump_catalogue_generation();
        end if;
    elsif tg_op = 'DELETE' then
        if exists (select 1 from old_rows) then
            perform songmatch.bump_catalogue_generation();
        end if;
    elsif tg_table_name = 'tracks' then
        if exists (select 1 from new_rows n full join old_rows o on o.id = n.id
                    where n.id is null or o.id is null
                       or to_jsonb(n) - array['id', 'created_at', 'updated_at']
                          is distinct from to_jsonb(o) - array['id', 'created_at', 'updated_at']) then
            perform songmatch.bump_catalogue_generation();
        end if;
    elsif exists (select 1 from new_rows n full join old_rows o on o.track_id = n.track_id
                   where n.track_id is null or o.track_id is null or n.analysis is distinct from o.analysis) then
        perform songmatch.bump_catalogue_generation();
    end if;
    return null;
end
$$;

-- playlists, playlist_tracks, playlist_analyses, liked_tracks: the users whose inputs changed
-- (a TRUNCATE cannot say whose: it advances the catalogue's counter, which every stamp holds)
create or replace function songmatch.user_generation_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    users uuid[];
    ids   bigint[];
begin
    if tg_op = 'TRUNCATE' then
        perform songmatch.bump_catalogue_generation();
        return null;
    end if;
    -- (each event has only its own transition tables)
    if tg_table_name = 'playlists' then
        if tg_op = 'INSERT' then users := array(select n.owner_id from new_rows n);
        elsif tg_op = 'DELETE' then users := array(select o.owner_id from old_rows o);
        else users := array(select n.owner_id from new_rows n union select o.owner_id from old_rows o);
        end if;
    elsif tg_table_name = 'liked_tracks' then
        if tg_op = 'INSERT' then users := array(select n.user_id from new_rows n);
        elsif tg_op = 'DELETE' then users := array(select o.user_id from old_rows o);
        else users := array(select n.user_id from new_rows n union select o.user_id from old_rows o);
        end if;
    else
        if tg_op = 'INSERT' then ids := array(select n.playlist_id from new_rows n);
        elsif tg_op = 'DELETE' then ids := array(select o.playlist_id from old_rows o);
        else ids := array(select n.playlist_id from new_rows n union select o.playlist_id from old_rows o);
        end if;
        -- (a member or analysis deleted with its playlist: the playlist's own trigger counts it)
        users := array(select p.owner_id from songmatch.playlists p where p.id = any (ids));
    end if;
    if cardinality(users) > 0 then
        perform songmatch.bump_user_generations(users);
    end if;
    return null;
end
$$;

do $$
declare
    t record;
begin
    for t in
        select * from (values ('tracks', 'catalogue_generation_trigger'),
                              ('track_analyses', 'catalogue_generation_trigger'),
                              ('playlists', 'user_generation_trigger'),
                              ('playlist_tracks', 'user_generation_trigger'),
                              ('playlist_analyses', 'user_generation_trigger'),
                              ('liked_tracks', 'user_generation_trigger')) v(tbl, fn)
    loop
        -- (a statement-level trigger with transition tables serves one event; an empty
        -- transition table stands in for the side an event does not have)
        execute format('create or replace trigger %I after insert on songmatch.%I referencing new table as new_rows
                        for each statement execute function songmatch.%I()', t.tbl || '_gen_ins', t.tbl, t.fn);
        execute format('create or replace trigger %I after update on songmatch.%I referencing old table as old_rows new table as new_rows
                        for each statement execute function songmatch.%I()', t.tbl || '_gen_upd', t.tbl, t.fn);
        execute format('create or replace trigger %I after delete on songmatch.%I referencing old table as old_rows
                        for each statement execute function songmatch.%I()', t.tbl || '_gen_del', t.tbl, t.fn);
        execute format('create or replace trigger %I after truncate on songmatch.%I
                        for each statement execute function songmatch.%I()', t.tbl || '_gen_trunc', t.tbl, t.fn);
    end loop;
end
$$;

-- ------------------------------------------------------------------------------------------
-- owners and privileges, as finalize.sql gives them in a fresh install
-- ------------------------------------------------------------------------------------------
alter table songmatch.user_generations owner to songmatch_owner;
alter table songmatch.catalogue_generation owner to songmatch_owner;
alter function songmatch.bump_catalogue_generation() owner to songmatch_owner;
alter function songmatch.bump_user_generations(uuid[]) owner to songmatch_owner;
alter function songmatch.catalogue_generation_trigger() owner to songmatch_owner;
alter function songmatch.user_generation_trigger() owner to songmatch_owner;
revoke execute on function songmatch.bump_catalogue_generation() from public;
revoke execute on function songmatch.bump_user_generations(uuid[]) from public;
revoke execute on function songmatch.catalogue_generation_trigger() from public;
revoke execute on function songmatch.user_generation_trigger() from public;

-- ------------------------------------------------------------------------------------------
-- match_songs_to_playlists over match_songs_contexts
-- ------------------------------------------------------------------------------------------
CREATE  FUNCTION songmatch."match_songs_contexts"(
	"user_id" uuid, /* Option < Uuid > */
	"track_ids" bigint[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < i64 > > > */
	"top_k" INT DEFAULT 3, /* Option < i32 > */
	"config" jsonb DEFAULT NULL /* Option < JsonB > */
) RETURNS TABLE (
	"context_id" bigint,  /* i64 */
	"playlist_id" bigint  /* i64 */
)
VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'match_songs_contexts_wrapper';
alter function songmatch.match_songs_contexts(uuid, bigint[], integer, jsonb) set search_path = pg_catalog, pg_temp;
alter function songmatch.match_songs_contexts(uuid, bigint[], integer, jsonb) owner to songmatch_owner;
revoke execute on function songmatch.match_songs_contexts(uuid, bigint[], integer, jsonb) from public;

create or replace function songmatch.match_songs_to_playlists(
    user_id uuid,
    track_ids bigint[] default null,
    top_k integer default 3,
    config jsonb default null)
returns table (track_id bigint, playlist_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctxs bigint[];
    pids bigint[];
begin
    -- (the contexts first, in a statement of their own: the rows a miss stores are visible to the next)
    select coalesce(array_agg(c.context_id order by c.playlist_id), '{}'), coalesce(array_agg(c.playlist_id order by c.playlist_id), '{}')
      into ctxs, pids
      from songmatch.match_songs_contexts(match_songs_to_playlists.user_id, match_songs_to_playlists.track_ids,
                                          match_songs_to_playlists.top_k, match_songs_to_playlists.config) c;
    return query
        select s.track_id, s.playlist_id, s.score, s.rank::integer, s.components
          from (select r.track_id, r.playlist_id, r.score, r.components,
                       pg_catalog.row_number() over (partition by r.track_id order by r.score desc, r.playlist_id) as rank
                  from unnest(ctxs, pids) as c(context_id, playlist_id)
                  join songmatch.match_results r on r.context_id = c.context_id and r.playlist_id = c.playlist_id) s
         where s.rank <= match_songs_to_playlists.top_k
         order by s.track_id, s.rank;
end
$$;
comment on function songmatch.match_songs_to_playlists(uuid, bigint[], integer, jsonb) is
    'For each song (default: the user''s liked songs), its best playlists among the user''s own, best first; a playlist that already contains a song is not proposed for it. Served from the match cache when the inputs are unchanged.';

do $$
declare
    vschema text;
begin
    select n.nspname into strict vschema
      from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    execute format('alter function songmatch.match_songs_to_playlists(uuid, bigint[], integer, jsonb) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
end
$$;

-- the roles that may execute match_songs_to_playlists (API and management roles) may execute
-- match_songs_contexts
do $$
declare
    r name;
begin
    for r in
        select a.rolname from pg_catalog.pg_roles a
         where a.rolname <> 'songmatch_owner' and not a.rolsuper
           and has_function_privilege(a.oid, 'songmatch.match_songs_to_playlists(uuid, bigint[], integer, jsonb)', 'EXECUTE')
    loop
        execute format('grant execute on function songmatch.match_songs_contexts(uuid, bigint[], integer, jsonb) to %I', r);
    end loop;
end
$$;

-- grant_access(role) grants match_songs_contexts with the rest of the API
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
                              'match_context', 'recommend_for_playlist', 'recommend_context', 'track_signals',
                              'match_songs_contexts'];
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
