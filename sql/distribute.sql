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
