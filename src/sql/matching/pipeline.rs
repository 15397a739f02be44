//! One playlist's match over chosen candidates: the context's identity (its hash), a stored
//! context of that hash, else the profile, the screen, the ranking and the stored results.

use super::cache::{find_context, touch_context, Resolved};
use super::candidates::{fill_hashes, read_candidates, screen_candidates, Candidates};
use super::counters::Counters;
use super::profile::{playlist_profile, Profile};
use super::rank::{rank_candidates, Ranked, Scoring};
use super::reads::{read_results, resolve_config, MatchRow, PlaylistInfo};
use super::writes::{store_context, NewContext};
use crate::core::hash::{id_set_hash, match_context_hash, IdSetKind, MatchContextInputs};
use crate::core::profile::round6;
use crate::core::scoring::Config;
use crate::core::{versions, Error, Result};
use crate::sql::bundle::{active_bundle, Bundle};
use crate::sql::guc;
use serde_json::{json, Value};
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

/// A match context's identity: its hash, and the hashes it is stored with (the config's, the
/// playlist set's and the candidate set's).
struct ContextIdentity {
    context_hash: String,
    config_hash: String,
    playlist_set: String,
    candidate_set: String,
}

/// [`match_one`](super::cache::match_one) over candidates already chosen ([`CandidateMatch`]);
/// `started`: when the call began (the timings in the debug lines count from there).
pub(super) fn match_candidates(over: CandidateMatch<'_>, counters: &mut Counters, started: Instant) -> Result<(i64, Vec<MatchRow>)> {
    let CandidateMatch { p, cands, top_k, resolved, want_rows, extra } = over;
    if top_k < 1 {
        return Err(Error::invalid(format!("top_k must be at least 1, got {top_k}")));
    }
    let (bundle, cfg, mut profile) = resolve_all(resolved)?;
    let n_cands = cands.ids.len();
    guc::limits().check_candidates("the candidate set", n_cands)?;
    let identity = context_identity(p, &cands, &bundle, &cfg, top_k, extra.as_ref())?;
    let context_hash = &identity.context_hash;
    let t_hash = started.elapsed();

    if let Some(ctx) = cached_context(p, context_hash, counters)? {
        counters.add("context_hits", 1.0);
        let rows = if want_rows { read_results(ctx, p.id, p.owner)? } else { Vec::new() };
        pgrx::debug1!(
            "songmatch: match_playlist({}) context {context_hash} computed in {t_hash:?}; served from cache in {:?}",
            p.id,
            started.elapsed()
        );
        return Ok((ctx, rows));
    }
    counters.add("context_misses", 1.0);

    // stage 0: artifacts (persisted; only misses run a model)
    let prof = match profile.take() {
        Some(prof) => prof,
        None => playlist_profile(p, &bundle, counters)?,
    };
    pgrx::debug1!("songmatch: profile of playlist {} read in {:?}", p.id, started.elapsed() - t_hash);
    let cands = screen_candidates(cands, &prof.signals, &cfg, &bundle, top_k as usize, counters);
    let cands = read_candidates(cands, &bundle.embedding, counters)?;
    let t_artifacts = started.elapsed();
    let scoring = Scoring { bundle: &bundle, signals: &prof.signals, p, cfg: &cfg };
    let finals = rank_candidates(scoring, cands, top_k as usize, counters)?;
    let t_ranked = started.elapsed();
    let rows = result_rows(finals, top_k, extra.as_ref());

    // store the context and its results
    let inputs = json!({"profile": prof.content_hash, "config": cfg.to_json(), "top_k": top_k, "candidates": n_cands});
    let new = NewContext {
        context_hash,
        bundle_hash: &bundle.hash,
        config_hash: &identity.config_hash,
        playlist_set: &identity.playlist_set,
        candidate_set: &identity.candidate_set,
        inputs,
    };
    let ctx = store_context(p, new, &rows)?;
    pgrx::debug2!("songmatch: match_playlist({}) stored as context {ctx}", p.id);
    pgrx::debug1!(
        "songmatch: match_playlist({}): {} candidates; context {:?}, artifacts {:?}, stage 1 + 2 {:?}, stored {:?}",
        p.id,
        n_cands,
        t_hash,
        t_artifacts - t_hash,
        t_ranked - t_artifacts,
        started.elapsed() - t_ranked
    );
    Ok((ctx, rows))
}

/// The bundle, the config and (when the call has it already) the playlist's profile.
fn resolve_all(resolved: Resolved<'_>) -> Result<(Bundle, Config, Option<Profile>)> {
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

/// The identity of the match context of this playlist, candidates, bundle, config and `top_k`
/// (and `extra`: what found the candidates).
fn context_identity(
    p: &PlaylistInfo,
    cands: &Candidates,
    bundle: &Bundle,
    cfg: &Config,
    top_k: i32,
    extra: Option<&(&str, Value)>,
) -> Result<ContextIdentity> {
    let member_hashes = fill_hashes(&p.members, p.member_hashes.clone())?;
    let config_hash = cfg.hash();
    let ps = id_set_hash(IdSetKind::PlaylistSet, &[Some(p.id)])?;
    let cs = id_set_hash(IdSetKind::CandidateSet, &cands.ids.iter().map(|i| Some(*i)).collect::<Vec<_>>())?;
    let mr: Vec<(i64, &str)> = p.members.iter().copied().zip(member_hashes.iter().map(String::as_str)).collect();
    let cr: Vec<(i64, &str)> = cands.ids.iter().copied().zip(cands.hashes.iter().map(String::as_str)).collect();
    // what found the candidates (discovery) is part of the identity, beside the analysis
    let extra_hash = extra.map(|(k, v)| json!({"analysis": p.analysis, *k: v}));
    let owner = p.owner.to_string();
    let context_hash = match_context_hash(&MatchContextInputs {
        user: &owner,
        bundle: &bundle.hash,
        algorithm_version: versions::MATCHING_ALGO_VERSION,
        config: &config_hash,
        playlist_set: &ps,
        candidate_set: &cs,
        top_k,
        playlist_row: &p.playlist,
        playlist_analysis: extra_hash.as_ref().unwrap_or(&p.analysis),
        members: &mr,
        candidates: &cr,
    });
    Ok(ContextIdentity { context_hash, config_hash, playlist_set: ps, candidate_set: cs })
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

/// The results stored and returned: the best `top_k` of the ranking, ranked from 1, with their
/// score (and `extra`) in their components.
fn result_rows(finals: Ranked, top_k: i32, extra: Option<&(&str, Value)>) -> Vec<MatchRow> {
    finals
        .into_iter()
        .take(top_k as usize)
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
