-- Runs last in CREATE EXTENSION songmatch.
--
-- SQL and plpgsql functions are re-planned with the caller's search_path. Pin theirs to
-- songmatch, the schema pgvector lives in (public here, `extensions` on Supabase) and
-- pg_catalog, so that they work whatever search_path the caller (or PostgREST) has.
do $$
declare
    vschema text;
    f       regprocedure;
begin
    select n.nspname into strict vschema
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    for f in
        select p.oid::regprocedure
          from pg_proc p
          join pg_language l on l.oid = p.prolang
         where p.pronamespace = 'songmatch'::regnamespace
           and l.lanname in ('sql', 'plpgsql')
           and p.proconfig is null
           and p.prokind = 'f'
    loop
        execute format('alter function %s set search_path = songmatch, %I, pg_catalog, pg_temp', f, vschema);
    end loop;
end
$$;

-- Functions are created with PUBLIC execute; songmatch's API is granted per role instead, with
-- songmatch.grant_access(role) (see sql/security.sql and the README).
revoke execute on all routines in schema songmatch from public;
grant execute on function songmatch.current_user_id() to public;
