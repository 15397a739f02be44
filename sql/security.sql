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
-- owner are not restricted. Idempotent.
create function songmatch.enable_row_level_security() returns void
language plpgsql
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

create function songmatch.disable_row_level_security() returns void
language plpgsql
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

-- Grants for an API role. `anon` gets the pure functions only; `authenticated` the functions
-- that read the catalogue and write artifacts and the match cache (SECURITY INVOKER: row-level
-- security applies); `service_role` (and any other role) everything, backfills included.
create function songmatch.grant_access(role_name name) returns void
language plpgsql
as $$
declare
    pure text[] := array['versions()', 'content_hash(text, jsonb)', 'id_set_hash(text, bigint[])', 'canonical_json(jsonb)',
                         'track_document(jsonb, jsonb, jsonb)', 'playlist_query(jsonb, jsonb)', 'current_user_id()'];
    f text;
begin
    execute format('grant usage on schema songmatch to %I', role_name);
    if role_name = 'anon' then
        foreach f in array pure loop
            execute format('grant execute on function songmatch.%s to %I', f, role_name);
        end loop;
        return;
    end if;
    execute format('grant execute on all functions in schema songmatch to %I', role_name);
    execute format('grant execute on all procedures in schema songmatch to %I', role_name);
    execute format('grant select on all tables in schema songmatch to %I', role_name);
    execute format('grant insert, update on songmatch.track_embeddings, songmatch.track_emotions, songmatch.track_genres,
                    songmatch.playlist_profiles, songmatch.match_contexts, songmatch.match_results,
                    songmatch.model_bundles to %I', role_name);
    execute format('grant insert on songmatch.stats_deltas to %I', role_name);
    execute format('grant usage on all sequences in schema songmatch to %I', role_name);
    if role_name = 'authenticated' then
        -- model and configuration management and the evaluation are for the service role / DBAs
        for f in select p.oid::regprocedure::text from pg_proc p
                  where p.pronamespace = 'songmatch'::regnamespace
                    and (p.proname in ('activate', 'register_bundle', 'reload_models', 'stats_reset', 'grant_access',
                                       'enable_row_level_security', 'disable_row_level_security', 'create_embedding_index')
                         or p.proname like 'eval\_%' or p.proname like 'backfill%') loop
            execute format('revoke execute on routine %s from %I', f, role_name);
        end loop;
    else
        execute format('grant insert, update, delete on all tables in schema songmatch to %I', role_name);
    end if;
end
$$;
comment on function songmatch.grant_access(name) is
    'Grants the API of songmatch to a role: anon (pure functions), authenticated (matching under RLS), others (everything).';

