//! The match cache: a call's stamp and the fast path that answers it from a stored context; the
//! full path on a miss, which stamps the context it finds or computes; a context's use refreshed.

use super::candidates::candidates_of;
use super::counters::Counters;
use super::pipeline::{match_candidates, CandidateMatch};
use super::profile::Profile;
use super::reads::{self, load_playlist, read_results, resolve_config, MatchRow};
use super::schema_facts::SchemaFacts;
use super::writes::{refresh_context_use, stamp_context};
use super::MATCH_SETTINGS;
use crate::core::hash::{match_stamp, MatchStampInputs};
use crate::core::scoring::Config;
use crate::core::{versions, Result};
use crate::sql::bundle::{active_bundle, Bundle};
use crate::sql::privilege::as_owner;
use crate::sql::{guc, spi_err};
use pgrx::Uuid;
use serde_json::Value;
use std::time::Instant;

/// One `match_playlist` call's arguments: the playlist, the caller (None: any owner the caller
/// may read), the given candidates (None: the owner's liked tracks), how many results, the config,
/// and whether the results are wanted back (`rows`) or only the context.
pub struct MatchCall<'a> {
    pub playlist_id: i64,
    pub user: Option<Uuid>,
    pub given: Option<Vec<Option<i64>>>,
    pub top_k: i32,
    pub config: Option<&'a Value>,
    pub rows: bool,
    /// What the schema supports, read at the start of the call.
    pub facts: SchemaFacts,
}

/// Match one playlist: the context is looked up first; on a miss, stage 1 (+ stage 2) runs
/// and the results are stored under the context. Returns the context's id and, when `rows` is
/// set, its results (best first).
pub fn match_one(call: MatchCall<'_>, counters: &mut Counters) -> Result<(i64, Vec<MatchRow>)> {
    let started = Instant::now();
    let MatchCall { playlist_id, user, top_k, config, rows, facts, .. } = call;
    // (anything wrong with the call is left to the full path, which reports it as before; a
    // schema without the generation counters, not yet updated to 0.5.0, has no stamps)
    let stamp = if top_k >= 1 && facts.generation_counter {
        call_stamp(playlist_id, user, call.given.as_deref(), top_k, config, facts).ok().flatten()
    } else {
        None
    };
    let owner = stamp.as_ref().map(|(o, _)| *o);
    match cache_lookup(playlist_id, stamp, counters, started)? {
        Lookup::Hit(ctx) => {
            let rows = match (rows, owner) {
                (true, Some(o)) => read_results(ctx, playlist_id, o, facts)?,
                _ => Vec::new(),
            };
            Ok((ctx, rows))
        }
        Lookup::Miss(stamp) => match_miss(call, stamp, counters, started),
    }
}

/// What the match cache's fast path found for a call: the context that answers it, or none (with
/// the call's stamp, when it has one, for the context the full path finds or computes).
pub(super) enum Lookup {
    Hit(i64),
    Miss(Option<String>),
}

/// The fast path: a call whose stamp (arguments, bundle, config, generation counters) is stored
/// with a context of the playlist's owner is answered by it, without reading or hashing its
/// inputs (None: a call without a stamp, which the full path answers).
pub(super) fn cache_lookup(playlist_id: i64, stamp: Option<(Uuid, String)>, counters: &mut Counters, started: Instant) -> Result<Lookup> {
    let t_stamp = started.elapsed();
    let Some((owner, stamp)) = stamp else { return Ok(Lookup::Miss(None)) };
    // (with the context's number of candidates: a call over more than this session's
    // max_candidates takes the full path, which refuses it, cached or not)
    let found: Option<(i64, bool, i64)> =
        crate::sql::plans::select(reads::CONTEXT_BY_STAMP, &[stamp.as_str().into(), owner.into()], |mut t| match t.next() {
            Some(r) => Ok(r
                .get::<i64>(1)?
                .map(|id| (id, r.get::<bool>(2).ok().flatten().unwrap_or(false), r.get::<i64>(3).ok().flatten().unwrap_or(0)))),
            None => Ok(None),
        })
        .map_err(spi_err("cannot read the match cache"))?;
    let Some((id, stale, n)) = found else { return Ok(Lookup::Miss(Some(stamp))) };
    if guc::limits().check_candidates("the candidate set", usize::try_from(n).unwrap_or(usize::MAX)).is_err() {
        return Ok(Lookup::Miss(Some(stamp)));
    }
    let ctx = touch_context((id, stale), owner)?;
    counters.add("context_hits", 1.0);
    counters.add("context_stamp_hits", 1.0);
    pgrx::debug1!(
        "songmatch: match_playlist({playlist_id}) stamp {stamp} computed in {t_stamp:?}; served from cache in {:?}",
        started.elapsed()
    );
    Ok(Lookup::Hit(ctx))
}

/// The full path of a call the fast path did not answer: the context found by its content hash,
/// or computed and stored; then stamped.
pub(super) fn match_miss(
    call: MatchCall<'_>,
    stamp: Option<String>,
    counters: &mut Counters,
    started: Instant,
) -> Result<(i64, Vec<MatchRow>)> {
    let MatchCall { playlist_id, user, given, top_k, config, rows, facts } = call;
    let t0 = started.elapsed();
    let (p, ctx, out) = crate::sql::plans::with_settings(MATCH_SETTINGS, spi_err("cannot change a setting for the match"), || {
        let p = load_playlist(playlist_id, user, facts)?;
        let cands = candidates_of(&p, given)?;
        pgrx::debug1!("songmatch: read the playlist and {} candidates' content hashes in {:?}", cands.ids.len(), started.elapsed() - t0);
        let over = CandidateMatch { p: &p, cands, top_k, resolved: Resolved::Config(config), want_rows: rows, extra: None };
        let (ctx, out) = match_candidates(over, counters, started)?;
        Ok((p, ctx, out))
    })?;
    // (a context row that another session is updating keeps its stamp: a later call stamps it)
    if let Some(stamp) = stamp.filter(|_| crate::sql::flight::try_lead_one(&context_row(ctx)).unwrap_or(false)) {
        // (the counters were read before the inputs: a change that commits in between leaves a
        // stamp of the old counters, which no later call computes)
        stamp_context(ctx, &stamp, p.owner)?;
    }
    Ok((ctx, out))
}

/// The playlist's owner and the stamp of a `match_playlist` call ([`match_stamp`]); None when the
/// playlist cannot be read by the caller (or is not `user`'s) or a candidate id is NULL (the full
/// path reports those).
pub(super) fn call_stamp(
    playlist_id: i64,
    user: Option<Uuid>,
    given: Option<&[Option<i64>]>,
    top_k: i32,
    config: Option<&Value>,
    facts: SchemaFacts,
) -> Result<Option<(Uuid, String)>> {
    // the owner, read with the caller's rights (row-level security applies as on the full path)
    let (sql, args): (&'static str, Vec<pgrx::datum::DatumWithOid<'_>>) = match user {
        Some(u) => (reads::STAMP_OWNER_OF_USER, vec![playlist_id.into(), u.into()]),
        None => (reads::STAMP_OWNER, vec![playlist_id.into()]),
    };
    let owner: Option<Uuid> = crate::sql::plans::select(sql, &args, |mut t| match t.next() {
        Some(r) => r.get::<Uuid>(1),
        None => Ok(None),
    })
    .map_err(spi_err("cannot read the playlist"))?;
    let Some(owner) = owner else { return Ok(None) };
    let candidates: Option<Vec<i64>> = match given {
        None => None,
        Some(list) => {
            let Some(mut ids) = list.iter().copied().collect::<Option<Vec<i64>>>() else { return Ok(None) };
            ids.sort_unstable();
            ids.dedup();
            Some(ids)
        }
    };
    Ok(StampBasis::read(owner, config, facts)?.map(|b| (owner, b.stamp(playlist_id, candidates.as_deref(), top_k))))
}

/// What the stamps of one owner's calls share: the owner, the active bundle and config, and the
/// generation counters (read once for all of a call's playlists; the schema has the counters).
pub(super) struct StampBasis {
    user: String,
    bundle: String,
    config: String,
    epoch: String,
    catalogue_generation: i64,
    user_generation: i64,
}

impl StampBasis {
    fn read(owner: Uuid, config: Option<&Value>, facts: SchemaFacts) -> Result<Option<StampBasis>> {
        let bundle = active_bundle()?;
        let cfg = resolve_config(config, &bundle)?;
        // (one read on a single node; two on Citus, where the user's counter and the catalogue's
        // live apart, see load_playlist)
        let single = facts.single_node;
        let (user_generation, catalogue_generation, epoch) = as_owner(|| {
            if single {
                return crate::sql::plans::select(reads::GENERATIONS, &[owner.into()], |mut t| match t.next() {
                    Some(r) => Ok((r.get::<i64>(1)?.unwrap_or(0), r.get::<i64>(2)?, r.get::<String>(3)?)),
                    None => Ok((0, None, None)),
                })
                .map_err(spi_err("cannot read the generation counters"));
            }
            let user_generation = crate::sql::plans::select(reads::USER_GENERATION, &[owner.into()], |mut t| {
                Ok(t.next().map(|r| r.get::<i64>(1)).transpose()?.flatten().unwrap_or(0))
            })
            .map_err(spi_err("cannot read the user's generation counter"))?;
            let (catalogue_generation, epoch) = crate::sql::plans::select(reads::CATALOGUE_GENERATION, &[], |mut t| match t.next() {
                Some(r) => Ok((r.get::<i64>(1)?, r.get::<String>(2)?)),
                None => Ok((None, None)),
            })
            .map_err(spi_err("cannot read the catalogue's generation counter"))?;
            Ok((user_generation, catalogue_generation, epoch))
        })?;
        let (Some(catalogue_generation), Some(epoch)) = (catalogue_generation, epoch) else { return Ok(None) };
        Ok(Some(StampBasis {
            user: owner.to_string(),
            bundle: bundle.hash,
            config: cfg.hash(),
            epoch,
            catalogue_generation,
            user_generation,
        }))
    }

    /// The stamp of a call (`candidates` sorted and without duplicates; None: the liked songs).
    pub(super) fn stamp(&self, playlist_id: i64, candidates: Option<&[i64]>, top_k: i32) -> String {
        match_stamp(&MatchStampInputs {
            user: &self.user,
            playlist_id,
            candidates,
            top_k,
            config: &self.config,
            bundle: &self.bundle,
            algorithm_version: versions::MATCHING_ALGO_VERSION,
            epoch: &self.epoch,
            catalogue_generation: self.catalogue_generation,
            user_generation: self.user_generation,
        })
    }
}

/// The caller's context of this hash, if one is stored: its id, and whether its use was last
/// refreshed more than a minute ago.
pub(super) fn find_context(context_hash: &str, owner: Uuid) -> Result<Option<(i64, bool)>> {
    crate::sql::plans::select(reads::CONTEXT_BY_HASH, &[context_hash.into(), owner.into()], |mut t| match t.next() {
        Some(r) => Ok(r.get::<i64>(1)?.map(|id| (id, r.get::<bool>(2).ok().flatten().unwrap_or(false)))),
        None => Ok(None),
    })
    .map_err(spi_err("cannot read the match cache"))
}

/// The name under which a stored context's row is updated (its use, its stamp): one session at a
/// time, the others leave it (src/sql/flight.rs).
pub(super) fn context_row(id: i64) -> String {
    format!("context-row/{id}")
}

/// A context found in the cache: its `last_used_at` and `hit_count` are refreshed at most once a
/// minute (`stale`: more than a minute since), by songmatch's own write, so that a repeated call
/// does not rewrite the row every time (every hit is counted in songmatch.stats as context_hits).
/// A row another session is updating right now is left to it.
pub(super) fn touch_context((id, stale): (i64, bool), owner: Uuid) -> Result<i64> {
    if !stale || !crate::sql::flight::try_lead_one(&context_row(id))? {
        return Ok(id);
    }
    Ok(refresh_context_use(id, owner)?.unwrap_or(id))
}

/// What a call has already resolved: only the config it was given, or (discovery) the bundle,
/// the config and the playlist's profile.
pub(super) enum Resolved<'a> {
    Config(Option<&'a Value>),
    All(Box<(Bundle, Config, Profile)>),
}

/// The stamp basis of `user`'s calls ([`StampBasis`]), when the schema has the counters.
pub(super) fn stamp_basis_of(user: Uuid, config: Option<&Value>, facts: SchemaFacts) -> Option<StampBasis> {
    if !facts.generation_counter {
        return None;
    }
    StampBasis::read(user, config, facts).ok().flatten()
}
