-- songmatch 0.8.0 -> 0.9.0: packages per PostgreSQL major (15 and 17).
--
-- * songmatch.versions() names the PostgreSQL major the library was built for (key `postgresql`).
--   The function's SQL definition is unchanged: the new key comes from the library.
-- * songmatch_owner gets USAGE on pgvector's schema when pgvector lives in a schema of its own
--   (Supabase's `extensions`): without it, songmatch could not store an embedding there.

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
