//! One playlist's match, behind a data port: the context's identity (its hash), a stored context
//! of that hash, else the profile, the screen, stage 1, stage 2 and the blend, the result rows
//! and their `components`, and the stored context.
//!
//! The pipeline reads and writes only through [`MatchPort`] (what a match reads and stores) and
//! [`RankPort`] (stage 2's models and the rows they read). The SQL layer implements them with SPI
//! and the feature store (src/sql/matching/pipeline.rs); the tests here implement them in memory
//! and drive the whole pipeline.

mod rank;
#[cfg(test)]
mod tests;

pub use rank::{rank, Ranked, Scoring};

use crate::hash::{id_set_hash, match_context_hash, IdSetKind, MatchContextInputs};
use crate::profile::round6;
use crate::scoring::{stage2_window, CandidateSignals, Config, PlaylistSignals};
use crate::{versions, Error, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Arguments;
use std::time::{Duration, Instant};

/// Counter deltas of one call (`songmatch.stats`): the SQL layer writes them in one statement.
#[derive(Default, Debug, Clone)]
pub struct Counters(BTreeMap<String, f64>);

impl Counters {
    pub fn add(&mut self, name: &str, delta: f64) {
        if delta != 0.0 {
            *self.0.entry(name.to_string()).or_insert(0.0) += delta;
        }
    }

    /// The delta of `name` so far.
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    /// The deltas, by name.
    pub fn into_inner(self) -> BTreeMap<String, f64> {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A result row of a match: the track, its score, its rank (from 1) and its `components`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchRow {
    pub track_id: i64,
    pub score: f64,
    pub rank: i32,
    pub components: Value,
}

/// The models of the active bundle as the pipeline sees them: its name and hash, the learned
/// ranker's and the text reranker's model ids, and whether it has an emotion model.
#[derive(Debug, Clone)]
pub struct Models<'a> {
    pub bundle_name: &'a str,
    pub bundle_hash: &'a str,
    pub ranker: Option<&'a str>,
    pub reranker: Option<&'a str>,
    pub emotion: bool,
}

/// The playlist of a match: its id, owner, row and analysis (as JSON), and its members (ids,
/// ascending) with their content hashes.
#[derive(Debug, Clone, Copy)]
pub struct Playlist<'a> {
    pub id: i64,
    pub owner: &'a str,
    pub row: &'a Value,
    pub analysis: &'a Value,
    pub members: &'a [i64],
    pub member_hashes: &'a [String],
}

/// A playlist's profile: the content hash it was computed from and its stage-1 signals.
#[derive(Debug, Clone)]
pub struct Profile {
    pub content_hash: String,
    pub signals: PlaylistSignals,
}

/// A match's candidates as the port holds them: their ids and content hashes, in one order.
pub trait CandidateKeys {
    fn ids(&self) -> &[i64];
    fn hashes(&self) -> &[String];
}

/// Stage 2's models and what they read: the learned ranker over feature rows, the text reranker
/// over documents, the tracks' documents and emotions.
pub trait RankPort {
    /// The learned ranker `model`'s raw scores of these feature rows, in their order.
    fn ranker(&mut self, model: &str, features: &[Vec<f32>]) -> Result<Vec<f32>>;
    /// The text reranker `model`'s scores of these documents for `query`, in their order.
    fn rerank(&mut self, model: &str, query: &str, documents: &[String]) -> Result<Vec<f64>>;
    /// The current documents of these tracks, in their order ("" for one that has none).
    fn documents(&mut self, ids: &[i64]) -> Result<Vec<String>>;
    /// The Ekman buckets of the emotions of those of these tracks that have them, in the port's
    /// order (computed on a miss, when the port computes).
    fn emotions(&mut self, ids: &[i64], counters: &mut Counters) -> Result<Vec<(i64, BTreeMap<String, f64>)>>;
    /// A debug line (the SQL layer's `debug1`); none by default.
    fn debug(&self, _line: Arguments<'_>) {}
}

/// What a match reads and stores.
pub trait MatchPort: RankPort {
    type Candidates: CandidateKeys;
    /// The caller's stored context of this hash (awaited when another session computes it); None:
    /// this call computes it.
    fn stored_context(&mut self, context_hash: &str, counters: &mut Counters) -> Result<Option<i64>>;
    /// A stored context's results, best first.
    fn stored_results(&mut self, context: i64) -> Result<Vec<MatchRow>>;
    /// The playlist's profile (persisted, recomputed on a miss).
    fn profile(&mut self, counters: &mut Counters) -> Result<Profile>;
    /// The candidates narrowed to those that may rank among the best `window` of stage 1 for
    /// these signals (exactly: the ranking is the same as over them all); as they are when the
    /// port cannot screen them.
    fn screen(
        &mut self,
        cands: Self::Candidates,
        signals: &PlaylistSignals,
        cfg: &Config,
        window: usize,
        counters: &mut Counters,
    ) -> Self::Candidates;
    /// Stage 1's view of the candidates: their signals and embeddings (computed on a miss). A
    /// candidate whose track is gone is left out.
    fn read(&mut self, cands: Self::Candidates, counters: &mut Counters) -> Result<Vec<CandidateSignals>>;
    /// Store a computed context and its results; its id.
    fn store(&mut self, context: &NewContext<'_>, rows: &[MatchRow]) -> Result<i64>;
}

/// A computed match context: its identity and its `inputs` (the profile, the config, top_k, the
/// number of candidates).
pub struct NewContext<'a> {
    pub identity: &'a ContextIdentity,
    pub bundle_hash: &'a str,
    pub inputs: Value,
}

/// A match context's identity: its hash, and the hashes it is stored with (the config's, the
/// playlist set's and the candidate set's).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextIdentity {
    pub context_hash: String,
    pub config_hash: String,
    pub playlist_set: String,
    pub candidate_set: String,
}

impl ContextIdentity {
    /// The identity of the match context of this playlist, candidates (ids and content hashes),
    /// bundle, config and `top_k`, and `extra` (what found the candidates: part of the identity,
    /// beside the playlist's analysis).
    pub fn of(
        p: &Playlist<'_>,
        cands: &dyn CandidateKeys,
        bundle_hash: &str,
        cfg: &Config,
        top_k: i32,
        extra: Option<&(&str, Value)>,
    ) -> Result<Self> {
        let config_hash = cfg.hash();
        let playlist_set = id_set_hash(IdSetKind::PlaylistSet, &[Some(p.id)])?;
        let candidate_set = id_set_hash(IdSetKind::CandidateSet, &cands.ids().iter().map(|i| Some(*i)).collect::<Vec<_>>())?;
        let mr: Vec<(i64, &str)> = p.members.iter().zip(p.member_hashes).map(|(id, h)| (*id, h.as_str())).collect();
        let cr: Vec<(i64, &str)> = cands.ids().iter().zip(cands.hashes()).map(|(id, h)| (*id, h.as_str())).collect();
        let extra_hash = extra.map(|(k, v)| json!({"analysis": p.analysis, *k: v}));
        let context_hash = match_context_hash(&MatchContextInputs {
            user: p.owner,
            bundle: bundle_hash,
            algorithm_version: versions::MATCHING_ALGO_VERSION,
            config: &config_hash,
            playlist_set: &playlist_set,
            candidate_set: &candidate_set,
            top_k,
            playlist_row: p.row,
            playlist_analysis: extra_hash.as_ref().unwrap_or(p.analysis),
            members: &mr,
            candidates: &cr,
        });
        Ok(ContextIdentity { context_hash, config_hash, playlist_set, candidate_set })
    }
}

/// One playlist's match over candidates already chosen: how many results (`top_k`), whether its
/// rows are wanted back, and `extra`, which goes into the identity and every result's components
/// (how the candidates were found).
pub struct MatchRequest<'a, C> {
    pub playlist: Playlist<'a>,
    pub models: Models<'a>,
    pub cfg: &'a Config,
    pub cands: C,
    pub top_k: i32,
    pub want_rows: bool,
    pub extra: Option<(&'a str, Value)>,
}

/// Where a match's time went, from its start: the identity, the artifacts (profile, screen,
/// candidates read), the ranking, the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub identity: Duration,
    pub artifacts: Duration,
    pub ranked: Duration,
    pub total: Duration,
}

/// A match's outcome: its context, its rows (when wanted; a computed context's always), whether
/// it was stored already, the number of candidates, and its timings.
#[derive(Debug)]
pub struct Matched {
    pub context: i64,
    pub context_hash: String,
    pub rows: Vec<MatchRow>,
    pub hit: bool,
    pub candidates: usize,
    pub timings: Timings,
}

/// A match's `top_k`: at least 1 (22023 otherwise).
pub fn check_top_k(top_k: i32) -> Result<()> {
    if top_k < 1 {
        return Err(Error::invalid(format!("top_k must be at least 1, got {top_k}")));
    }
    Ok(())
}

/// The match of `req` through `port`: its context found by its hash, else computed and stored.
pub fn match_candidates<P: MatchPort>(port: &mut P, req: MatchRequest<'_, P::Candidates>, counters: &mut Counters) -> Result<Matched> {
    let started = Instant::now();
    let MatchRequest { playlist, models, cfg, cands, top_k, want_rows, extra } = req;
    check_top_k(top_k)?;
    let n_cands = cands.ids().len();
    let identity = ContextIdentity::of(&playlist, &cands, models.bundle_hash, cfg, top_k, extra.as_ref())?;
    let mut timings = Timings { identity: started.elapsed(), ..Timings::default() };

    if let Some(ctx) = port.stored_context(&identity.context_hash, counters)? {
        counters.add("context_hits", 1.0);
        let rows = if want_rows { port.stored_results(ctx)? } else { Vec::new() };
        timings.total = started.elapsed();
        return Ok(Matched { context: ctx, context_hash: identity.context_hash, rows, hit: true, candidates: n_cands, timings });
    }
    counters.add("context_misses", 1.0);

    // stage 0: artifacts (persisted; only misses run a model)
    let prof = port.profile(counters)?;
    let window = stage2_window(top_k as usize, cfg, models.ranker.is_some(), models.reranker.is_some());
    let cands = port.screen(cands, &prof.signals, cfg, window, counters);
    let cands = port.read(cands, counters)?;
    timings.artifacts = started.elapsed();
    let scoring = Scoring { models: &models, signals: &prof.signals, playlist: &playlist, cfg };
    let finals = rank(port, &scoring, cands, top_k as usize, counters)?;
    timings.ranked = started.elapsed();
    let rows = result_rows(finals, top_k as usize, extra.as_ref());

    let inputs = json!({"profile": prof.content_hash, "config": cfg.to_json(), "top_k": top_k, "candidates": n_cands});
    let ctx = port.store(&NewContext { identity: &identity, bundle_hash: models.bundle_hash, inputs }, &rows)?;
    timings.total = started.elapsed();
    Ok(Matched { context: ctx, context_hash: identity.context_hash, rows, hit: false, candidates: n_cands, timings })
}

/// The results stored and returned: the best `top_k` of the ranking, ranked from 1, with their
/// score (and `extra`) in their components.
pub fn result_rows(finals: Ranked, top_k: usize, extra: Option<&(&str, Value)>) -> Vec<MatchRow> {
    finals
        .into_iter()
        .take(top_k)
        .enumerate()
        .map(|(i, (id, score, mut comp))| {
            comp.insert("score".into(), json!(round6(score)));
            if let Some((k, v)) = extra {
                comp.insert(k.to_string(), v.clone());
            }
            MatchRow { track_id: id, score: round6(score), rank: i as i32 + 1, components: Value::Object(comp) }
        })
        .collect()
}
