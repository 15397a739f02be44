-- The bad-input matrix: every user-facing function with NULLs, empty strings and arrays, 1 MB
-- text, 10k-element arrays, non-existent ids, wrong dimensions and unknown models. Each gives
-- its documented result or error, the backend survives, and nothing is written.
\set VERBOSITY terse
create function pg_temp.try(q text) returns text language plpgsql as $$
declare r text;
begin
    execute 'select (' || q || ')::text' into r;
    return 'ok ' || coalesce(left(r, 40), 'NULL');
exception when others then
    return sqlstate || ' ' || left(regexp_replace(sqlerrm, '[0-9]{3,}', 'N', 'g'), 110);
end $$;
create function pg_temp.tryset(q text) returns text language plpgsql as $$
declare n bigint;
begin
    execute 'select count(*) from (' || q || ') s' into n;
    return 'ok ' || n || ' rows';
exception when others then
    return sqlstate || ' ' || left(regexp_replace(sqlerrm, '[0-9]{3,}', 'N', 'g'), 110);
end $$;
create temp table before as
select (select count(*) from songmatch.track_embeddings) as emb, (select count(*) from songmatch.playlist_profiles) as prof,
       (select count(*) from songmatch.match_contexts) as ctx, (select count(*) from songmatch.match_results) as res,
       (select count(*) from songmatch.tracks) as tracks, (select count(*) from songmatch.model_bundles) as bundles;
select f, pg_temp.try(q) as result from (values
    ('content_hash null kind',    $q$songmatch.content_hash(null, '{}')$q$),
    ('content_hash empty kind',   $q$songmatch.content_hash('', '{}')$q$),
    ('content_hash 1MB string',   $q$left(songmatch.content_hash('track_content', jsonb_build_object('a', repeat('x', 1048576))), 6)$q$),
    ('id_set_hash 10k',           $q$left(songmatch.id_set_hash('candidate_set', array(select generate_series(1, 10000)::bigint)), 6)$q$),
    ('id_set_hash empty array',   $q$left(songmatch.id_set_hash('candidate_set', '{}'), 6)$q$),
    ('canonical_json null',       $q$songmatch.canonical_json(null)$q$),
    ('track_document empty obj',  $q$songmatch.track_document('{}', null)$q$),
    ('track_document not object', $q$songmatch.track_document('"x"', null)$q$),
    ('track_document empty name', $q$songmatch.track_document('{"name": ""}', null)$q$),
    ('playlist_query null',       $q$songmatch.playlist_query(null, null)$q$),
    ('playlist_query array',      $q$songmatch.playlist_query('{"name": "x"}', '[]')$q$),
    ('embed null',                $q$songmatch.embed(null)$q$),
    ('embed empty string',        $q$vector_dims(songmatch.embed(''))$q$),
    ('embed 1MB text',            $q$vector_dims(songmatch.embed(repeat('la ', 349525)))$q$),
    ('embed null kind',           $q$songmatch.embed('x', kind => null)$q$),
    ('embed unknown model',       $q$songmatch.embed('x', model => 'nope')$q$),
    ('embed model path',          $q$songmatch.embed('x', model => '../../../etc')$q$),
    ('embed_halfvec empty',       $q$vector_dims(songmatch.embed_halfvec(''))$q$),
    ('tokenize 1MB',              $q$cardinality(songmatch.tokenize(repeat('é', 1048576)))$q$),
    ('bundle_info unknown',       $q$songmatch.bundle_info('nope')$q$),
    ('bundle_info null',          $q$songmatch.bundle_info(null)$q$),
    ('emotions default bundle',   $q$songmatch.emotions('x')$q$),
    ('emotions null',             $q$songmatch.emotions(null)$q$),
    ('track_content_hash absent', $q$songmatch.track_content_hash(-1)$q$),
    ('playlist_profile absent',   $q$songmatch.playlist_profile(-1)$q$),
    ('playlist_profile null',     $q$songmatch.playlist_profile(null)$q$),
    ('create_index null model',   $q$songmatch.create_embedding_index(null, 3)$q$),
    ('create_index huge dims',    $q$songmatch.create_embedding_index('x', 100000)$q$),
    ('upsert wrong hash',         $q$songmatch.upsert_track_embedding(1, 'document', 'm', '1', 'bad', '[1,2]')$q$),
    ('upsert absent track',       $q$songmatch.upsert_track_embedding(-1, 'document', 'm', '1', 'te_v1_' || repeat('0', 64), '[1,2]')$q$),
    ('upsert bad kind',           $q$songmatch.upsert_track_embedding(1, 'lyrics', 'm', '1', 'te_v1_' || repeat('0', 64), '[1,2]')$q$),
    ('register_bundle null',      $q$songmatch.register_bundle(null)$q$),
    ('register_bundle unknown',   $q$songmatch.register_bundle('nope')$q$)
) v(f, q);
select f, pg_temp.tryset(q) as result from (values
    ('embed_batch null',          $q$select * from songmatch.embed_batch(null)$q$),
    ('embed_batch 10k nulls',     $q$select * from songmatch.embed_batch(array_fill(null::text, array[10000]))$q$),
    ('embed_batch empty strings', $q$select * from songmatch.embed_batch(array_fill(''::text, array[300]))$q$),
    ('embed_batch bad kind',      $q$select * from songmatch.embed_batch(array['x'], kind => 'song')$q$),
    ('emotions_batch empty',      $q$select * from songmatch.emotions_batch('{}')$q$),
    ('rerank no reranker',        $q$select * from songmatch.rerank('q', array['d'])$q$),
    ('rerank null query',         $q$select * from songmatch.rerank(null, array['d'])$q$),
    ('rerank empty docs',         $q$select * from songmatch.rerank('q', '{}', model => 'all-minilm-l6-v2-int8')$q$),
    ('rerank embedding model',    $q$select * from songmatch.rerank('q', array['d'], model => 'all-minilm-l6-v2-int8')$q$),
    ('embed_tracks null',         $q$select * from songmatch.embed_tracks(null)$q$),
    ('embed_tracks absent ids',   $q$select * from songmatch.embed_tracks(array[-1, -2])$q$),
    ('embed_tracks 10k absent',   $q$select * from songmatch.embed_tracks(array(select -generate_series(1, 10000)::bigint))$q$),
    ('match_playlist null',       $q$select * from songmatch.match_playlist(null)$q$),
    ('match_playlist absent',     $q$select * from songmatch.match_playlist(-1)$q$),
    ('match_playlist null top_k', $q$select * from songmatch.match_playlist(1, top_k => null)$q$),
    ('match_playlist 10k absent', $q$select * from songmatch.match_playlist(1, candidate_track_ids => array(select -generate_series(1, 10000)::bigint))$q$),
    ('match_playlist bad config', $q$select * from songmatch.match_playlist(1, config => '"fast"')$q$),
    ('match_playlist zero weights', $q$select * from songmatch.match_playlist(1, config => '{"weights": {"members":0,"centroid":0,"query":0,"audio":0,"genre":0,"emotion":0,"artist":0,"album":0,"year":0,"popularity":0}}')$q$),
    ('recommend null',            $q$select * from songmatch.recommend_for_playlist(null)$q$),
    ('recommend absent',          $q$select * from songmatch.recommend_for_playlist(-1)$q$),
    ('recommend top_k 0',         $q$select * from songmatch.recommend_for_playlist(1, top_k => 0)$q$),
    ('recommend null liked',      $q$select * from songmatch.recommend_for_playlist(1, exclude_liked => null)$q$),
    ('recommend bad discovery',   $q$select * from songmatch.recommend_for_playlist(1, config => '{"discovery": {"ef_search": 5000}}')$q$),
    ('recommend unknown key',     $q$select * from songmatch.recommend_for_playlist(1, config => '{"discovery": {"k": 5}}')$q$),
    ('match_songs null user',     $q$select * from songmatch.match_songs_to_playlists(null)$q$),
    ('match_songs unknown user',  $q$select * from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-00000000dead')$q$),
    ('match_songs top_k 0',       $q$select * from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001', top_k => 0)$q$),
    ('score_tracks null',         $q$select * from songmatch.score_tracks(null, '{}')$q$),
    ('score_tracks absent',       $q$select * from songmatch.score_tracks('{}', array[-5])$q$),
    ('score_tracks empty',        $q$select * from songmatch.score_tracks('{}', '{}')$q$)
) v(f, q);
-- request limits: 54000 with the setting and its value in the message, before any work starts;
-- small limits make the cases cheap (the defaults are in the README)
set songmatch.max_text_length = 10;
set songmatch.max_batch_size = 3;
set songmatch.max_candidates = 4;
set songmatch.max_top_k = 5;
select f, pg_temp.try(q) as result from (values
    ('limit embed text',          $q$songmatch.embed('eleven chars')$q$),
    ('limit embed at the limit',  $q$vector_dims(songmatch.embed('ten chars!'))$q$),
    ('limit embed instruction',   $q$songmatch.embed('x', kind => 'query', instruction => 'a long instruction')$q$),
    ('limit embed_halfvec text',  $q$songmatch.embed_halfvec('eleven chars')$q$),
    ('limit tokenize text',       $q$songmatch.tokenize('eleven chars')$q$),
    ('limit emotions text',       $q$songmatch.emotions('eleven chars')$q$)
) v(f, q);
select f, pg_temp.tryset(q) as result from (values
    ('limit embed_batch size',    $q$select * from songmatch.embed_batch(array['a', 'b', 'c', 'd'])$q$),
    ('limit embed_batch element', $q$select * from songmatch.embed_batch(array['a', null, 'eleven chars'])$q$),
    ('limit emotions_batch size', $q$select * from songmatch.emotions_batch(array['a', 'b', 'c', 'd'])$q$),
    ('limit rerank documents',    $q$select * from songmatch.rerank('q', array['a', 'b', 'c', 'd'], model => 'all-minilm-l6-v2-int8')$q$),
    ('limit rerank query',        $q$select * from songmatch.rerank('eleven chars', array['a'], model => 'all-minilm-l6-v2-int8')$q$),
    ('limit embed_tracks ids',    $q$select * from songmatch.embed_tracks(array[-1, -2, -3, -4])$q$),
    ('limit classify_tracks ids', $q$select * from songmatch.classify_tracks(array[-1, -2, -3, -4])$q$),
    ('limit match top_k',         $q$select * from songmatch.match_playlist(1, top_k => 6)$q$),
    ('limit match candidates',    $q$select * from songmatch.match_playlist(1, candidate_track_ids => array[-1, -2, -3, -4, -5], top_k => 1)$q$),
    ('limit recommend top_k',     $q$select * from songmatch.recommend_for_playlist(1, top_k => 6)$q$),
    ('limit match_songs top_k',   $q$select * from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001', top_k => 6)$q$),
    ('limit match liked songs',   $q$select * from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001', top_k => 1)$q$),
    ('limit match_songs ids',     $q$select * from songmatch.match_songs_to_playlists('00000000-0000-4000-8000-000000000001', track_ids => array[1, 2, 3, 4, 5])$q$),
    ('limit score_tracks',        $q$select * from songmatch.score_tracks('{}', array[1, 2, 3, 4, 5])$q$)
) v(f, q);
reset songmatch.max_text_length;
reset songmatch.max_batch_size;
reset songmatch.max_candidates;
reset songmatch.max_top_k;
-- the Citus entry points on a node without Citus: distribute() refuses (0A000) and changes
-- nothing (the keys are as they were), the pre-request function does nothing; and the
-- user-routed call with NULL arguments
select pg_temp.try($q$songmatch.distribute()$q$) as distribute,
       pg_temp.try($q$songmatch.distribute(shard_count => 0)$q$) as zero_shards,
       pg_temp.try($q$songmatch.citus_pre_request()$q$) as pre_request,
       pg_temp.try($q$songmatch.match_context(null::uuid, 1)$q$) as null_user,
       pg_temp.try($q$songmatch.match_context('00000000-0000-4000-8000-000000000001'::uuid, null)$q$) as null_playlist;
select conname from pg_constraint where conrelid = 'songmatch.playlists'::regclass and contype in ('p', 'u') order by 1;
-- a non-superuser cannot point the extension at files
create role songmatch_badinput_user;
set role songmatch_badinput_user;
select pg_temp.try($q$set_config('songmatch.model_dir', '/tmp', false)$q$) as model_dir,
       pg_temp.try($q$set_config('songmatch.onnxruntime_library', '/tmp/evil.so', false)$q$) as library,
       pg_temp.try($q$set_config('songmatch.intra_op_threads', '64', false)$q$) as threads,
       pg_temp.try($q$set_config('songmatch.max_candidates', '1000000', false)$q$) as limits;
reset role;
drop role songmatch_badinput_user;
-- the backend survived every case, and nothing was written
select (select count(*) from songmatch.track_embeddings) = b.emb as embeddings_unchanged,
       (select count(*) from songmatch.playlist_profiles) = b.prof as profiles_unchanged,
       (select count(*) from songmatch.match_contexts) = b.ctx as contexts_unchanged,
       (select count(*) from songmatch.match_results) = b.res as results_unchanged,
       (select count(*) from songmatch.tracks) = b.tracks as tracks_unchanged,
       (select count(*) from songmatch.model_bundles) = b.bundles as bundles_unchanged
  from before b;
select pg_backend_pid() = pg_backend_pid() as alive;
