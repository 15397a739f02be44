-- The feature store (src/sql/store.rs): built by songmatch.build_feature_store (management roles,
-- and the background refresher once the catalogue's changes have settled).
comment on function songmatch.build_feature_store(boolean) is
    'Writes this database''s feature store for the active bundle at the catalogue''s current generation (unless it is already of it); returns what it holds.';
