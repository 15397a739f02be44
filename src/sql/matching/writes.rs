//! The match path's writes: a computed context and its results, a context's stamp, its use
//! refreshed. Each runs with songmatch's rights (`as_owner`): the caller has read, with its own
//! rights, what the write is about.

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
            if p.owner_columns {
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
                if p.owner_columns {
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
