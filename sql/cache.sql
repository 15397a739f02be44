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

-- (on_table: the trigger's table; on a Citus shard the counters beside it are written, sql/shards.sql)
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

-- tracks and track_analyses: a change of what a track's content hash covers
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
                       or songmatch.row_content(n) is distinct from songmatch.row_content(o)) then
            perform songmatch.bump_catalogue_generation(tg_table_name);
        end if;
    elsif exists (select 1 from new_rows n full join old_rows o on o.track_id = n.track_id
                   where n.track_id is null or o.track_id is null or n.analysis is distinct from o.analysis) then
        perform songmatch.bump_catalogue_generation(tg_table_name);
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
