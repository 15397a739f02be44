-- songmatch 0.6.0 -> 0.7.0: the feature store.
--
-- * songmatch.build_feature_store(force => false) writes the database's feature store (a packed
--   snapshot of every track's content hash, stage-1 signals and embedding, src/sql/store.rs),
--   which matches read instead of the tables while the catalogue's counter is the one it was
--   taken at. The background refresher builds it once the catalogue's changes have settled.
-- * songmatch.feature_store_status() says whether the store is current and what it holds.
-- * The new functions belong to songmatch_owner and are executable by management roles only,
--   with the search path of a fresh install.

CREATE FUNCTION songmatch."build_feature_store"(
	"force" bool DEFAULT false /* bool */
) RETURNS jsonb /* JsonB */
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'build_feature_store_wrapper';
comment on function songmatch.build_feature_store(boolean) is
    'Writes this database''s feature store for the active bundle at the catalogue''s current generation (unless it is already of it); returns what it holds.';

CREATE FUNCTION songmatch."feature_store_status"() RETURNS jsonb /* JsonB */
STRICT VOLATILE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'feature_store_status_wrapper';
comment on function songmatch.feature_store_status() is
    'Whether this database''s feature store is on and current, and what it holds.';

alter function songmatch.build_feature_store(boolean) set search_path = pg_catalog, pg_temp;
alter function songmatch.build_feature_store(boolean) owner to songmatch_owner;
revoke execute on function songmatch.build_feature_store(boolean) from public;
alter function songmatch.feature_store_status() set search_path = pg_catalog, pg_temp;
alter function songmatch.feature_store_status() owner to songmatch_owner;
revoke execute on function songmatch.feature_store_status() from public;

-- management roles (those that may execute grant_management) may execute it
do $$
declare
    r name;
begin
    for r in
        select a.rolname from pg_catalog.pg_roles a
         where a.rolname <> 'songmatch_owner' and not a.rolsuper
           and has_function_privilege(a.oid, 'songmatch.grant_management(name)', 'EXECUTE')
    loop
        execute format('grant execute on function songmatch.build_feature_store(boolean) to %I', r);
        execute format('grant execute on function songmatch.feature_store_status() to %I', r);
    end loop;
end
$$;
