-- Supabase RPC contract: what PostgREST does, row-level security, grants (runs after matching)
\set VERBOSITY terse
do $$ begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
end $$;
select songmatch.grant_access('anon'), songmatch.grant_access('authenticated'), songmatch.grant_management('service_role');
select songmatch.enable_row_level_security();
select songmatch.enable_row_level_security();  -- idempotent
-- a second user with a playlist of their own
insert into songmatch.playlists (external_id, owner_id, name, description)
values ('other:p1', '00000000-0000-4000-8000-000000000002', 'Other mix', 'Someone else''s songs');
insert into songmatch.playlist_tracks (playlist_id, track_id)
select (select id from songmatch.playlists where external_id = 'other:p1'), id from songmatch.tracks
 where external_id in ('demo:t014', 'demo:t015', 'demo:t016');
insert into songmatch.liked_tracks (user_id, track_id)
select '00000000-0000-4000-8000-000000000002', id from songmatch.tracks where external_id in ('demo:t023', 'demo:t024', 'demo:t001');
select id as p4 from songmatch.playlists where external_id = 'demo:p4' \gset
select id as other from songmatch.playlists where external_id = 'other:p1' \gset
select set_config('songmatch_test.p4', :'p4', false) is not null as remembered;
-- the owner, exactly as PostgREST calls an RPC
begin;
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}', true) is not null as claims;
select songmatch.current_user_id();
select t.external_id, m.rank from songmatch.match_playlist(playlist_id => :p4, top_k => 3) m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
select count(*) as own_playlists from songmatch.playlists;
select count(*) > 0 as own_contexts, bool_and(user_id = '00000000-0000-4000-8000-000000000001') as all_mine from songmatch.match_contexts;
commit;
-- another user: cannot see, match or read the cache of the first
begin;
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "00000000-0000-4000-8000-000000000002", "role": "authenticated"}', true) is not null as claims;
select count(*) as visible_playlists from songmatch.playlists;
do $$ begin perform songmatch.match_playlist(current_setting('songmatch_test.p4')::bigint, top_k => 3);
exception when others then raise notice '% %', sqlstate, regexp_replace(sqlerrm, '[0-9]+', 'N'); end $$;
select count(*) as contexts_seen, count(*) filter (where user_id <> '00000000-0000-4000-8000-000000000002') as foreign_contexts
  from songmatch.match_contexts;
select count(*) as results_seen from songmatch.match_results;
select count(*) as other_users_songs from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001');
-- their own playlist works, and their cache rows are theirs
select t.external_id, m.rank from songmatch.match_playlist(:other, top_k => 2) m
  join songmatch.tracks t on t.id = m.track_id order by m.rank;
select count(*) as my_contexts from songmatch.match_contexts;
commit;
-- no claims at all (e.g. a direct login as authenticated): nothing is visible
begin;
set local role authenticated;
select count(*) as no_claims_playlists from songmatch.playlists;
commit;
-- anon: pure functions only
begin;
set local role anon;
select left(songmatch.content_hash('track_content', '{}'), 6) as anon_hash;
do $$ begin perform songmatch.match_playlist(1);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.embed('x');
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
commit;
-- service_role bypasses row-level security
begin;
set local role service_role;
select count(*) as all_playlists from songmatch.playlists;
commit;
-- file settings stay superuser-only for every API role
begin;
set local role service_role;
do $$ begin perform set_config('songmatch.model_dir', '/tmp', true);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
commit;
-- the API is SECURITY INVOKER; what runs as songmatch_owner: triggers and management switches
select p.proname, pg_get_userbyid(p.proowner) as owner, array_to_string(p.proconfig, ';') as config
  from pg_proc p where p.pronamespace = 'songmatch'::regnamespace and p.prosecdef order by 1;
select count(*) filter (where has_function_privilege('authenticated', p.oid, 'execute') and p.prosecdef) as api_definer,
       count(*) filter (where has_function_privilege('authenticated', p.oid, 'execute')) > 20 as api_functions
  from pg_proc p where p.pronamespace = 'songmatch'::regnamespace;
-- no API role writes a table of songmatch; the tables belong to songmatch_owner
select r.rolname, count(*) filter (where has_table_privilege(r.oid, c.oid, p)) as writable
  from pg_roles r, pg_class c, unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
 where r.rolname in ('anon', 'authenticated') and c.relnamespace = 'songmatch'::regnamespace and c.relkind = 'r'
 group by 1 order by 1;
select string_agg(distinct pg_get_userbyid(c.relowner), ',') as table_owners
  from pg_class c where c.relnamespace = 'songmatch'::regnamespace and c.relkind in ('r', 'v', 'S');
select songmatch.disable_row_level_security();
