//! Offline scoring for the evaluation and the ranker's training (`score_tracks`,
//! `ranker_features`): a playlist profiled from given members only; nothing is written but track
//! embeddings on a miss.

use super::artifacts::{ensure_embeddings, Artifact};
use super::candidates::candidate_signals;
use super::counters::{Counters, Flush};
use super::rank::{models, Stage2};
use super::reads::{load_playlist, load_tracks, resolve_config, MatchRow, PlaylistInfo, TrackRow};
use super::schema_facts::SchemaFacts;
use crate::core::models::embed;
use crate::core::models::embed::Role;
use crate::core::pipeline::{rank, result_rows, Playlist, Scoring};
use crate::core::ranker as ranker_features;
use crate::core::scoring::{Config, PlaylistSignals};
use crate::core::signals::TrackSignals;
use crate::core::{text, Error, Result};
use crate::sql::bundle::{active_bundle, Bundle};
use crate::sql::{guc, infer};
use pgrx::Uuid;
use serde_json::Value;
use std::collections::HashMap;

/// What an offline call (score_tracks, ranker_features) scores: the playlist's signals built
/// from the given member tracks only, and the candidates' rows and embeddings.
pub(super) struct Offline {
    bundle: Bundle,
    cfg: Config,
    p: PlaylistInfo,
    signals: PlaylistSignals,
    cand_rows: Vec<TrackRow>,
    embs: Vec<(i64, Artifact<Vec<f32>>)>,
}

pub(super) fn no_null_ids(v: &[Option<i64>], what: &str) -> Result<Vec<i64>> {
    let mut out = Vec::with_capacity(v.len());
    for (i, x) in v.iter().enumerate() {
        out.push(x.ok_or_else(|| Error::NullValue(format!("{what} must not contain NULL (element {} is NULL)", i + 1)))?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The profile is built from `member_track_ids` only (e.g. a playlist minus its held-out tracks);
/// the playlist's name, description and analysis (when `playlist_id` is given) supply the query
/// signal. Nothing reads the playlist's stored membership; only track embeddings are stored (on
/// a miss).
pub(super) fn offline(
    member_track_ids: &[Option<i64>],
    candidate_track_ids: &[Option<i64>],
    playlist_id: Option<i64>,
    config: Option<&Value>,
    counters: &mut Counters,
) -> Result<Offline> {
    let facts = SchemaFacts::read()?;
    let lim = guc::limits();
    lim.check_candidates("candidate_track_ids", candidate_track_ids.len())?;
    lim.check_candidates("member_track_ids", member_track_ids.len())?;
    let bundle = active_bundle()?;
    let cfg = resolve_config(config, &bundle)?;
    let members = no_null_ids(member_track_ids, "member_track_ids")?;
    let cands = no_null_ids(candidate_track_ids, "candidate_track_ids")?;
    let p = match playlist_id {
        Some(id) => PlaylistInfo { members: members.clone(), ..load_playlist(id, None, facts)? },
        None => PlaylistInfo {
            id: 0,
            owner: Uuid::from_bytes([0; 16]),
            playlist: Value::Null,
            analysis: Value::Null,
            members: members.clone(),
            member_hashes: Vec::new(),
            facts,
        },
    };
    let member_rows = load_tracks(&members)?;
    let member_embs = ensure_embeddings(&member_rows, &bundle.embedding, facts, counters)?;
    let mvecs: Vec<Vec<f32>> = member_embs.iter().filter_map(|(_, a)| a.value().cloned()).collect();
    let query = if p.playlist.is_null() {
        None
    } else {
        let q = text::playlist_query(&p.playlist, &p.analysis)?;
        counters.add(&format!("inferences:{}", bundle.embedding.0), 1.0);
        let t = embed::format_text(&infer::manifest(&bundle.embedding.0)?, Role::Query, None, &q);
        infer::embed(&bundle.embedding.0, &[t])?.pop()
    };
    let tracks: Vec<TrackSignals> = member_rows.iter().map(|r| TrackSignals::of(&r.track, &r.analysis)).collect();
    let signals = PlaylistSignals::of_members(mvecs, &tracks, query);
    let cand_rows = load_tracks(&cands)?;
    if cand_rows.len() != cands.len() {
        return Err(Error::invalid("candidate_track_ids contains ids that do not exist"));
    }
    let embs = ensure_embeddings(&cand_rows, &bundle.embedding, facts, counters)?;
    Ok(Offline { bundle, cfg, p, signals, cand_rows, embs })
}

/// `score_tracks`'s rows (see [`offline`]): the candidates ranked as a match ranks them, best
/// first, at most `top_k` of them (all: None).
pub(super) fn score(
    member_track_ids: &[Option<i64>],
    candidate_track_ids: &[Option<i64>],
    playlist_id: Option<i64>,
    top_k: Option<i32>,
    config: Option<&Value>,
) -> Result<Vec<MatchRow>> {
    let mut counters = Counters::default();
    let o = offline(member_track_ids, candidate_track_ids, playlist_id, config, &mut counters)?;
    let keep = top_k.map(|k| k.max(0) as usize).unwrap_or(usize::MAX);
    let models = models(&o.bundle);
    let owner = o.p.owner.to_string();
    let playlist =
        Playlist { id: o.p.id, owner: &owner, row: &o.p.playlist, analysis: &o.p.analysis, members: &o.p.members, member_hashes: &[] };
    let scoring = Scoring { models: &models, signals: &o.signals, playlist: &playlist, cfg: &o.cfg };
    let cands = candidate_signals(&o.cand_rows, o.embs, HashMap::new());
    let finals = rank(&mut Stage2 { bundle: &o.bundle, facts: o.p.facts }, &scoring, cands, keep, &mut counters)?;
    counters.flush()?;
    Ok(result_rows(finals, keep, None))
}

/// `ranker_features`'s rows (see [`offline`]): each distinct candidate's feature vector, by id.
pub(super) fn features(
    member_track_ids: &[Option<i64>],
    candidate_track_ids: &[Option<i64>],
    playlist_id: Option<i64>,
) -> Result<Vec<(i64, Vec<f32>)>> {
    let mut counters = Counters::default();
    let o = offline(member_track_ids, candidate_track_ids, playlist_id, None, &mut counters)?;
    counters.flush()?;
    let cands = candidate_signals(&o.cand_rows, o.embs, HashMap::new());
    Ok(cands.iter().map(|c| (c.track_id, ranker_features::features(&o.signals, c))).collect())
}
