-- songmatch 0.5.0 -> 0.6.0: per-user rows carry their user; songmatch on Citus.
--
-- * A playlist's members, analysis and profiles get owner_id, a match result user_id (filled here
--   from their parents), with keys that include the user: sql/owners.sql, included below as it
--   is. Writers of members and playlist analyses may leave owner_id out (a trigger fills it).
-- * Row-level security compares a row's own user with the caller's (enable_row_level_security
--   is replaced, and run again where it was on).
-- * match_playlist(user_id, playlist_id, ...) (and match_context(user_id, ...)): the same for a
--   playlist of that user, naming the user in every read; roles that could call match_playlist
--   can call them. match_songs_to_playlists reads the results by their user (same signature and
--   results).
-- * The triggers work on Citus shards too (sql/shards.sql, included as it is): the counters'
--   bump functions take the trigger's table (the old ones are dropped), mark_stale_tracks takes
--   whether to mark profiles (the old one is dropped), and the trigger functions are replaced.
-- * upsert_track_embedding(_half) in two statements (Citus plans no data-modifying WITH on a
--   reference table); same results.
-- * songmatch.distribute(), songmatch.sync_workers() and songmatch.citus_pre_request() (sql/distribute.sql,
--   included as it is); grant_access grants citus_pre_request with the rest of the API.
-- * The new functions belong to songmatch_owner and are executable by nobody else unless
--   granted, with the search paths of a fresh install.

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

-- ------------------------------------------------------------------------------------------
-- sql/shards.sql of 0.6.0, as it is
-- ------------------------------------------------------------------------------------------
-- songmatch's triggers on Citus shards (README, "Scaling out").
--
-- On Citus (songmatch.distribute()), a row written to a distributed or reference table is written
-- to its shards, and the triggers fire there, on each node that holds a copy, with the shard as
-- their table (e.g. tracks_102008). A trigger there cannot run a distributed query (Citus refuses
-- one from inside a shard), so songmatch's triggers write what they keep to the shard of the other
-- table that lives beside theirs: the same shard range of a co-located table (user_generations
-- beside a shard of playlists), or the node's copy of a reference table (track_content,
-- catalogue_generation). Each copy of a reference table so keeps its derived rows itself.
-- On a plain table (one node, or Citus before distribute()) nothing here is used.

-- The table to write beside the trigger's table on_table (tg_table_name): NULL when it is not a Citus shard
-- (the trigger writes the table itself); else the local shard of target, schema-qualified: the
-- node's copy of a reference table, or the shard of a co-located table with the same range; ''
-- when target has no shard here (yet: songmatch.distribute() is converting the tables), and the
-- trigger writes nothing.
create or replace function songmatch.shard_of(target regclass, on_table name) returns text
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel   text;
    num   bigint;
    found text;
begin
    -- (by name: Citus hides its shards from pg_class in an application's session)
    rel := on_table;
    if rel is null or rel !~ '_[0-9]+$' or pg_catalog.to_regclass('pg_catalog.pg_dist_shard') is null then
        return null;
    end if;
    num := substring(rel from '_([0-9]+)$')::bigint;
    -- (a shard is named after its table and its number; a reference table has one shard, no range)
    execute 'select pg_catalog.format(''%I.%I'', n.nspname, t.relname || ''_'' || s2.shardid)
               from pg_catalog.pg_dist_shard s1
               join pg_catalog.pg_class l on l.oid = s1.logicalrelid and l.relname || ''_'' || s1.shardid = $3
               join pg_catalog.pg_dist_shard s2 on s2.logicalrelid = $2
                and (s2.shardminvalue is not distinct from s1.shardminvalue or s2.shardminvalue is null)
               join pg_catalog.pg_class t on t.oid = s2.logicalrelid
               join pg_catalog.pg_namespace n on n.oid = t.relnamespace
              where s1.shardid = $1'
       into found using num, target, rel;
    return coalesce(found, '');
end
$$;
comment on function songmatch.shard_of(regclass, name) is
    'Citus: the local shard of target beside the shard on_table (NULL when on_table is no shard).';

-- Whether a trigger on on_table records stale items: always on a plain table; on a Citus shard
-- only on the coordinator, whose refresh computes the catalogue's artifacts once for every node
-- (a playlist's profile is recomputed where its user lives, when it is matched).
create or replace function songmatch.stale_marks_here(on_table name) returns boolean
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    coordinator boolean;
begin
    case songmatch.shard_of('songmatch.catalogue_generation', on_table)
        when null then return true;
        when '' then return false;
        else null;
    end case;
    execute 'select pg_catalog.citus_is_coordinator()' into coordinator;
    return coalesce(coordinator, false);
end
$$;
comment on function songmatch.stale_marks_here(name) is
    'Whether a staleness trigger on on_table records marks: on a plain table, or on the Citus coordinator''s shard.';

-- ------------------------------------------------------------------------------------------
-- the triggers, shard-aware (sql/cache.sql, sql/schema.sql, sql/backfill.sql)
-- ------------------------------------------------------------------------------------------
create or replace function songmatch.bump_catalogue_generation(on_table name) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
    shard text := songmatch.shard_of('songmatch.catalogue_generation', on_table);
begin
    if shard is null then
        update songmatch.catalogue_generation set gen = gen + 1 where slot = pg_catalog.pg_backend_pid() % 16;
    elsif shard <> '' then
        execute pg_catalog.format('update %s set gen = gen + 1 where slot = pg_catalog.pg_backend_pid() %% 16', shard);
    end if;
end
$$;

create or replace function songmatch.bump_user_generations(user_ids uuid[], on_table name) returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
    shard text := songmatch.shard_of('songmatch.user_generations', on_table);
begin
    if shard is null then
        insert into songmatch.user_generations as g (user_id, gen)
        select distinct u, 1 from unnest(user_ids) u where u is not null order by 1
        on conflict (user_id) do update set gen = g.gen + 1;
    elsif shard <> '' then
        execute pg_catalog.format(
            'insert into %s as g (user_id, gen) select distinct u, 1 from unnest($1) u where u is not null order by 1
             on conflict (user_id) do update set gen = g.gen + 1', shard)
        using user_ids;
    end if;
end
$$;

create or replace function songmatch.catalogue_generation_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_op = 'TRUNCATE' then
        perform songmatch.bump_catalogue_generation(tg_table_name);
    elsif tg_op = 'INSERT' then
        if exists (select 1 from new_rows) then
            perform songmatch.bump_catalogue_generation(tg_table_name);
        end if;
    elsif tg_op = 'DELETE' then
        if exists (select 1 from old_rows) then
            perform songmatch.bump_catalogue_generation(tg_table_name);
        end if;
    elsif tg_table_name ~ '^tracks(_[0-9]+)?$' then  -- (or a Citus shard of it)
        if exists (select 1 from new_rows n full join old_rows o on o.id = n.id
                    where n.id is null or o.id is null
                       or to_jsonb(n) - array['id', 'created_at', 'updated_at']
                          is distinct from to_jsonb(o) - array['id', 'created_at', 'updated_at']) then
            perform songmatch.bump_catalogue_generation(tg_table_name);
        end if;
    elsif exists (select 1 from new_rows n full join old_rows o on o.track_id = n.track_id
                   where n.track_id is null or o.track_id is null or n.analysis is distinct from o.analysis) then
        perform songmatch.bump_catalogue_generation(tg_table_name);
    end if;
    return null;
end
$$;

create or replace function songmatch.user_generation_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    users uuid[];
begin
    if tg_op = 'TRUNCATE' then
        perform songmatch.bump_catalogue_generation(tg_table_name);
        return null;
    end if;
    -- (each event has only its own transition tables; tg_table_name may be a Citus shard's)
    if tg_table_name ~ '^playlists(_[0-9]+)?$' then
        if tg_op = 'INSERT' then users := array(select n.owner_id from new_rows n);
        elsif tg_op = 'DELETE' then users := array(select o.owner_id from old_rows o);
        else users := array(select n.owner_id from new_rows n union select o.owner_id from old_rows o);
        end if;
    elsif tg_table_name ~ '^liked_tracks(_[0-9]+)?$' then
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
        perform songmatch.bump_user_generations(users, tg_table_name);
    end if;
    return null;
end
$$;

drop function songmatch.bump_catalogue_generation();
drop function songmatch.bump_user_generations(uuid[]);

create or replace function songmatch.refresh_track_content() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    tid    bigint;
    shards text[];
begin
    if tg_table_name not in ('tracks', 'track_analyses') then
        -- a Citus shard: this node's copies (sql/shards.sql; none yet while distribute() runs)
        shards := array[songmatch.shard_of('songmatch.track_content', tg_table_name), songmatch.shard_of('songmatch.tracks', tg_table_name),
                        songmatch.shard_of('songmatch.track_analyses', tg_table_name)];
        if '' = any (shards) then
            return null;
        end if;
        tid := coalesce(to_jsonb(coalesce(new, old)) ->> 'track_id', to_jsonb(new) ->> 'id')::bigint;
        execute pg_catalog.format(
            'insert into %s as tc (track_id, content_hash, signals)
             select s.id, songmatch.content_hash(''track_content'', jsonb_build_object(''track'', s.track, ''analysis'', s.analysis)),
                    songmatch.track_signals(s.track, s.analysis)
               from (select t.id, to_jsonb(t) - array[''id'', ''created_at'', ''updated_at''] as track, a.analysis
                       from %s t left join %s a on a.track_id = t.id
                      where t.id = $1) s
             on conflict (track_id) do update set content_hash = excluded.content_hash, signals = excluded.signals, updated_at = now()
              where tc.content_hash <> excluded.content_hash or tc.signals is distinct from excluded.signals',
            shards[1], shards[2], shards[3])
        using tid;
        return null;
    end if;
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

create or replace function songmatch.upsert_track_embedding(
    track_id bigint, embedding_kind text, model_name text, model_version text,
    content_hash text, embedding vector)
returns bigint
language plpgsql
as $$
-- (two statements, not one with a data-modifying WITH: Citus plans either on a reference table)
#variable_conflict use_column
declare
    id bigint;
begin
    insert into songmatch.track_embeddings as te
        (track_id, embedding_kind, model_name, model_version, dims, content_hash, embedding)
    values ($1, $2, $3, $4, vector_dims($6), $5, $6)
    on conflict (track_id, embedding_kind, model_name, model_version) do update
       set dims = excluded.dims,
           content_hash = excluded.content_hash,
           embedding = excluded.embedding,
           embedding_half = null
     where te.content_hash is distinct from excluded.content_hash
        or te.embedding_half is not null
        or te.embedding is distinct from excluded.embedding
    returning te.id into id;
    if id is null then
        select te.id into id from songmatch.track_embeddings te
         where te.track_id = $1 and te.embedding_kind = $2 and te.model_name = $3 and te.model_version = $4;
    end if;
    return id;
end
$$;

create or replace function songmatch.upsert_track_embedding_half(
    track_id bigint, embedding_kind text, model_name text, model_version text,
    content_hash text, embedding halfvec)
returns bigint
language plpgsql
as $$
-- (two statements, not one with a data-modifying WITH: Citus plans either on a reference table)
#variable_conflict use_column
declare
    id bigint;
begin
    insert into songmatch.track_embeddings as te
        (track_id, embedding_kind, model_name, model_version, dims, content_hash, embedding_half)
    values ($1, $2, $3, $4, vector_dims($6), $5, $6)
    on conflict (track_id, embedding_kind, model_name, model_version) do update
       set dims = excluded.dims,
           content_hash = excluded.content_hash,
           embedding = null,
           embedding_half = excluded.embedding_half
     where te.content_hash is distinct from excluded.content_hash
        or te.embedding is not null
        or te.embedding_half is distinct from excluded.embedding_half
    returning te.id into id;
    if id is null then
        select te.id into id from songmatch.track_embeddings te
         where te.track_id = $1 and te.embedding_kind = $2 and te.model_name = $3 and te.model_version = $4;
    end if;
    return id;
end
$$;

create or replace function songmatch.mark_stale_tracks(track_ids bigint[], reason text, profiles boolean default true)
returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
    -- (every writer marks in the same order: the tracks' kinds, then the profiles, each sorted)
    insert into songmatch.stale_items as s (kind, item_id, reason, marked_at)
    select k.kind, t.id, mark_stale_tracks.reason, clock_timestamp()
      from (select distinct x.id from unnest(track_ids) x(id) where x.id is not null) t
     cross join (values ('embedding'), ('genres'), ('emotions')) k(kind)
     order by k.kind, t.id
    on conflict (kind, item_id) do update set reason = excluded.reason, marked_at = excluded.marked_at;
    if profiles then
        insert into songmatch.stale_items as s (kind, item_id, reason, marked_at)
        select 'profile', p.playlist_id, mark_stale_tracks.reason, clock_timestamp()
          from (select distinct pt.playlist_id from songmatch.playlist_tracks pt where pt.track_id = any (track_ids)) p
         order by p.playlist_id
        on conflict (kind, item_id) do update set reason = excluded.reason, marked_at = excluded.marked_at;
    end if;
end
$$;

create or replace function songmatch.stale_tracks_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    -- (a Citus shard: only the coordinator's copy marks, and no profiles; sql/shards.sql)
    plain boolean := tg_table_name = 'tracks';
begin
    if not (plain or songmatch.stale_marks_here(tg_table_name)) then
        return null;
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_tracks(array(select n.id from new_rows n), 'tracks insert', plain);
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_tracks(array(
            select coalesce(n.id, o.id)
              from new_rows n full join old_rows o on o.id = n.id
             where n.id is null or o.id is null
                or to_jsonb(n) - array['id', 'created_at', 'updated_at']
                   is distinct from to_jsonb(o) - array['id', 'created_at', 'updated_at']), 'tracks update', plain);
    else
        delete from songmatch.stale_items s
         where s.kind in ('embedding', 'genres', 'emotions') and s.item_id in (select o.id from old_rows o);
    end if;
    return null;
end
$$;

create or replace function songmatch.stale_track_analyses_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    -- (a Citus shard: only the coordinator's copy marks, and no profiles; sql/shards.sql)
    plain boolean := tg_table_name = 'track_analyses';
begin
    if not (plain or songmatch.stale_marks_here(tg_table_name)) then
        return null;
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_tracks(array(select n.track_id from new_rows n), 'track_analyses insert', plain);
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_tracks(array(
            select coalesce(n.track_id, o.track_id)
              from new_rows n full join old_rows o on o.track_id = n.track_id
             where n.track_id is null or o.track_id is null or n.analysis is distinct from o.analysis),
            'track_analyses update', plain);
    else
        perform songmatch.mark_stale_tracks(array(select o.track_id from old_rows o), 'track_analyses delete', plain);
    end if;
    return null;
end
$$;

create or replace function songmatch.stale_playlists_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_table_name <> 'playlists' then
        return null;  -- (a Citus shard: the profile is recomputed where its user lives, when it is matched)
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_playlists(array(select n.id from new_rows n), 'playlists insert');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_playlists(array(
            select coalesce(n.id, o.id)
              from new_rows n full join old_rows o on o.id = n.id
             where n.id is null or o.id is null
                or to_jsonb(n) - array['id', 'created_at', 'updated_at']
                   is distinct from to_jsonb(o) - array['id', 'created_at', 'updated_at']), 'playlists update');
    else
        delete from songmatch.stale_items s where s.kind = 'profile' and s.item_id in (select o.id from old_rows o);
    end if;
    return null;
end
$$;

create or replace function songmatch.stale_playlist_analyses_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_table_name <> 'playlist_analyses' then
        return null;  -- (a Citus shard: the profile is recomputed where its user lives, when it is matched)
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_playlists(array(select n.playlist_id from new_rows n), 'playlist_analyses insert');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_playlists(array(
            select coalesce(n.playlist_id, o.playlist_id)
              from new_rows n full join old_rows o on o.playlist_id = n.playlist_id
             where n.playlist_id is null or o.playlist_id is null or n.analysis is distinct from o.analysis),
            'playlist_analyses update');
    else
        perform songmatch.mark_stale_playlists(array(select o.playlist_id from old_rows o), 'playlist_analyses delete');
    end if;
    return null;
end
$$;

create or replace function songmatch.stale_playlist_tracks_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_table_name <> 'playlist_tracks' then
        return null;  -- (a Citus shard: the profile is recomputed where its user lives, when it is matched)
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_playlists(array(select n.playlist_id from new_rows n), 'playlist_tracks insert');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_playlists(array(
            select n.playlist_id from new_rows n
             where not exists (select 1 from old_rows o where o.playlist_id = n.playlist_id and o.track_id = n.track_id)
            union
            select o.playlist_id from old_rows o
             where not exists (select 1 from new_rows n where n.playlist_id = o.playlist_id and n.track_id = o.track_id)),
            'playlist_tracks update');
    else
        perform songmatch.mark_stale_playlists(array(select o.playlist_id from old_rows o), 'playlist_tracks delete');
    end if;
    return null;
end
$$;

drop function songmatch.mark_stale_tracks(bigint[], text);

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
                              'match_songs_contexts', 'citus_pre_request'];
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

-- ------------------------------------------------------------------------------------------
-- sql/distribute.sql of 0.6.0, as it is
-- ------------------------------------------------------------------------------------------
-- songmatch on Citus: songmatch.distribute() (README, "Scaling out").
--
-- A DBA runs it once, on the coordinator, after CREATE EXTENSION citus and songmatch on every node
-- and the workers added. It turns the single-node schema into the distributed one in place:
--   * the catalogue and its artifacts become reference tables (a copy on every node): tracks,
--     track_analyses, track_content, track_embeddings, track_genres, track_emotions,
--     model_bundles, active_config, catalogue_generation;
--   * the per-user tables are distributed by their user and co-located: playlists (owner_id),
--     playlist_tracks, playlist_analyses, playlist_profiles (owner_id), liked_tracks,
--     match_contexts, match_results, user_generations (user_id);
--   * work queues, jobs, counters and evaluation stay local to each node.
-- Citus cannot convert tables that foreign keys tie to still-local tables, so every foreign key
-- of songmatch is dropped first and made again at the end (those from a local table to a
-- distributed or reference table cannot exist on Citus and are left out). The per-user tables'
-- keys get the user (a distributed table's unique keys must include it), and the calls that name
-- their user (match_playlist(user_id, ...), match_songs_to_playlists) are delegated to the node
-- that holds the user, with force_delegation so that they are also inside transactions.
-- All of it runs in the caller's transaction: an error leaves the schema as it was.

create function songmatch.distribute(shard_count integer default 32) returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    reference  text[] := array['model_bundles', 'active_config', 'tracks', 'track_analyses', 'track_content',
                               'track_embeddings', 'track_genres', 'track_emotions', 'catalogue_generation'];
    per_user   text[] := array['playlists', 'playlist_tracks', 'playlist_analyses', 'playlist_profiles',
                               'liked_tracks', 'match_contexts', 'match_results', 'user_generations'];
    user_col   text[] := array['owner_id', 'owner_id', 'owner_id', 'owner_id', 'user_id', 'user_id', 'user_id', 'user_id'];
    delegated  text[] := array['songmatch.match_playlist(uuid, bigint, bigint[], integer, jsonb)',
                               'songmatch.match_context(uuid, bigint, bigint[], integer, jsonb)',
                               'songmatch.match_songs_to_playlists(uuid, bigint[], integer, jsonb)',
                               'songmatch.match_songs_contexts(uuid, bigint[], integer, jsonb)'];
    fk         record;
    fks        jsonb := '[]';
    dropped    jsonb := '[]';
    i          integer;
    t          text;
    def        text;
    ref        regclass;
    src_kind   text;
    ref_kind   text;
    prep       text;
    res        record;
begin
    if not exists (select 1 from pg_catalog.pg_extension where extname = 'citus') then
        raise exception 'songmatch.distribute() needs Citus in this database'
            using errcode = '0A000', hint = 'CREATE EXTENSION citus on every node first, add the workers, then run it on the coordinator.';
    end if;
    execute 'select pg_catalog.citus_is_coordinator()' into strict def;
    if def <> 'true' then
        raise exception 'songmatch.distribute() runs on the coordinator' using errcode = '0A000';
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'songmatch_owner' and rolcanlogin) then
        raise exception 'songmatch_owner cannot log in: Citus reaches the other nodes as the current role, and songmatch writes its derived rows as songmatch_owner'
            using errcode = '42501',
                  hint = 'ALTER ROLE songmatch_owner LOGIN (propagated to every node), and let it connect between the nodes only (pg_hba.conf, pg_dist_authinfo).';
    end if;
    if shard_count is null or shard_count < 1 then
        raise exception 'shard_count must be at least 1, got %', shard_count using errcode = '22023';
    end if;
    if exists (select 1 from pg_catalog.pg_dist_partition where logicalrelid = 'songmatch.playlists'::regclass) then
        return jsonb_build_object('distributed', false, 'reason', 'already distributed',
                                  'privileges_synced', songmatch.sync_workers());
    end if;
    perform pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    perform pg_catalog.set_config('client_min_messages', 'warning', true);  -- (Citus's notices of every table)
    -- (foreign keys to reference tables: Citus then works over one connection per node)
    perform pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- 1. every foreign key of songmatch's tables, kept to be made again
    for fk in
        select c.conrelid::regclass as tbl, c.conname, pg_catalog.pg_get_constraintdef(c.oid) as def,
               cl.relname as src, rl.relname as dst
          from pg_catalog.pg_constraint c
          join pg_catalog.pg_class cl on cl.oid = c.conrelid
          join pg_catalog.pg_class rl on rl.oid = c.confrelid
         where c.contype = 'f' and c.connamespace = 'songmatch'::regnamespace
         order by 1, 2
    loop
        fks := fks || jsonb_build_object('tbl', fk.tbl::text, 'src', fk.src, 'dst', fk.dst, 'name', fk.conname, 'def', fk.def);
    end loop;

    -- 2. on every node (the workers' own songmatch tables serve Citus as the tables' shells): the
    -- foreign keys dropped, the per-user tables' keys with their user, and the triggers that fill
    -- in a member's owner dropped (a write on a node cannot look up a playlist on another: on the
    -- cluster, members and analyses are written with their owner_id, which routes them).
    -- Idempotent, so that a distribute() that failed half-way can run again.
    prep := $prep$
    do $do$
    declare
        c record;
    begin
        for c in select conrelid::regclass as tbl, conname from pg_catalog.pg_constraint
                  where contype = 'f' and connamespace = 'songmatch'::regnamespace loop
            execute pg_catalog.format('alter table %s drop constraint %I', c.tbl, c.conname);
        end loop;
        if exists (select 1 from pg_catalog.pg_constraint where conname = 'playlists_owner_id_id_key') then
            alter table songmatch.playlists drop constraint playlists_pkey, drop constraint playlists_owner_id_id_key,
                                            add constraint playlists_pkey primary key (owner_id, id);
            alter table songmatch.playlists drop constraint playlists_external_id_key,
                                            add constraint playlists_owner_id_external_id_key unique (owner_id, external_id);
            create index playlists_id_idx on songmatch.playlists (id);
            alter table songmatch.playlist_tracks drop constraint playlist_tracks_pkey,
                                                  add constraint playlist_tracks_pkey primary key (owner_id, playlist_id, track_id);
            alter table songmatch.playlist_analyses drop constraint playlist_analyses_pkey,
                                                    add constraint playlist_analyses_pkey primary key (owner_id, playlist_id);
            alter table songmatch.playlist_profiles drop constraint playlist_profiles_pkey,
                                                    add constraint playlist_profiles_pkey primary key (owner_id, id);
            alter table songmatch.match_contexts drop constraint match_contexts_pkey, drop constraint match_contexts_user_id_id_key,
                                                 add constraint match_contexts_pkey primary key (user_id, id);
            alter table songmatch.match_results drop constraint match_results_pkey,
                                                add constraint match_results_pkey primary key (user_id, context_id, playlist_id, track_id);
        end if;
        drop trigger if exists playlist_tracks_owner on songmatch.playlist_tracks;
        drop trigger if exists playlist_analyses_owner on songmatch.playlist_analyses;
    end
    $do$
    $prep$;
    execute prep;
    for res in select * from pg_catalog.run_command_on_workers(prep) loop
        if not res.success then
            raise exception 'songmatch.distribute(): preparing the worker %:% failed: %', res.nodename, res.nodeport, res.result
                using errcode = '58000', hint = 'Fix the worker and run songmatch.distribute() again.';
        end if;
    end loop;

    -- 3. reference tables, then the per-user tables, co-located with playlists (copying the rows
    -- into the shards changes nothing: songmatch's triggers are off meanwhile)
    foreach t in array reference || per_user loop
        execute format('alter table songmatch.%I disable trigger user', t);
    end loop;
    foreach t in array reference loop
        perform pg_catalog.create_reference_table(format('songmatch.%I', t)::regclass);
    end loop;
    perform pg_catalog.create_distributed_table('songmatch.playlists', 'owner_id', shard_count => shard_count, colocate_with => 'none');
    for i in 2 .. cardinality(per_user) loop
        perform pg_catalog.create_distributed_table(format('songmatch.%I', per_user[i])::regclass, user_col[i],
                                                    colocate_with => 'songmatch.playlists');
    end loop;
    -- (the coordinator's local copies of the rows, now in the shards)
    foreach t in array reference || per_user loop
        perform pg_catalog.truncate_local_data_after_distributing_table(format('songmatch.%I', t)::regclass);
    end loop;

    foreach t in array reference || per_user loop
        execute format('alter table songmatch.%I enable trigger user', t);
    end loop;

    -- 4. the foreign keys again, where Citus can hold them
    for fk in select * from jsonb_to_recordset(fks) as x(tbl text, src text, dst text, name text, def text) loop
        src_kind := case when fk.src = any (reference) then 'reference' when fk.src = any (per_user) then 'distributed' else 'local' end;
        ref_kind := case when fk.dst = any (reference) then 'reference' when fk.dst = any (per_user) then 'distributed' else 'local' end;
        def := fk.def;
        if src_kind = 'local' and ref_kind <> 'local' then
            dropped := dropped || jsonb_build_object('table', fk.tbl, 'constraint', fk.name);
            continue;
        end if;
        if fk.name = 'match_results_playlist_id_fkey' then
            def := 'FOREIGN KEY (user_id, playlist_id) REFERENCES songmatch.playlists(owner_id, id) ON DELETE CASCADE';
        end if;
        -- (Citus does not cascade updates of the distribution column, which it never changes)
        def := replace(def, ' ON UPDATE CASCADE', '');
        execute format('alter table %s add constraint %I %s', fk.tbl, fk.name, def);
    end loop;

    -- (a playlist's profile is recomputed where its user lives, when it is matched: the
    -- coordinator's refresh keeps to the catalogue)
    delete from songmatch.stale_items where kind = 'profile';

    -- 5. the calls that name their user run on the node that holds it
    foreach t in array delegated loop
        perform pg_catalog.create_distributed_function(t::regprocedure, '$1', colocate_with => 'songmatch.playlists',
                                                       force_delegation => true);
    end loop;

    return jsonb_build_object('distributed', true, 'shard_count', shard_count, 'privileges_synced', songmatch.sync_workers(),
                              'reference_tables', to_jsonb(reference), 'distributed_tables', to_jsonb(per_user),
                              'delegated_functions', to_jsonb(delegated), 'foreign_keys_left_out', dropped);
end
$$;
comment on function songmatch.distribute(integer) is
    'Citus: makes the catalogue reference tables and the per-user tables distributed by user (co-located), and delegates the calls that name their user. Run once on the coordinator.';

-- The workers' copies of songmatch (which Citus uses as the shells of its tables, and where the
-- delegated calls run) need the coordinator's grants on songmatch's schema, distributed tables and
-- functions, and its row-level security. Citus carries GRANTs and policies to the workers once the
-- tables and functions are distributed, but not those made before, nor to a node added later: so
-- they are given again here, on the coordinator, now that Citus carries them. distribute() runs
-- this; running distribute() again (after grant_access on the coordinator, or after adding a
-- node) runs it again. Returns how many grants were given.
create function songmatch.sync_workers() returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    grants text[];
    g      text;
    pol    record;
begin
    -- (foreign keys to reference tables: Citus then works over one connection per node)
    perform pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    select coalesce(array_agg(x.g order by x.g), '{}') into grants from (
        select pg_catalog.format('grant %s on schema songmatch to %s', a.privilege_type,
                                 case a.grantee when 0 then 'public' else pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) end) as g
          from pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
         where n.oid = 'songmatch'::regnamespace and a.grantee <> n.nspowner
        union all
        select pg_catalog.format('grant %s on %s to %s', a.privilege_type, c.oid::regclass,
                                 case a.grantee when 0 then 'public' else pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) end)
          from pg_catalog.pg_class c join pg_catalog.pg_dist_partition d on d.logicalrelid = c.oid, pg_catalog.aclexplode(c.relacl) a
         where c.relnamespace = 'songmatch'::regnamespace and a.grantee <> c.relowner
        union all
        select pg_catalog.format('grant execute on function %s to %s', p.oid::regprocedure,
                                 case a.grantee when 0 then 'public' else pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) end)
          from pg_catalog.pg_proc p join pg_catalog.pg_dist_object o on o.classid = 'pg_proc'::regclass and o.objid = p.oid,
               pg_catalog.aclexplode(p.proacl) a
         where p.pronamespace = 'songmatch'::regnamespace and a.grantee <> p.proowner) x;
    foreach g in array grants loop
        execute g;
    end loop;
    -- row-level security and the policies, as they are here (made again, by this session: Citus
    -- carries them over the connections this transaction already holds)
    for pol in
        select c.oid::regclass as tbl, p.polname, p.polcmd, p.polpermissive,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) as qual, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as chk,
               array(select case r when 0 then 'public' else pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) end
                       from unnest(p.polroles) r) as roles
          from pg_catalog.pg_policy p join pg_catalog.pg_class c on c.oid = p.polrelid
          join pg_catalog.pg_dist_partition d on d.logicalrelid = c.oid
         where c.relnamespace = 'songmatch'::regnamespace and c.relrowsecurity
    loop
        execute pg_catalog.format('alter table %s enable row level security', pol.tbl);
        execute pg_catalog.format('drop policy if exists %I on %s', pol.polname, pol.tbl);
        execute pg_catalog.format('create policy %I on %s as %s for %s to %s%s%s', pol.polname, pol.tbl,
                                  case when pol.polpermissive then 'permissive' else 'restrictive' end,
                                  case pol.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                                                  when 'd' then 'delete' else 'all' end,
                                  array_to_string(pol.roles, ', '),
                                  coalesce(' using (' || pol.qual || ')', ''), coalesce(' with check (' || pol.chk || ')', ''));
    end loop;
    return cardinality(grants);
end
$$;
comment on function songmatch.sync_workers() is
    'Citus: gives the workers'' copies of songmatch the coordinator''s grants on distributed objects and its row-level security (distribute() runs it).';

-- PostgREST on Citus: its db-pre-request function (db-pre-request = "songmatch.citus_pre_request").
-- PostgREST passes the caller's JWT claims with set_config(..., true), which Citus does not carry
-- to a delegated call, so row-level security on the worker would see no user (and show nothing).
-- This sets them again with SET LOCAL, which Citus then sends to every node the transaction uses
-- (citus.propagate_set_commands = 'local' for this transaction). Without Citus it does nothing.
create function songmatch.citus_pre_request() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    claims text := pg_catalog.current_setting('request.jwt.claims', true);
begin
    if pg_catalog.to_regclass('pg_catalog.pg_dist_partition') is null then
        return;
    end if;
    perform pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
    if claims is not null and claims <> '' then
        execute pg_catalog.format('set local request.jwt.claims = %L', claims);
    end if;
end
$$;
comment on function songmatch.citus_pre_request() is
    'PostgREST db-pre-request on Citus: carries the request''s JWT claims to the nodes its calls are delegated to.';

-- ------------------------------------------------------------------------------------------
-- owners, search paths and grants of the new functions, as in a fresh install (finalize.sql)
-- ------------------------------------------------------------------------------------------
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
    execute format('alter function songmatch.upsert_track_embedding(bigint, text, text, text, text, vector) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
    execute format('alter function songmatch.upsert_track_embedding_half(bigint, text, text, text, text, halfvec) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
end
$$;
do $$
declare
    f regprocedure;
begin
    for f in
        select p.oid::regprocedure from pg_catalog.pg_proc p
         where p.pronamespace = 'songmatch'::regnamespace
           and p.oid = any (array[
               'songmatch.fill_playlist_owner()', 'songmatch.shard_of(regclass,name)', 'songmatch.stale_marks_here(name)',
               'songmatch.bump_catalogue_generation(name)', 'songmatch.bump_user_generations(uuid[],name)',
               'songmatch.mark_stale_tracks(bigint[],text,boolean)', 'songmatch.distribute(integer)', 'songmatch.sync_workers()',
               'songmatch.match_context(uuid,bigint,bigint[],integer,jsonb)', 'songmatch.match_playlist(uuid,bigint,bigint[],integer,jsonb)',
               'songmatch.citus_pre_request()']::regprocedure[])
    loop
        execute format('alter function %s owner to songmatch_owner', f);
        execute format('revoke execute on function %s from public', f);
    end loop;
end
$$;
-- the roles that may execute match_playlist (API and management roles) may execute the new
-- overloads; management roles (those that may execute grant_management) the new management functions
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
        execute format('grant execute on function songmatch.citus_pre_request() to %I', r);
    end loop;
    for r in
        select a.rolname from pg_catalog.pg_roles a
         where a.rolname <> 'songmatch_owner' and not a.rolsuper
           and has_function_privilege(a.oid, 'songmatch.grant_management(name)', 'EXECUTE')
    loop
        execute format('grant execute on function songmatch.distribute(integer) to %I', r);
        execute format('grant execute on function songmatch.sync_workers() to %I', r);
        execute format('grant execute on function songmatch.shard_of(regclass, name) to %I', r);
        execute format('grant execute on function songmatch.stale_marks_here(name) to %I', r);
        execute format('grant execute on function songmatch.fill_playlist_owner() to %I', r);
        execute format('grant execute on function songmatch.bump_catalogue_generation(name) to %I', r);
        execute format('grant execute on function songmatch.bump_user_generations(uuid[], name) to %I', r);
        execute format('grant execute on function songmatch.mark_stale_tracks(bigint[], text, boolean) to %I', r);
    end loop;
end
$$;
