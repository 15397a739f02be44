-- The feature store (src/sql/store.rs): built by songmatch.build_feature_store (management roles,
-- and the background refresher once the catalogue's changes have settled); feature_store_status().
comment on function songmatch.build_feature_store(boolean) is
    'Writes this database''s feature store for the active bundle at the catalogue''s current generation (unless it is already of it); returns what it holds.';
comment on function songmatch.feature_store_status() is
    'Whether this database''s feature store is on and current, and what it holds.';
