-- Runs last in CREATE EXTENSION songmatch.
--
-- SQL and plpgsql functions are re-planned with the caller's search_path. Pin theirs to
-- pg_catalog first (so that no function or operator a caller creates elsewhere can stand in for
-- a built-in one), then songmatch and the schema pgvector lives in (public here, `extensions` on
-- Supabase), and pg_temp last, so that they work whatever search_path the caller (or
-- PostgREST) has. Procedures are left alone: a procedure with a SET clause cannot COMMIT. So is
-- songmatch.row_content, which names pg_catalog's function and operator itself: the planner
-- inlines it into the catalogue's triggers, which a SET clause would prevent.
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
           and p.proconfig is null
           and p.prokind = 'f'
           and p.oid <> 'songmatch.row_content(anyelement)'::pg_catalog.regprocedure
    loop
        execute format('alter function %s set search_path = pg_catalog, songmatch, %I, pg_temp', f, vschema);
    end loop;
    -- songmatch's Rust functions that read or write tables name every object of songmatch with
    -- its schema and need nothing of pgvector's by name: only pg_catalog for them.
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

-- Who owns what. songmatch's tables, views and sequences and its SECURITY DEFINER functions
-- belong to the non-login role songmatch_owner (created here when the cluster does not have it
-- yet; roles are cluster-wide, so every database with songmatch shares it, and DROP EXTENSION
-- leaves it). songmatch's own code writes shared, derived rows (artifacts, profiles, the match
-- cache, counters) with this role's rights (src/sql/privilege.rs); API roles never hold a write
-- privilege on them (songmatch.grant_access).
do $$
declare
    r record;
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'songmatch_owner') then
        create role songmatch_owner nologin noinherit;
    -- (on Citus songmatch_owner logs in between the nodes: README, "Scaling out")
    elsif exists (select 1 from pg_catalog.pg_roles
                   where rolname = 'songmatch_owner'
                     and ((rolcanlogin and not exists (select 1 from pg_catalog.pg_extension where extname = 'citus'))
                          or rolsuper or rolbypassrls)) then
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

-- songmatch_owner reaches pgvector's functions and types by name (its writes run
-- vector_dims, its searches pgvector's operators), and a schema the role has no USAGE on drops out
-- of its search_path without an error. Where pgvector lives in a schema of its own (Supabase's
-- `extensions`), songmatch_owner gets USAGE on it (pgrx-tests/client/test_extensions_schema.sh).
do $$
declare
    vschema name;
begin
    select n.nspname into strict vschema
      from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    if not pg_catalog.has_schema_privilege('songmatch_owner', vschema, 'USAGE') then
        execute format('grant usage on schema %I to songmatch_owner', vschema);
    end if;
end
$$;

-- Functions are created with PUBLIC execute; songmatch's API is granted per role instead, with
-- songmatch.grant_access(role) and songmatch.grant_management(role) (sql/security.sql, README).
revoke execute on all routines in schema songmatch from public;
grant execute on function songmatch.current_user_id() to public;
-- (row_content: the catalogue's triggers call it as whoever writes the catalogue)
grant execute on function songmatch.row_content(anyelement) to public;
