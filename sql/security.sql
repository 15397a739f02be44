-- Supabase / PostgREST: the caller's user id, row-level security for the per-user tables, and
-- the grants of the API roles. Nothing here is switched on by CREATE EXTENSION: the app decides
-- when, by calling songmatch.enable_row_level_security() and songmatch.grant_access(role).

-- The user id of the request: `sub` of the JWT claims PostgREST puts in request.jwt.claims
-- (NULL outside a request, or when `sub` is not a uuid).
create function songmatch.current_user_id() returns uuid
language plpgsql stable
as $$
declare
    sub text := nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub';
begin
    return sub::uuid;
exception when invalid_text_representation or invalid_parameter_value then
    return null;
end
$$;
comment on function songmatch.current_user_id() is
    'The uuid in request.jwt.claims->>''sub'' (set by PostgREST), or NULL.';

-- Row-level security: a user reads and matches only their own playlists, liked tracks and
-- match cache. Roles with BYPASSRLS (Supabase's service_role, superusers) and the tables'
-- owner (songmatch_owner) are not restricted. Idempotent. SECURITY DEFINER (owned by
-- songmatch_owner, like the tables), executable by management roles only.
create function songmatch.enable_row_level_security() returns void
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

create function songmatch.disable_row_level_security() returns void
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

-- The privilege model (README, "Privileges"):
--   API roles (anon, authenticated, any role given grant_access) hold EXECUTE on the API and
--   SELECT on the catalogue, the shared artifacts and (under row-level security) their own rows.
--   They hold no INSERT/UPDATE/DELETE/TRUNCATE on any songmatch table: songmatch's own code
--   stores what it derives with the rights of songmatch_owner (src/sql/privilege.rs).
--   Management roles (service_role, DBAs: grant_management) get everything: bundles,
--   activation, configs, evaluation, backfills, reloads, row-level security, grants.

-- Makes role_name an API role of songmatch: `anon` gets the pure functions only, any other role
-- the matching API. Whatever else the role held in schema songmatch is revoked first, so the
-- call also takes back earlier, wider grants.
create function songmatch.grant_access(role_name name) returns void
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
comment on function songmatch.grant_access(name) is
    'Makes a role an API role: anon gets the pure functions, others the matching API (SELECT on the catalogue and, under RLS, their rows; no write on shared tables).';

-- Makes role_name a management role (service_role, DBAs): every function and procedure, and
-- every table and sequence of songmatch.
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
