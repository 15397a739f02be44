-- songmatch 0.5.0 -> 0.6.0: per-user rows carry their user.
--
-- * A playlist's members, analysis and profiles get owner_id, a match result user_id (filled here
--   from their parents), with keys that include the user: sql/owners.sql, included below as it
--   is. Writers of members and playlist analyses may leave owner_id out (a trigger fills it).
-- * Row-level security compares a row's own user with the caller's (enable_row_level_security
--   is replaced, and run again where it was on).
-- * The user generation trigger reads the members' owner from the rows themselves.
-- * match_playlist(user_id, playlist_id, ...) (and match_context(user_id, ...)): the same for a
--   playlist of that user, naming the user in every read (routable on a distributed deployment);
--   roles that could call match_playlist can call them. match_songs_to_playlists reads the
--   results by their user (same signature and results).
-- * The new functions belong to songmatch_owner, as in a fresh install.

-- ------------------------------------------------------------------------------------------
-- sql/owners.sql of 0.6.0, as it is
-- ------------------------------------------------------------------------------------------
-- Per-user rows carry their user (0.6.0).
--
-- Every row that belongs to one user names that user: a playlist's members, analysis and profiles
-- carry the playlist's owner_id, a match result the user_id of its context. What belongs
-- together is tied by keys that include the user: (owner_id, playlist_id) references
-- playlists (owner_id, id), (user_id, context_id) references match_contexts (user_id, id).
-- The same keys are what a distributed deployment needs (README, "Scaling out"): there, per-user
-- tables are split by user, and every key must include the user.
--
-- * Row-level security compares the row's own user with the caller's, instead of looking up
--   the parent for every row (sql/security.sql).
-- * Writers of members and playlist analyses may leave owner_id out: a trigger takes it from the
--   playlist (fill_playlist_owner). Moving a playlist to another owner moves its rows with it
--   (ON UPDATE CASCADE).
-- * songmatch's own tables (profiles, the match cache) are written by songmatch with the user.
--   A match result keeps its single-column key to its playlist: a playlist given to another
--   owner keeps the old owner's cached contexts, which no call of the new owner finds.
--
-- This file is idempotent and is run as it is by CREATE EXTENSION and by the update to 0.6.0,
-- which fills the new columns of existing rows from the parents.

-- playlists: (owner_id, id) is unique, the target of the members' keys (it also serves lookups by
-- owner, for which playlists_owner_idx was)
do $$
begin
    if not exists (select 1 from pg_catalog.pg_constraint
                    where conrelid = 'songmatch.playlists'::regclass and conname = 'playlists_owner_id_id_key') then
        alter table songmatch.playlists add constraint playlists_owner_id_id_key unique (owner_id, id);
    end if;
end
$$;
drop index if exists songmatch.playlists_owner_idx;

-- match_contexts: (user_id, id) is unique, the target of match_results' key; a context is found
-- by its user and hash
do $$
begin
    if not exists (select 1 from pg_catalog.pg_constraint
                    where conrelid = 'songmatch.match_contexts'::regclass and conname = 'match_contexts_user_id_id_key') then
        alter table songmatch.match_contexts add constraint match_contexts_user_id_id_key unique (user_id, id);
    end if;
    if not exists (select 1 from pg_catalog.pg_constraint
                    where conrelid = 'songmatch.match_contexts'::regclass and conname = 'match_contexts_user_id_context_hash_key') then
        alter table songmatch.match_contexts add constraint match_contexts_user_id_context_hash_key unique (user_id, context_hash);
    end if;
end
$$;
alter table songmatch.match_contexts drop constraint if exists match_contexts_context_hash_key;
drop index if exists songmatch.match_contexts_user_idx;

-- A playlist's member or analysis written without owner_id gets the playlist's (with the writer's
-- rights: a playlist the writer cannot read is one that does not exist).
create or replace function songmatch.fill_playlist_owner() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if new.owner_id is null
       or (tg_op = 'UPDATE' and new.playlist_id is distinct from old.playlist_id and new.owner_id is not distinct from old.owner_id) then
        select p.owner_id into new.owner_id from songmatch.playlists p where p.id = new.playlist_id;
        if not found then
            raise exception 'playlist % does not exist', new.playlist_id
                using errcode = '23503', table = tg_table_name, schema = tg_table_schema;
        end if;
    end if;
    return new;
end
$$;
comment on function songmatch.fill_playlist_owner() is
    'Trigger: a member or playlist analysis written without owner_id gets its playlist''s owner.';

-- the new columns, filled from the parents (rows of an older version; none in a fresh install)
do $$
declare
    t record;
begin
    for t in
        select * from (values ('playlist_tracks', 'owner_id', 'playlist_id', 'songmatch.playlists', 'owner_id', 'id'),
                              ('playlist_analyses', 'owner_id', 'playlist_id', 'songmatch.playlists', 'owner_id', 'id'),
                              ('playlist_profiles', 'owner_id', 'playlist_id', 'songmatch.playlists', 'owner_id', 'id'),
                              ('match_results', 'user_id', 'context_id', 'songmatch.match_contexts', 'user_id', 'id'))
                      v(tbl, col, ref_col, parent, parent_user, parent_id)
    loop
        if not exists (select 1 from pg_catalog.pg_attribute
                        where attrelid = format('songmatch.%I', t.tbl)::regclass and attname = t.col and not attisdropped) then
            execute format('alter table songmatch.%I add column %I uuid', t.tbl, t.col);
            -- (the fill is no change of anyone's inputs: no counter moves, nothing is marked stale)
            execute format('alter table songmatch.%I disable trigger user', t.tbl);
            execute format('update songmatch.%I x set %I = p.%I from %s p where p.%I = x.%I',
                           t.tbl, t.col, t.parent_user, t.parent, t.parent_id, t.ref_col);
            execute format('alter table songmatch.%I enable trigger user', t.tbl);
            execute format('alter table songmatch.%I alter column %I set not null', t.tbl, t.col);
        end if;
    end loop;
end
$$;

-- the keys: a child's parent is named with its user
alter table songmatch.playlist_tracks drop constraint if exists playlist_tracks_playlist_id_fkey;
alter table songmatch.playlist_analyses drop constraint if exists playlist_analyses_playlist_id_fkey;
alter table songmatch.playlist_profiles drop constraint if exists playlist_profiles_playlist_id_fkey;
alter table songmatch.playlist_profiles drop constraint if exists playlist_profiles_playlist_id_profile_kind_model_bundle_has_key;
alter table songmatch.match_results drop constraint if exists match_results_context_id_fkey;
do $$
declare
    k record;
begin
    for k in
        select * from (values
            ('playlist_tracks', 'playlist_tracks_owner_fkey',
             'foreign key (owner_id, playlist_id) references songmatch.playlists (owner_id, id) on update cascade on delete cascade'),
            ('playlist_analyses', 'playlist_analyses_owner_fkey',
             'foreign key (owner_id, playlist_id) references songmatch.playlists (owner_id, id) on update cascade on delete cascade'),
            ('playlist_profiles', 'playlist_profiles_owner_fkey',
             'foreign key (owner_id, playlist_id) references songmatch.playlists (owner_id, id) on update cascade on delete cascade'),
            ('playlist_profiles', 'playlist_profiles_owner_key',
             'unique (owner_id, playlist_id, profile_kind, model_bundle_hash)'),
            ('match_results', 'match_results_context_fkey',
             'foreign key (user_id, context_id) references songmatch.match_contexts (user_id, id) on update cascade on delete cascade'))
            v(tbl, name, def)
    loop
        if not exists (select 1 from pg_catalog.pg_constraint
                        where conrelid = format('songmatch.%I', k.tbl)::regclass and conname = k.name) then
            execute format('alter table songmatch.%I add constraint %I %s', k.tbl, k.name, k.def);
        end if;
    end loop;
end
$$;
-- (the children's primary keys, which lead with the parent's id, serve these keys' lookups)

create or replace trigger playlist_tracks_owner before insert or update of playlist_id, owner_id on songmatch.playlist_tracks
    for each row execute function songmatch.fill_playlist_owner();
create or replace trigger playlist_analyses_owner before insert or update of playlist_id, owner_id on songmatch.playlist_analyses
    for each row execute function songmatch.fill_playlist_owner();

alter function songmatch.fill_playlist_owner() owner to songmatch_owner;
revoke execute on function songmatch.fill_playlist_owner() from public;

-- ------------------------------------------------------------------------------------------
-- sql/cache.sql: the user generation trigger
-- ------------------------------------------------------------------------------------------
create or replace function songmatch.user_generation_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    users uuid[];
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
        -- (members and playlist analyses carry their playlist's owner: sql/owners.sql)
        if tg_op = 'INSERT' then users := array(select n.owner_id from new_rows n);
        elsif tg_op = 'DELETE' then users := array(select o.owner_id from old_rows o);
        else users := array(select n.owner_id from new_rows n union select o.owner_id from old_rows o);
        end if;
    end if;
    if cardinality(users) > 0 then
        perform songmatch.bump_user_generations(users);
    end if;
    return null;
end
$$;

-- ------------------------------------------------------------------------------------------
-- sql/security.sql: row-level security on the rows' own user
-- ------------------------------------------------------------------------------------------
create or replace function songmatch.enable_row_level_security() returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    alter table songmatch.playlists enable row level security;
    drop policy if exists songmatch_owner on songmatch.playlists;
    create policy songmatch_owner on songmatch.playlists
        using (owner_id = songmatch.current_user_id())
        with check (owner_id = songmatch.current_user_id());

    alter table songmatch.liked_tracks enable row level security;
    drop policy if exists songmatch_owner on songmatch.liked_tracks;
    create policy songmatch_owner on songmatch.liked_tracks
        using (user_id = songmatch.current_user_id())
        with check (user_id = songmatch.current_user_id());

    alter table songmatch.match_contexts enable row level security;
    drop policy if exists songmatch_owner on songmatch.match_contexts;
    create policy songmatch_owner on songmatch.match_contexts
        using (user_id = songmatch.current_user_id())
        with check (user_id = songmatch.current_user_id());

    -- tables that belong to a playlist or a context carry their owner (sql/owners.sql)
    alter table songmatch.playlist_tracks enable row level security;
    drop policy if exists songmatch_owner on songmatch.playlist_tracks;
    create policy songmatch_owner on songmatch.playlist_tracks
        using (owner_id = songmatch.current_user_id());

    alter table songmatch.playlist_analyses enable row level security;
    drop policy if exists songmatch_owner on songmatch.playlist_analyses;
    create policy songmatch_owner on songmatch.playlist_analyses
        using (owner_id = songmatch.current_user_id());

    alter table songmatch.playlist_profiles enable row level security;
    drop policy if exists songmatch_owner on songmatch.playlist_profiles;
    create policy songmatch_owner on songmatch.playlist_profiles
        using (owner_id = songmatch.current_user_id());

    alter table songmatch.match_results enable row level security;
    drop policy if exists songmatch_owner on songmatch.match_results;
    create policy songmatch_owner on songmatch.match_results
        using (user_id = songmatch.current_user_id());
end
$$;

-- (where row-level security is on, its policies are made again)
do $$
begin
    if (select c.relrowsecurity from pg_catalog.pg_class c where c.oid = 'songmatch.playlists'::regclass) then
        perform songmatch.enable_row_level_security();
    end if;
end
$$;

-- ------------------------------------------------------------------------------------------
-- sql/matching.sql: match_playlist for a user's playlist (routable by its user), and
-- match_songs_to_playlists reading the results by their user
-- ------------------------------------------------------------------------------------------
CREATE  FUNCTION songmatch."match_context"(
	"user_id" uuid, /* Option < Uuid > */
	"playlist_id" bigint, /* Option < i64 > */
	"candidate_track_ids" bigint[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < i64 > > > */
	"top_k" INT DEFAULT 20, /* Option < i32 > */
	"config" jsonb DEFAULT NULL /* Option < JsonB > */
) RETURNS bigint /* i64 */
VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'match_user_context_wrapper';

-- The same for a playlist of user_id (another user's playlist does not exist for the call). It
-- names its user in every read, so a distributed deployment runs it on the node that holds the
-- user (songmatch.distribute(), README "Scaling out"); on one node it is match_playlist.
create function songmatch.match_playlist(
    user_id uuid,
    playlist_id bigint,
    candidate_track_ids bigint[] default null,
    top_k integer default 20,
    config jsonb default null)
returns table (track_id bigint, score double precision, rank integer, components jsonb)
language plpgsql volatile
as $$
#variable_conflict use_column
declare
    ctx bigint := songmatch.match_context(user_id, playlist_id, candidate_track_ids, top_k, config);
begin
    return query
        select r.track_id, r.score, r.rank, r.components
          from songmatch.match_results r
         where r.user_id = match_playlist.user_id and r.context_id = ctx and r.playlist_id = match_playlist.playlist_id
         order by r.rank;
end
$$;
comment on function songmatch.match_playlist(uuid, bigint, bigint[], integer, jsonb) is
    'match_playlist for a playlist of user_id, routed by the user on a distributed deployment.';

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
                  join songmatch.match_results r
                    on r.user_id = match_songs_to_playlists.user_id and r.context_id = c.context_id
                   and r.playlist_id = c.playlist_id) s
         where s.rank <= match_songs_to_playlists.top_k
         order by s.track_id, s.rank;
end
$$;
comment on function songmatch.match_songs_to_playlists(uuid, bigint[], integer, jsonb) is
    'For each song (default: the user''s liked songs), its best playlists among the user''s own, best first; a playlist that already contains a song is not proposed for it. Served from the match cache when the inputs are unchanged.';

alter function songmatch.match_context(uuid, bigint, bigint[], integer, jsonb) set search_path = pg_catalog, pg_temp;
do $$
declare
    vschema text;
begin
    select n.nspname into strict vschema
      from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    execute format('alter function songmatch.match_playlist(uuid, bigint, bigint[], integer, jsonb) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
    execute format('alter function songmatch.match_songs_to_playlists(uuid, bigint[], integer, jsonb) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
end
$$;
alter function songmatch.match_context(uuid, bigint, bigint[], integer, jsonb) owner to songmatch_owner;
alter function songmatch.match_playlist(uuid, bigint, bigint[], integer, jsonb) owner to songmatch_owner;
revoke execute on function songmatch.match_context(uuid, bigint, bigint[], integer, jsonb) from public;
revoke execute on function songmatch.match_playlist(uuid, bigint, bigint[], integer, jsonb) from public;
-- the roles that may execute match_playlist (API and management roles) may execute the new overloads
do $$
declare
    r name;
begin
    for r in
        select a.rolname from pg_catalog.pg_roles a
         where a.rolname <> 'songmatch_owner' and not a.rolsuper
           and has_function_privilege(a.oid, 'songmatch.match_playlist(bigint, bigint[], integer, jsonb)', 'EXECUTE')
    loop
        execute format('grant execute on function songmatch.match_context(uuid, bigint, bigint[], integer, jsonb) to %I', r);
        execute format('grant execute on function songmatch.match_playlist(uuid, bigint, bigint[], integer, jsonb) to %I', r);
    end loop;
end
$$;
