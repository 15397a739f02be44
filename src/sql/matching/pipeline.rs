//! The match path's side of the data port (crate::core::pipeline::MatchPort): one playlist's
//! match over chosen candidates, its reads and writes through SPI and the feature store. The
//! pipeline itself (the context identity, the cache or the ranking, the result rows) is the
//! core's.

use super::cache::{find_context, touch_context, Resolved};
use super::candidates::{fill_hashes, read_candidates, screen_candidates, Candidates};
use super::counters::Counters;
use super::profile::playlist_profile;
use super::rank::{models, Stage2};
use super::reads::{read_results, resolve_config, MatchRow, PlaylistInfo};
use super::writes::store_context;
use crate::core::pipeline::{self, CandidateKeys, MatchPort, MatchRequest, NewContext, Playlist, Profile, RankPort};
use crate::core::scoring::{CandidateSignals, Config, PlaylistSignals};
use crate::core::Result;
use crate::sql::bundle::{active_bundle, Bundle};
use crate::sql::guc;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Arguments;
use std::time::Instant;

/// One playlist's match over candidates already chosen (by id, with their content hashes): how
/// many results, what the call has already resolved, whether its results are wanted back
/// (`want_rows`), and `extra`, which goes into every result's components (how the candidates
/// were found).
pub(super) struct CandidateMatch<'a> {
    pub(super) p: &'a PlaylistInfo,
    pub(super) cands: Candidates,
    pub(super) top_k: i32,
    pub(super) resolved: Resolved<'a>,
    pub(super) want_rows: bool,
    pub(super) extra: Option<(&'a str, Value)>,
}

impl CandidateKeys for Candidates {
    fn ids(&self) -> &[i64] {
        &self.ids
    }

    fn hashes(&self) -> &[String] {
        &self.hashes
    }
}

/// A match's reads and writes: the playlist, the bundle, and the profile when the call has it.
struct SqlMatch<'a> {
    p: &'a PlaylistInfo,
    stage2: Stage2<'a>,
    profile: Option<super::profile::Profile>,
}

impl RankPort for SqlMatch<'_> {
    fn ranker(&mut self, model: &str, features: &[Vec<f32>]) -> Result<Vec<f32>> {
        self.stage2.ranker(model, features)
    }

    fn rerank(&mut self, model: &str, query: &str, documents: &[String]) -> Result<Vec<f64>> {
        self.stage2.rerank(model, query, documents)
    }

    fn documents(&mut self, ids: &[i64]) -> Result<Vec<String>> {
        self.stage2.documents(ids)
    }

    fn emotions(&mut self, ids: &[i64], counters: &mut Counters) -> Result<Vec<(i64, BTreeMap<String, f64>)>> {
        self.stage2.emotions(ids, counters)
    }

    fn debug(&self, line: Arguments<'_>) {
        self.stage2.debug(line);
    }
}

impl MatchPort for SqlMatch<'_> {
    type Candidates = Candidates;

    fn stored_context(&mut self, context_hash: &str, counters: &mut Counters) -> Result<Option<i64>> {
        cached_context(self.p, context_hash, counters)
    }

    fn stored_results(&mut self, context: i64) -> Result<Vec<MatchRow>> {
        read_results(context, self.p.id, self.p.owner, self.p.facts)
    }

    fn profile(&mut self, counters: &mut Counters) -> Result<Profile> {
        let t0 = Instant::now();
        let prof = match self.profile.take() {
            Some(prof) => prof,
            None => playlist_profile(self.p, self.stage2.bundle, counters)?,
        };
        pgrx::debug1!("songmatch: profile of playlist {} read in {:?}", self.p.id, t0.elapsed());
        Ok(Profile { content_hash: prof.content_hash, signals: prof.signals })
    }

    fn screen(&mut self, cands: Candidates, signals: &PlaylistSignals, cfg: &Config, window: usize, counters: &mut Counters) -> Candidates {
        screen_candidates(cands, signals, cfg, &self.stage2.bundle.embedding, window, counters)
    }

    fn read(&mut self, cands: Candidates, counters: &mut Counters) -> Result<Vec<CandidateSignals>> {
        read_candidates(cands, &self.stage2.bundle.embedding, self.p.facts, counters)
    }

    fn store(&mut self, context: &NewContext<'_>, rows: &[MatchRow]) -> Result<i64> {
        let ctx = store_context(self.p, context, rows)?;
        pgrx::debug2!("songmatch: match_playlist({}) stored as context {ctx}", self.p.id);
        Ok(ctx)
    }
}

/// [`match_one`](super::cache::match_one) over candidates already chosen ([`CandidateMatch`]),
/// through the core's pipeline; `started`: when the call began (the timings in the debug lines
/// count from there).
pub(super) fn match_candidates(over: CandidateMatch<'_>, counters: &mut Counters, started: Instant) -> Result<(i64, Vec<MatchRow>)> {
    let CandidateMatch { p, cands, top_k, resolved, want_rows, extra } = over;
    // (before the bundle and config are read: a bad top_k is reported first, as the core does)
    pipeline::check_top_k(top_k)?;
    let (bundle, cfg, profile) = resolve_all(resolved)?;
    guc::limits().check_candidates("the candidate set", cands.ids.len())?;
    let member_hashes = fill_hashes(&p.members, p.member_hashes.clone())?;
    let owner = p.owner.to_string();
    let playlist =
        Playlist { id: p.id, owner: &owner, row: &p.playlist, analysis: &p.analysis, members: &p.members, member_hashes: &member_hashes };
    let models = models(&bundle);
    let req = MatchRequest { playlist, models, cfg: &cfg, cands, top_k, want_rows, extra };
    let mut port = SqlMatch { p, stage2: Stage2 { bundle: &bundle, facts: p.facts }, profile };
    let t0 = started.elapsed();
    let m = pipeline::match_candidates(&mut port, req, counters)?;
    let t = m.timings;
    if m.hit {
        pgrx::debug1!(
            "songmatch: match_playlist({}) context {} computed in {:?}; served from cache in {:?}",
            p.id,
            m.context_hash,
            t0 + t.identity,
            started.elapsed()
        );
    } else {
        pgrx::debug1!(
            "songmatch: match_playlist({}): {} candidates; context {:?}, artifacts {:?}, stage 1 + 2 {:?}, stored {:?}",
            p.id,
            m.candidates,
            t0 + t.identity,
            t.artifacts - t.identity,
            t.ranked - t.artifacts,
            t.total - t.ranked
        );
    }
    Ok((m.context, m.rows))
}

/// The bundle, the config and (when the call has it already) the playlist's profile.
fn resolve_all(resolved: Resolved<'_>) -> Result<(Bundle, Config, Option<super::profile::Profile>)> {
    Ok(match resolved {
        Resolved::Config(config) => {
            let bundle = active_bundle()?;
            let cfg = resolve_config(config, &bundle)?;
            (bundle, cfg, None)
        }
        Resolved::All(all) => {
            let (bundle, cfg, profile) = *all;
            (bundle, cfg, Some(profile))
        }
    })
}

/// The caller's own stored context of this hash (the hash includes the playlist's owner, whose
/// playlist the caller could read above), awaited when another session is computing it: a read,
/// and a refresh of its use at most once a minute (touch_context). None: this call computes it.
fn cached_context(p: &PlaylistInfo, context_hash: &str, counters: &mut Counters) -> Result<Option<i64>> {
    let owner = p.owner.to_string();
    let mut found = find_context(context_hash, p.owner)?;
    if found.is_none() {
        // single flight (src/sql/flight.rs): this call computes the context unless another session
        // is computing it now; then its commit is awaited and the call is a hit
        let name = crate::sql::flight::context_name(&owner, context_hash);
        if !crate::sql::flight::try_lead_one(&name)? {
            if let crate::sql::flight::Awaited::Found(f) =
                crate::sql::flight::await_context(&name, counters, || find_context(context_hash, p.owner))?
            {
                found = Some(f);
            }
        }
    }
    Ok(match found {
        Some(f) => Some(touch_context(f, p.owner)?),
        None => None,
    })
}
