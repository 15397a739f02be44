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
-- versions (and the PostgreSQL major the library was built for: the server's own)
select songmatch.versions() - 'postgresql' as versions;
select songmatch.versions()->>'postgresql' = (current_setting('server_version_num')::int / 10000)::text as built_for_this_server;
-- settings exist, and those naming files are superuser-only
select name, context from pg_settings where name like 'songmatch.%' order by 1;
-- only one active bundle
insert into songmatch.model_bundles (bundle_hash, name, embedding_model, embedding_model_version, algorithm_version, is_active)
values ('mb_v1_' || repeat('a', 64), 'a', 'm', '1', '1', true);
insert into songmatch.model_bundles (bundle_hash, name, embedding_model, embedding_model_version, algorithm_version, is_active)
values ('mb_v1_' || repeat('b', 64), 'b', 'm', '1', '1', true);
delete from songmatch.model_bundles;
-- per-user rows carry their user: members and analyses written without owner_id get their
-- playlist's, a playlist that does not exist is refused (23503), and a playlist given to
-- another owner takes its rows along
begin;
insert into songmatch.tracks (id, name, artist) values (9001, 'o1', 'x'), (9002, 'o2', 'x');
insert into songmatch.playlists (id, owner_id, name)
values (9001, '00000000-0000-0000-0000-0000000000a1', 'own'), (9002, '00000000-0000-0000-0000-0000000000b2', 'other');
insert into songmatch.playlist_tracks (playlist_id, track_id) values (9001, 9001), (9001, 9002), (9002, 9001);
insert into songmatch.playlist_analyses (playlist_id, analysis) values (9001, '{}');
select playlist_id, track_id, owner_id from songmatch.playlist_tracks where playlist_id in (9001, 9002) order by 1, 2;
select playlist_id, owner_id from songmatch.playlist_analyses where playlist_id = 9001;
-- a member moved to the other playlist takes that playlist's owner
update songmatch.playlist_tracks set playlist_id = 9002 where playlist_id = 9001 and track_id = 9002;
select owner_id from songmatch.playlist_tracks where track_id = 9002;
-- an owner given explicitly must be the playlist's
\set VERBOSITY terse
savepoint s;
insert into songmatch.playlist_tracks (playlist_id, track_id, owner_id) values (9001, 9002, '00000000-0000-0000-0000-0000000000b2');
rollback to savepoint s;
insert into songmatch.playlist_tracks (playlist_id, track_id) values (9999, 9001);
rollback to savepoint s;
\set VERBOSITY default
update songmatch.playlists set owner_id = '00000000-0000-0000-0000-0000000000c3' where id = 9001;
select t.playlist_id, t.owner_id, a.owner_id as analysis_owner
  from songmatch.playlist_tracks t left join songmatch.playlist_analyses a using (playlist_id)
 where t.playlist_id = 9001;
rollback;
