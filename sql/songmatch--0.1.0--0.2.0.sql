-- songmatch 0.1.0 -> 0.2.0: shared artifacts are the server's, not the caller's.
--
-- * songmatch_owner (a NOLOGIN role) owns the tables, views, sequences and SECURITY DEFINER
--   functions; songmatch's code writes derived rows with its rights (src/sql/privilege.rs).
-- * API roles hold no write privilege on any songmatch table: every role that 0.1.0's
--   grant_access made an API role (it held INSERT on track_embeddings but not DELETE on tracks)
--   is made one again by the new grant_access, which revokes the rest. Roles that 0.1.0 gave
--   everything (service_role, DBAs) keep it: they are management roles (grant_management).
-- * search_path pinned with pg_catalog first; the Rust functions that touch tables get
--   pg_catalog only.
-- * Request limits are settings of the library (songmatch.max_*): no SQL object.
-- * pg_dump no longer dumps stale_items: a restore rebuilds it through the staleness triggers
--   (0.1.0 dumps failed to restore: the dumped rows collided with the trigger-made ones).
-- * model_bundles gains ranker_model / ranker_model_version (a learned stage-2 ranker).
-- Data, artifacts and the match cache are kept as they are.

alter table songmatch.model_bundles
    add column ranker_model text,
    add column ranker_model_version text,
    add constraint model_bundles_ranker_check check ((ranker_model is null) = (ranker_model_version is null));

-- the evaluation's single-signal baselines also zero the new signals and switch stage 2 off
create or replace function songmatch.eval_baseline_config(label text)
returns jsonb
language sql
immutable
as $$
    -- one stage-1 signal alone: every other weight 0, and no stage 2 (ranker_weight 0)
    select case label
        when 'audio' then '{"weights": {"members": 0, "centroid": 0, "query": 0, "audio": 1, "genre": 0, "emotion": 0,
                                        "artist": 0, "album": 0, "year": 0, "popularity": 0}, "ranker_weight": 0}'::jsonb
        when 'embedding' then '{"weights": {"members": 0, "centroid": 1, "query": 0, "audio": 0, "genre": 0, "emotion": 0,
                                            "artist": 0, "album": 0, "year": 0, "popularity": 0}, "ranker_weight": 0}'::jsonb
    end
$$;

-- touch_updated_at runs inside songmatch's privileged writes: built-ins only
alter function songmatch.touch_updated_at() set search_path = pg_catalog, pg_temp;

-- row-level security switches: run as the tables' owner, management only
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

    -- tables that belong to a playlist or a context follow their parent's owner
    alter table songmatch.playlist_tracks enable row level security;
    drop policy if exists songmatch_owner on songmatch.playlist_tracks;
    create policy songmatch_owner on songmatch.playlist_tracks
        using (exists (select 1 from songmatch.playlists p where p.id = playlist_id and p.owner_id = songmatch.current_user_id()));

    alter table songmatch.playlist_analyses enable row level security;
    drop policy if exists songmatch_owner on songmatch.playlist_analyses;
    create policy songmatch_owner on songmatch.playlist_analyses
        using (exists (select 1 from songmatch.playlists p where p.id = playlist_id and p.owner_id = songmatch.current_user_id()));

    alter table songmatch.playlist_profiles enable row level security;
    drop policy if exists songmatch_owner on songmatch.playlist_profiles;
    create policy songmatch_owner on songmatch.playlist_profiles
        using (exists (select 1 from songmatch.playlists p where p.id = playlist_id and p.owner_id = songmatch.current_user_id()));

    alter table songmatch.match_results enable row level security;
    drop policy if exists songmatch_owner on songmatch.match_results;
    create policy songmatch_owner on songmatch.match_results
        using (exists (select 1 from songmatch.match_contexts c where c.id = context_id and c.user_id = songmatch.current_user_id()));
end
$$;

create or replace function songmatch.disable_row_level_security() returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    t text;
begin
    foreach t in array array['playlists', 'liked_tracks', 'match_contexts', 'playlist_tracks', 'playlist_analyses',
                             'playlist_profiles', 'match_results'] loop
        execute format('drop policy if exists songmatch_owner on songmatch.%I', t);
        execute format('alter table songmatch.%I disable row level security', t);
    end loop;
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
                              'classify_tracks', 'playlist_profile', 'match_playlist', 'match_songs_to_playlists'];
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
comment on function songmatch.grant_access(name) is
    'Makes a role an API role: anon gets the pure functions, others the matching API (SELECT on the catalogue and, under RLS, their rows; no write on shared tables).';

create function songmatch.grant_management(role_name name) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    perform songmatch.check_grantee(role_name);
    execute format('grant usage on schema songmatch to %I', role_name);
    execute format('grant execute on all routines in schema songmatch to %I', role_name);
    execute format('grant select, insert, update, delete, truncate on all tables in schema songmatch to %I', role_name);
    execute format('grant usage, select, update on all sequences in schema songmatch to %I', role_name);
end
$$;
comment on function songmatch.grant_management(name) is
    'Grants a management role (service_role, DBAs) all of songmatch: bundles, configs, evaluation, backfills, reloads, RLS and grants.';

create function songmatch.check_grantee(role_name name) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
    if role_name is null then
        raise exception 'role_name must not be NULL' using errcode = '22004';
    end if;
    if not exists (select 1 from pg_roles r where r.rolname = role_name) then
        raise exception 'role "%" does not exist', role_name using errcode = '42704';
    end if;
    if role_name = 'songmatch_owner' then
        raise exception 'songmatch_owner owns songmatch''s objects and is granted nothing' using errcode = '22023';
    end if;
end
$$;

-- the learned ranker's SQL functions (Rust): its feature names and vectors (for training) and a
-- parity/debug scorer
CREATE FUNCTION songmatch."ranker_feature_names"() RETURNS TEXT[]
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'ranker_feature_names_wrapper';
CREATE FUNCTION songmatch."ranker_features"(
	"member_track_ids" bigint[],
	"candidate_track_ids" bigint[],
	"playlist_id" bigint DEFAULT NULL
) RETURNS TABLE (
	"track_id" bigint,
	"features" real[]
)
VOLATILE
LANGUAGE c
AS 'MODULE_PATHNAME', 'ranker_features_wrapper';
CREATE FUNCTION songmatch."ranker_score"(
	"features" real[],
	"model" TEXT DEFAULT NULL
) RETURNS real
STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'ranker_score_wrapper';

-- search_path: pg_catalog first for SQL and plpgsql functions (0.1.0 had it after songmatch and
-- pgvector's schema); pg_catalog only for the Rust functions that touch tables
do $$
declare
    vschema text;
    f       regprocedure;
begin
    select n.nspname into strict vschema
      from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    for f in
        select p.oid::regprocedure
          from pg_catalog.pg_proc p
          join pg_catalog.pg_language l on l.oid = p.prolang
         where p.pronamespace = 'songmatch'::regnamespace
           and l.lanname in ('sql', 'plpgsql')
           and p.prokind = 'f'
           and (p.proconfig is null
                or p.proconfig = array[format('search_path=songmatch, %I, pg_catalog, pg_temp', vschema)])
    loop
        execute format('alter function %s set search_path = pg_catalog, songmatch, %I, pg_temp', f, vschema);
    end loop;
    for f in
        select p.oid::regprocedure
          from pg_catalog.pg_proc p
          join pg_catalog.pg_language l on l.oid = p.prolang
         where p.pronamespace = 'songmatch'::regnamespace
           and l.lanname = 'c'
           and p.provolatile in ('v', 's')
           and p.proconfig is null
           and p.prokind = 'f'
    loop
        execute format('alter function %s set search_path = pg_catalog, pg_temp', f);
    end loop;
end
$$;

-- ownership (as in finalize.sql)
do $$
declare
    r record;
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'songmatch_owner') then
        create role songmatch_owner nologin noinherit;
    elsif exists (select 1 from pg_catalog.pg_roles
                   where rolname = 'songmatch_owner' and (rolcanlogin or rolsuper or rolbypassrls)) then
        raise exception 'role songmatch_owner exists and can log in, is a superuser or bypasses row-level security'
            using errcode = '42501',
                  hint = 'songmatch_owner must be a plain NOLOGIN role: ALTER ROLE songmatch_owner NOLOGIN NOSUPERUSER NOBYPASSRLS.';
    end if;
    for r in
        select c.oid::regclass as rel, c.relkind
          from pg_catalog.pg_class c
         where c.relnamespace = 'songmatch'::regnamespace
           and (c.relkind in ('r', 'p', 'v', 'm')
                or (c.relkind = 'S' and not exists (select 1 from pg_catalog.pg_depend d
                                                     where d.classid = 'pg_class'::regclass and d.objid = c.oid
                                                       and d.deptype in ('a', 'i'))))
    loop
        execute format('alter %s %s owner to songmatch_owner',
                       case r.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                      when 'S' then 'sequence' else 'table' end, r.rel);
    end loop;
    for r in
        select p.oid::regprocedure as fn, p.prokind from pg_catalog.pg_proc p
         where p.pronamespace = 'songmatch'::regnamespace
    loop
        execute format('alter %s %s owner to songmatch_owner', case r.prokind when 'p' then 'procedure' else 'function' end, r.fn);
    end loop;
end
$$;
alter schema songmatch owner to songmatch_owner;
revoke execute on function songmatch.grant_management(name), songmatch.check_grantee(name),
    songmatch.ranker_feature_names(), songmatch.ranker_features(bigint[], bigint[], bigint),
    songmatch.ranker_score(real[], text) from public;

-- 0.1.0's API roles (INSERT on track_embeddings without DELETE on tracks) become 0.2.0 API roles
do $$
declare
    r name;
begin
    for r in
        select a.rolname from pg_catalog.pg_roles a
         where a.rolname <> 'songmatch_owner' and not a.rolsuper
           and has_table_privilege(a.oid, 'songmatch.track_embeddings', 'INSERT')
           and not has_table_privilege(a.oid, 'songmatch.tracks', 'DELETE')
    loop
        perform songmatch.grant_access(r);
    end loop;
end
$$;

-- stale_items leaves the tables whose rows pg_dump keeps (there is no function to unregister one)
update pg_catalog.pg_extension e
   set extconfig = (select array_agg(u.c order by u.i) from unnest(e.extconfig) with ordinality u(c, i)
                     where u.c <> 'songmatch.stale_items'::regclass),
       extcondition = (select array_agg(u.t order by u.i) from unnest(e.extconfig, e.extcondition) with ordinality u(c, t, i)
                        where u.c <> 'songmatch.stale_items'::regclass)
 where e.extname = 'songmatch';
