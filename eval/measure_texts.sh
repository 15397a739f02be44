#!/usr/bin/env bash
# Which track text embeds playlists best? On the evaluation database (make eval), for every
# playlist of the seed-42 dataset's test half, its held-out tracks are ranked among its negatives
# by the mean of the top-5 cosines to its profile tracks, with the embeddings of
#   stored   the track documents songmatch stores (songmatch.track_document: title, artist, album,
#            year and the analysis, here the audio features in words)
#   meta     "title by artist, from the album X (year)" (metadata only)
# and NDCG@10 / Recall@10 / MRR are computed with songmatch.eval_metrics. Prints one JSON line.
#
#   bash eval/measure_texts.sh [--db songmatch_eval]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB=songmatch_eval
[[ "${1:-}" == "--db" ]] && DB="$2"
source "${ROOT}/scripts/pg-env.sh"
DSN="$("${ROOT}/scripts/db.sh" dsn | sed -E 's/(^| )dbname=[^ ]*//') dbname=${DB}"
psql_db() { "$("${PG_CONFIG}" --bindir)/psql" "${DSN}" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

t0=$(date +%s)
psql_db <<'SQL'
set songmatch.max_batch_size = 100000;
set songmatch.max_text_length = 100000;
create temp table ds as
select dataset_hash from songmatch.eval_datasets where params @> '{"seed": 42, "holdout": 0.2, "negatives": 100, "min_tracks": 10}';
create temp table items as
select i.playlist_id, i.track_id, i.role from songmatch.eval_items i join songmatch.eval_playlists p using (dataset_hash, playlist_id)
 where i.dataset_hash = (select dataset_hash from ds) and p.half = 'test';
create temp table ids as select distinct track_id as id from items order by 1;
create temp table texts as
select t.id,
       t.name || ' by ' || t.artist || coalesce(', from the album ' || t.album, '') || coalesce(' (' || left(t.release_date, 4) || ')', '') as meta
  from songmatch.tracks t join ids on ids.id = t.id order by t.id;
create temp table emb (id bigint primary key, stored vector, meta vector);
insert into emb (id, stored)
select te.track_id, te.embedding from songmatch.track_embeddings te join ids on ids.id = te.track_id
 where te.embedding_kind = 'document'
   and (te.model_name, te.model_version) = (select embedding_model, embedding_model_version from songmatch.model_bundles where is_active);
with e as (select ord, embedding from songmatch.embed_batch(array(select meta from texts order by id)))
update emb set meta = e.embedding
  from (select row_number() over (order by id) as ord, id from texts) x join e using (ord)
 where emb.id = x.id;
create temp table scored as
select c.playlist_id, c.track_id, c.role, v.variant,
       (select avg(s) from (select 1 - (case v.variant when 'stored' then ce.stored <=> me.stored else ce.meta <=> me.meta end) as s
                              from items m join emb me on me.id = m.track_id
                             where m.playlist_id = c.playlist_id and m.role = 'profile'
                             order by s desc limit 5) top) as score
  from items c join emb ce on ce.id = c.track_id, (values ('stored'), ('meta')) v(variant)
 where c.role <> 'profile';
select json_object_agg(variant, m)::text from (
  select variant, json_build_object(
           'ndcg', round(avg((x ->> 'ndcg')::numeric), 4), 'recall', round(avg((x ->> 'recall')::numeric), 4),
           'mrr', round(avg((x ->> 'mrr')::numeric), 4), 'playlists', count(*)) as m
    from (select variant, songmatch.eval_metrics(array_agg(track_id order by score desc, track_id),
                                                array_agg(track_id) filter (where role = 'heldout'), 10)::json as x
            from scored group by variant, playlist_id) per
   group by variant) s;
SQL
echo "{\"seconds\": $(( $(date +%s) - t0 ))}"
