-- artifact tables: idempotent upserts, dimension checks
\set VERBOSITY terse
insert into songmatch.tracks (external_id, name, artist) values ('x:1', 'One', 'A'), ('x:2', 'Two', 'B');
select songmatch.upsert_track_embedding(t.id, 'document', 'toy', '1', 'te_v1_' || repeat('0', 64), '[1,0,0]')
       = songmatch.upsert_track_embedding(t.id, 'document', 'toy', '1', 'te_v1_' || repeat('0', 64), '[1,0,0]') as same_row
  from songmatch.tracks t where external_id = 'x:1';
select count(*) from songmatch.track_embeddings;
-- a new content hash updates the one row in place
select songmatch.upsert_track_embedding(t.id, 'document', 'toy', '1', 'te_v1_' || repeat('1', 64), '[0,1,0]') is not null as ok
  from songmatch.tracks t where external_id = 'x:1';
select count(*), min(content_hash) = 'te_v1_' || repeat('1', 64) as updated, min(embedding::text) as embedding
  from songmatch.track_embeddings;
-- another model version is another row
select songmatch.upsert_track_embedding(t.id, 'document', 'toy', '2', 'te_v1_' || repeat('1', 64), '[0,1,0]') is not null as ok
  from songmatch.tracks t where external_id = 'x:1';
select model_version, dims from songmatch.track_embeddings order by 1;
-- dims must match the vector
insert into songmatch.track_embeddings (track_id, embedding_kind, model_name, model_version, dims, content_hash, embedding)
select id, 'document', 'toy', '3', 4, 'te_v1_' || repeat('1', 64), '[1,2,3]' from songmatch.tracks where external_id = 'x:2';
-- malformed hashes are refused
insert into songmatch.track_embeddings (track_id, embedding_kind, model_name, model_version, dims, content_hash, embedding)
select id, 'document', 'toy', '3', 3, 'nope', '[1,2,3]' from songmatch.tracks where external_id = 'x:2';
-- halfvec storage
insert into songmatch.track_embeddings (track_id, embedding_kind, model_name, model_version, dims, content_hash, embedding_half)
select id, 'document', 'toy-half', '1', 3, 'te_v1_' || repeat('2', 64), '[0.5,0.25,1]' from songmatch.tracks where external_id = 'x:2';
select model_name, embedding is null as no_f32, embedding_half::text from songmatch.track_embeddings where model_name = 'toy-half';
-- deleting a track deletes its artifacts
delete from songmatch.tracks;
select count(*) from songmatch.track_embeddings;
-- an index for another model's dimension
select songmatch.create_embedding_index('toy', 3) like 'track_embeddings_hnsw_%' as created;
do $$ begin perform songmatch.create_embedding_index('toy', 0);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
