-- Phase-0 contracts: canonical JSON, content hashes, id-set hashes, canonical texts
\set VERBOSITY terse
-- key order and number spelling do not matter
select songmatch.content_hash('track_content', '{"name": "Rain on Tin", "artist": "The Paper Boats", "popularity": 41}')
     = songmatch.content_hash('track_content', '{"popularity": 41.0, "artist": "The Paper Boats", "name": "Rain on Tin"}') as reordered_equal;
-- golden value (the same as the core's unit test and an independent sha256)
select songmatch.content_hash('track_content', '{"name": "Rain on Tin", "artist": "The Paper Boats", "popularity": 41}');
select songmatch.canonical_json('{"b": [1, 2.50, {"d": null, "c": true}], "a": "é"}');
-- a change of any field, or of the kind (prefix), changes the hash
select count(distinct h) as distinct_hashes from (values
    (songmatch.content_hash('track_content', '{"a": 1}')),
    (songmatch.content_hash('track_content', '{"a": 2}')),
    (songmatch.content_hash('track_content', '{"a": 1, "b": null}')),
    (songmatch.content_hash('playlist_profile', '{"a": 1}')),
    (songmatch.content_hash('matching_config', '{"a": 1}')),
    (songmatch.content_hash('model_bundle', '{"a": 1}'))) v(h);
select left(songmatch.content_hash(k, '{}'), 7) as prefix
  from unnest(array['track_content', 'playlist_profile', 'matching_config', 'model_bundle']) k;
-- id sets ignore order and duplicates
select songmatch.id_set_hash('candidate_set', array[3, 1, 2]);
select songmatch.id_set_hash('candidate_set', array[1, 2, 3, 3, 1, 2]) = songmatch.id_set_hash('candidate_set', array[3, 1, 2]) as same;
select songmatch.id_set_hash('candidate_set', array[1, 2]) <> songmatch.id_set_hash('playlist_set', array[1, 2]) as kinds_differ;
select songmatch.id_set_hash('playlist_set', '{}');
-- NULL in, NULL out
select songmatch.content_hash(null, '{}') is null as n1, songmatch.id_set_hash('candidate_set', null) is null as n2;
-- errors carry SQLSTATEs
do $$ begin perform songmatch.content_hash('tracks', '{}');
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.id_set_hash('candidate_set', array[1, null]);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.id_set_hash('users', array[1]);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.track_document('{"artist": "x"}', null);
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
do $$ begin perform songmatch.track_document('{"name": "x"}', '{"moods": "calm", "audio": {"energy": "high"}}');
exception when others then raise notice '% %', sqlstate, sqlerrm; end $$;
-- canonical texts
select songmatch.track_document(
    '{"name": "Rain on Tin", "artist": "The Paper Boats", "album": "Gutters", "release_date": "2014-03-02"}',
    '{"summary": "Soft fingerpicked guitar.", "moods": ["melancholic", "calm"], "themes": ["rain"],
      "genres": {"primary": "indie folk", "secondary": ["acoustic"]},
      "audio": {"tempo": 92.4, "energy": 0.22, "valence": 0.3, "acousticness": 0.88, "danceability": 0.41}}',
    '{"source": "demo"}');
select songmatch.playlist_query('{"name": "Rainy Day Acoustic", "description": "Quiet songs"}',
                                '{"moods": ["calm", "wistful"], "genres": {"primary": "folk"}}');
