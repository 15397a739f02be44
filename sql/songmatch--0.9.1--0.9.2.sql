-- songmatch 0.9.1 -> 0.9.2: one definition of a catalogue row's content, and models() returns a
-- named row type.
--
-- * songmatch.row_content(row): the row as JSON without its id and timestamps, what content
--   hashes, documents and signals are computed from. The catalogue's triggers call it instead of
--   writing the expression out (the same values: no hash, mark or artifact changes).
-- * songmatch.models() returns songmatch.model_info rows (the same columns); its grants are kept.

create function songmatch.row_content(r anyelement) returns jsonb
language sql stable parallel safe
as $$ select pg_catalog.to_jsonb(r) operator(pg_catalog.-) array['id', 'created_at', 'updated_at']::text[] $$;
alter function songmatch.row_content(anyelement) owner to songmatch_owner;
grant execute on function songmatch.row_content(anyelement) to public;

create type songmatch.model_info as (
    id          text,
    name        text,
    version     text,
    kind        text,
    dims        int,
    max_tokens  int,
    storage     text,
    loaded      bool
);

-- (the grants of the function it replaces are given again)
do $$
declare
    acl pg_catalog.aclitem[] := (select p.proacl from pg_catalog.pg_proc p where p.oid = 'songmatch.models()'::pg_catalog.regprocedure);
    g   record;
begin
    drop function songmatch.models();
    create function songmatch.models() returns setof songmatch.model_info
    strict stable
    language c
    as 'MODULE_PATHNAME', 'models_wrapper';
    alter function songmatch.models() set search_path = pg_catalog, pg_temp;
    alter function songmatch.models() owner to songmatch_owner;
    revoke execute on function songmatch.models() from public;
    for g in
        select a.grantee::pg_catalog.regrole as role
          from pg_catalog.aclexplode(acl) a
         where a.privilege_type = 'EXECUTE' and a.grantee <> 0
           and a.grantee <> 'songmatch_owner'::pg_catalog.regrole
    loop
        execute pg_catalog.format('grant execute on function songmatch.models() to %s', g.role);
    end loop;
end
$$;

-- the catalogue's triggers, with songmatch.row_content
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
        -- (locked before the track and its analysis are read: see below)
        execute pg_catalog.format('select 1 from %s where track_id = $1 for update', shards[1]) using tid;
        execute pg_catalog.format(
            'insert into %s as tc (track_id, content_hash, signals, document_hash)
             select s.id, songmatch.content_hash(''track_content'', jsonb_build_object(''track'', s.track, ''analysis'', s.analysis)),
                    songmatch.track_signals(s.track, s.analysis), songmatch.track_document_hash(s.track, s.analysis)
               from (select t.id, to_jsonb(t) - array[''id'', ''created_at'', ''updated_at''] as track, a.analysis
                       from %s t left join %s a on a.track_id = t.id
                      where t.id = $1) s
             on conflict (track_id) do update set content_hash = excluded.content_hash, signals = excluded.signals,
                    document_hash = excluded.document_hash, updated_at = now()
              where tc.content_hash <> excluded.content_hash or tc.signals is distinct from excluded.signals
                 or tc.document_hash is distinct from excluded.document_hash',
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
    -- The track's row is locked before its track and analysis are read. Two transactions that
    -- change one track at once, one its row (a popularity) and one its analysis, would otherwise
    -- each compute from what it saw of the other's table before that committed, and the one that
    -- wrote last would store a document hash (and signals) of neither: artifacts keyed by a
    -- document nobody has, genres never marked again. Here the second waits for the first and
    -- then reads it (READ COMMITTED: each statement reads what has committed).
    perform 1 from songmatch.track_content tc where tc.track_id = tid for update;
    insert into songmatch.track_content as tc (track_id, content_hash, signals, document_hash)
    select s.id, songmatch.content_hash('track_content', jsonb_build_object('track', s.track, 'analysis', s.analysis)),
           songmatch.track_signals(s.track, s.analysis), songmatch.track_document_hash(s.track, s.analysis)
      from (select t.id, songmatch.row_content(t) as track, a.analysis
              from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id
             where t.id = tid) s
    on conflict (track_id) do update set content_hash = excluded.content_hash, signals = excluded.signals,
           document_hash = excluded.document_hash, updated_at = now()
     where tc.content_hash <> excluded.content_hash or tc.signals is distinct from excluded.signals
        or tc.document_hash is distinct from excluded.document_hash;
    return null;
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

create or replace function songmatch.stale_tracks_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    -- (a Citus shard: only the coordinator's copy marks, and no profiles; sql/shards.sql)
    plain   boolean := tg_table_name = 'tracks';
    changed bigint[];
    ids     bigint[];
    kinds   text[];
begin
    if not (plain or songmatch.stale_marks_here(tg_table_name)) then
        return null;
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_tracks(array(select n.id from new_rows n), 'tracks insert', plain);
    elsif tg_op = 'UPDATE' and plain then
        changed := array(
            select n.id from new_rows n join old_rows o on o.id = n.id
             where songmatch.row_content(n) is distinct from songmatch.row_content(o));
        select array_agg(d.id order by k.kind, d.id), array_agg(k.kind order by k.kind, d.id) into ids, kinds
          from (select n.id from new_rows n join old_rows o on o.id = n.id
                  left join songmatch.track_analyses a on a.track_id = n.id
                 where n.id = any (changed)
                   and songmatch.track_document_hash(songmatch.row_content(n), a.analysis)
                       is distinct from songmatch.track_document_hash(songmatch.row_content(o), a.analysis)) d
         cross join (values ('embedding'), ('emotions'), ('genres')) k(kind);
        perform songmatch.mark_stale_changes(ids, kinds, changed, 'tracks update');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_tracks(array(
            select coalesce(n.id, o.id)
              from new_rows n full join old_rows o on o.id = n.id
             where n.id is null or o.id is null
                or songmatch.row_content(n) is distinct from songmatch.row_content(o)), 'tracks update', plain);
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
    plain   boolean := tg_table_name = 'track_analyses';
    changed bigint[];
    ids     bigint[];
    kinds   text[];
begin
    if not (plain or songmatch.stale_marks_here(tg_table_name)) then
        return null;
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_tracks(array(select n.track_id from new_rows n), 'track_analyses insert', plain);
    elsif tg_op = 'UPDATE' and plain then
        -- genres and profiles follow the analysis; embedding and emotions the document
        changed := array(
            select n.track_id from new_rows n join old_rows o on o.track_id = n.track_id
             where n.analysis is distinct from o.analysis);
        select array_agg(i.id order by i.kind, i.id), array_agg(i.kind order by i.kind, i.id) into ids, kinds
          from (select x.id, 'genres' as kind from unnest(changed) x(id)
                union all
                select n.track_id, k.kind from new_rows n join old_rows o on o.track_id = n.track_id
                  join songmatch.tracks t on t.id = n.track_id
                 cross join (values ('embedding'), ('emotions')) k(kind)
                 where n.track_id = any (changed)
                   and songmatch.track_document_hash(songmatch.row_content(t), n.analysis)
                       is distinct from songmatch.track_document_hash(songmatch.row_content(t), o.analysis)) i;
        perform songmatch.mark_stale_changes(ids, kinds, changed, 'track_analyses update');
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
                or songmatch.row_content(n) is distinct from songmatch.row_content(o)), 'playlists update');
    else
        delete from songmatch.stale_items s where s.kind = 'profile' and s.item_id in (select o.id from old_rows o);
    end if;
    return null;
end
$$;
