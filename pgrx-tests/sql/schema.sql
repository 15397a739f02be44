-- create extension songmatch cascade creates pgvector and every songmatch object
\set VERBOSITY terse
set client_min_messages = warning;
create extension songmatch cascade;
reset client_min_messages;
select extname, extversion >= '0.8.0' as recent_enough from pg_extension where extname = 'vector';
select extname, extversion, extrelocatable, n.nspname
  from pg_extension e join pg_namespace n on n.oid = e.extnamespace where extname = 'songmatch';
-- tables
select c.relname
  from pg_class c where c.relnamespace = 'songmatch'::regnamespace and c.relkind = 'r'
 order by 1;
-- every table's rows are kept by pg_dump
select count(*) as dumped_config_tables
  from pg_extension e, unnest(e.extconfig) as t(oid)
  join pg_class c on c.oid = t.oid and c.relkind = 'r'
 where e.extname = 'songmatch';
-- unique keys that make artifact upserts idempotent
select conrelid::regclass as tbl, pg_get_constraintdef(oid) as def
  from pg_constraint
 where contype = 'u' and connamespace = 'songmatch'::regnamespace
 order by 1, 2;
-- the per-model HNSW expression indexes
select indexrelid::regclass is not null as present, pg_get_indexdef(indexrelid) ~ 'vector\(384\)' as d384,
       pg_get_indexdef(indexrelid) ~ 'vector\(1024\)' as d1024
  from pg_index where indrelid = 'songmatch.track_embeddings'::regclass and pg_get_indexdef(indexrelid) ~ 'hnsw'
 order by 2, 3;
-- versions
select songmatch.versions();
-- settings exist, and those naming files are superuser-only
select name, context from pg_settings where name like 'songmatch.%' order by 1;
-- only one active bundle
insert into songmatch.model_bundles (bundle_hash, name, embedding_model, embedding_model_version, algorithm_version, is_active)
values ('mb_v1_' || repeat('a', 64), 'a', 'm', '1', '1', true);
insert into songmatch.model_bundles (bundle_hash, name, embedding_model, embedding_model_version, algorithm_version, is_active)
values ('mb_v1_' || repeat('b', 64), 'b', 'm', '1', '1', true);
delete from songmatch.model_bundles;
