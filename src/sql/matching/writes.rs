//! The match path's writes: a computed context and its results, a context's stamp, its use
//! refreshed. Each runs with songmatch's rights (`as_owner`): the caller has read, with its own
//! rights, what the write is about.
//!
//! And the texts of the match path's other writes (artifacts, usage counters, profiles), one
//! documented const each, by concern, at the end; their callers run them with songmatch's rights.

use super::reads::{MatchRow, PlaylistInfo};
use crate::core::pipeline::NewContext;
use crate::core::{versions, Error, Result};
use crate::sql::privilege::as_owner;
use crate::sql::spi_err;
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};

/// Run a writing statement and return the first column of its first row, if any.
pub(super) fn write_returning_i64(
    sql: &'static str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> std::result::Result<Option<i64>, pgrx::spi::SpiError> {
    crate::sql::plans::update(sql, args, |mut t| match t.next() {
        Some(r) => r.get::<i64>(1),
        None => Ok(None),
    })
}

/// Store a context of the playlist's owner and its results; its id (of the row already stored
/// under that hash, if one is: its use refreshed).
pub(super) fn store_context(p: &PlaylistInfo, new: &NewContext<'_>, rows: &[MatchRow]) -> Result<i64> {
    let id = new.identity;
    as_owner(|| {
        let ctx = write_returning_i64(
            if p.facts.owner_columns {
                // (excluded's time: Citus evaluates no function in DO UPDATE on a distributed table)
                "insert into songmatch.match_contexts (context_hash, user_id, bundle_hash, algorithm_version, config_hash,
                 playlist_set_hash, candidate_set_hash, inputs, last_used_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, pg_catalog.now())
                 on conflict (user_id, context_hash) do update set last_used_at = excluded.last_used_at
                 returning id"
            } else {
                "insert into songmatch.match_contexts (context_hash, user_id, bundle_hash, algorithm_version, config_hash,
                 playlist_set_hash, candidate_set_hash, inputs)
                 values ($1, $2, $3, $4, $5, $6, $7, $8)
                 on conflict (context_hash) do update set last_used_at = pg_catalog.now()
                 returning id"
            },
            &[
                id.context_hash.as_str().into(),
                p.owner.into(),
                new.bundle_hash.into(),
                versions::MATCHING_ALGO_VERSION.into(),
                id.config_hash.as_str().into(),
                id.playlist_set.as_str().into(),
                id.candidate_set.as_str().into(),
                JsonB(new.inputs.clone()).into(),
            ],
        )
        .map_err(spi_err("cannot store the match context"))?
        .ok_or_else(|| Error::Runtime("no context id returned".into()))?;
        if !rows.is_empty() {
            let ids: Vec<i64> = rows.iter().map(|r| r.track_id).collect();
            let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
            let ranks: Vec<i32> = rows.iter().map(|r| r.rank).collect();
            let comps: Vec<JsonB> = rows.iter().map(|r| JsonB(r.components.clone())).collect();
            Spi::run_with_args(
                if p.facts.owner_columns {
                    "insert into songmatch.match_results (context_id, playlist_id, track_id, score, rank, components, user_id)
                     select $1, $2, t.track_id, t.score, t.rank, t.components, $7
                       from unnest($3::bigint[], $4::float8[], $5::int[], $6::jsonb[]) as t(track_id, score, rank, components)
                     on conflict do nothing"
                } else {
                    "insert into songmatch.match_results (context_id, playlist_id, track_id, score, rank, components)
                     select $1, $2, t.track_id, t.score, t.rank, t.components
                       from unnest($3::bigint[], $4::float8[], $5::int[], $6::jsonb[]) as t(track_id, score, rank, components)
                      where $7::uuid is not null
                     on conflict do nothing"
                },
                &[ctx.into(), p.id.into(), ids.into(), scores.into(), ranks.into(), comps.into(), p.owner.into()],
            )
            .map_err(spi_err("cannot store match results"))?;
        }
        Ok(ctx)
    })
}

/// Stamp a stored context of `owner` with a call's stamp (the fast path's key).
pub(super) fn stamp_context(ctx: i64, stamp: &str, owner: Uuid) -> Result<()> {
    as_owner(|| {
        crate::sql::plans::update(
            "update songmatch.match_contexts set fast_key = $2 where user_id = $3 and id = $1 and fast_key is distinct from $2",
            &[ctx.into(), stamp.into(), owner.into()],
            |_| Ok(()),
        )
        .map_err(spi_err("cannot stamp the match context"))
    })
}

/// Count a use of a stored context of `owner` and refresh its `last_used_at`; its id (None: the
/// row is gone).
pub(super) fn refresh_context_use(id: i64, owner: Uuid) -> Result<Option<i64>> {
    as_owner(|| {
        write_returning_i64(
            "update songmatch.match_contexts set hit_count = hit_count + 1, last_used_at = pg_catalog.now()
              where user_id = $2 and id = $1 returning id",
            &[id.into(), owner.into()],
        )
        .map_err(spi_err("cannot refresh the match cache"))
    })
}

// The statements of the other modules of the match path, by concern.

// artifacts
/// Upsert a track's document embedding stored as halfvec (`songmatch.upsert_track_embedding_half`):
/// `$1` track id, `$2` model, `$3` model version, `$4` the hash it was computed from, `$5` the halfvec.
pub(super) const UPSERT_EMBEDDING_HALF: &str = "select songmatch.upsert_track_embedding_half($1, 'document', $2, $3, $4, $5)";
/// Upsert a track's document embedding (`songmatch.upsert_track_embedding`): `$1` track id,
/// `$2` model, `$3` model version, `$4` the hash it was computed from, `$5` the vector.
pub(super) const UPSERT_EMBEDDING: &str = "select songmatch.upsert_track_embedding($1, 'document', $2, $3, $4, $5)";
/// Upsert a track's emotions in `track_emotions`: `$1` track id, `$2` model, `$3` model version,
/// `$4` the hash they were computed from, `$5` labels, `$6` predicted, `$7` ekman, `$8` sentiment.
pub(super) const UPSERT_EMOTIONS: &str =
    "insert into songmatch.track_emotions as te (track_id, model_name, model_version, content_hash, labels, predicted, ekman, sentiment)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (track_id, model_name, model_version) do update
                set content_hash = excluded.content_hash, labels = excluded.labels, predicted = excluded.predicted,
                    ekman = excluded.ekman, sentiment = excluded.sentiment";

// usage counters
/// Record a call's counter deltas in `stats_deltas`: `$1` their names, `$2` their deltas.
pub(super) const STATS_DELTAS: &str = "insert into songmatch.stats_deltas (name, delta) select * from unnest($1::text[], $2::float8[])";

// playlist profiles
/// Upsert a playlist's profile: `$1` playlist, `$2` profile kind, `$3` bundle hash, `$4` dims,
/// `$5` content hash, `$6` member count, `$7` centroid, `$8` query embedding, `$9` audio centroid,
/// `$10` audio spread, `$11` genre distribution, `$12` details, `$13` owner.
pub(super) const UPSERT_PROFILE: &str =
    "insert into songmatch.playlist_profiles as pp (playlist_id, profile_kind, model_bundle_hash, dims, content_hash,
                 member_count, centroid, query_embedding, audio_centroid, audio_spread, genre_distribution, details, owner_id)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 on conflict (owner_id, playlist_id, profile_kind, model_bundle_hash) do update
                    set dims = excluded.dims, content_hash = excluded.content_hash, member_count = excluded.member_count,
                        centroid = excluded.centroid, query_embedding = excluded.query_embedding,
                        audio_centroid = excluded.audio_centroid, audio_spread = excluded.audio_spread,
                        genre_distribution = excluded.genre_distribution, details = excluded.details";
/// As [`UPSERT_PROFILE`] in a database not yet updated to 0.6.0 (no owner column; `$13` only
/// checked).
pub(super) const UPSERT_PROFILE_NO_OWNER: &str =
    "insert into songmatch.playlist_profiles as pp (playlist_id, profile_kind, model_bundle_hash, dims, content_hash,
                 member_count, centroid, query_embedding, audio_centroid, audio_spread, genre_distribution, details)
                 select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 where $13::uuid is not null
                 on conflict (playlist_id, profile_kind, model_bundle_hash) do update
                    set dims = excluded.dims, content_hash = excluded.content_hash, member_count = excluded.member_count,
                        centroid = excluded.centroid, query_embedding = excluded.query_embedding,
                        audio_centroid = excluded.audio_centroid, audio_spread = excluded.audio_spread,
                        genre_distribution = excluded.genre_distribution, details = excluded.details";
