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
