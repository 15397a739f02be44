//! The SQL functions of matching: each checks and converts its arguments, calls the work in the
//! sibling modules and maps a core error to its SQLSTATE. Nothing else lives here.

use super::artifacts::{ensure_embeddings_for, ensure_emotions, Artifact, Need};
use super::cache::{match_one, MatchCall};
use super::counters::{Counters, Flush};
use super::discovery::recommend_one;
use super::offline::{features, score};
use super::profile::playlist_profile;
use super::reads::{load_playlist, load_tracks, MatchRow, TrackRow};
use super::schema_facts::{refuse_on_cluster, SchemaFacts};
use super::songs::{best_playlists, songs_contexts};
use crate::core::ranker::FEATURES;
use crate::core::signals::TrackSignals;
use crate::core::{text, Error};
use crate::sql::bundle::active_bundle;
use crate::sql::models::with_cache;
use crate::sql::{guc, OrReport};
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};
use serde_json::{json, Value};
use std::collections::HashMap;

/// `songmatch.embed_tracks(track_ids, model => NULL)`: make sure every track has a current
/// document embedding for the model (default: the active bundle's); one row per distinct id:
/// status `hit` (stored and current), `computed`, `failed` (with the error), `missing` (no such
/// track) or `deferred` (another session is computing and storing it now: src/sql/flight.rs).
#[pg_extern(volatile)]
fn embed_tracks(
    track_ids: Option<Vec<Option<i64>>>,
    model: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(track_id, i64), name!(status, String), name!(error, Option<String>))> {
    let ids = artifact_request(track_ids);
    let model = match model {
        Some(m) => {
            let dir = guc::model_dir();
            let v = with_cache(|c| Ok(c.registry(&dir)?.model(m)?.manifest.version()?.to_string())).or_report();
            (m.to_string(), v)
        }
        None => active_bundle().or_report().embedding,
    };
    let rows = load_tracks(&ids).or_report();
    let mut counters = Counters::default();
    let facts = SchemaFacts::read().or_report();
    let res = crate::sql::service::bulk_work(|| ensure_embeddings_for(&rows, &model, Need::Stored, facts, &mut counters)).or_report();
    counters.flush().or_report();
    TableIterator::new(artifact_statuses(&ids, res))
}

/// The track ids of an `embed_tracks` / `classify_tracks` call: required, within
/// songmatch.max_batch_size, from a signed-in caller, distinct and sorted.
fn artifact_request(track_ids: Option<Vec<Option<i64>>>) -> Vec<i64> {
    let track_ids = crate::sql::required(track_ids, "track_ids");
    guc::limits().check_batch("track_ids", track_ids.len()).or_report();
    crate::sql::privilege::require_signed_in("storing artifacts").or_report();
    let mut ids: Vec<i64> = track_ids.into_iter().flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// One row per id: `hit`, `computed`, `failed` (with the error), `deferred` or `missing`.
fn artifact_statuses<T>(ids: &[i64], res: Vec<(i64, Artifact<T>)>) -> Vec<(i64, String, Option<String>)> {
    let found: HashMap<i64, Artifact<T>> = res.into_iter().collect();
    ids.iter()
        .map(|id| match found.get(id) {
            None => (*id, "missing".to_string(), Some(format!("track {id} does not exist"))),
            Some(Artifact::Hit(_)) => (*id, "hit".to_string(), None),
            Some(Artifact::Computed(_)) => (*id, "computed".to_string(), None),
            Some(Artifact::Failed(e)) => (*id, "failed".to_string(), Some(e.to_string())),
            Some(Artifact::Deferred) => (*id, "deferred".to_string(), None),
        })
        .collect()
}

/// `songmatch.classify_tracks(track_ids)`: make sure every track has current emotions for the
/// active bundle's emotion model; one row per distinct id: status `hit`, `computed`, `failed`
/// (with the error) or `missing`. A bundle without an emotion model is 22023.
#[pg_extern(volatile)]
fn classify_tracks(
    track_ids: Option<Vec<Option<i64>>>,
) -> TableIterator<'static, (name!(track_id, i64), name!(status, String), name!(error, Option<String>))> {
    let ids = artifact_request(track_ids);
    let bundle = active_bundle().or_report();
    let rows = load_tracks(&ids).or_report();
    let mut counters = Counters::default();
    let facts = SchemaFacts::read().or_report();
    let res = crate::sql::service::bulk_work(|| ensure_emotions(&rows, &bundle, Need::Stored, facts, &mut counters)).or_report();
    counters.flush().or_report();
    TableIterator::new(artifact_statuses(&ids, res))
}

/// `songmatch.track_content_hash(track_id)`: the `te_v1_` hash of a stored track's content.
#[pg_extern(stable, strict)]
fn track_content_hash(track_id: i64) -> Option<String> {
    load_tracks(&[track_id]).or_report().first().map(TrackRow::content_hash)
}

/// `songmatch.track_document_hash(track, analysis)`: the `td_v1_` hash of a track's document
/// (core/text.rs), from its row as JSON (without id and timestamps) and its analysis; NULL where
/// the analysis cannot be read as a document. The trigger that keeps `track_content` current
/// stores it, and the staleness triggers compare it: artifacts follow the document, not the row.
#[pg_extern(immutable, parallel_safe)]
fn track_document_hash(track: Option<JsonB>, analysis: Option<JsonB>) -> Option<String> {
    let track = track.map(|j| j.0)?;
    let analysis = analysis.map(|j| j.0).unwrap_or(Value::Null);
    text::track_document_hash(&track, &analysis).ok()
}

/// `songmatch.track_signals(track, analysis)`: the compact stage-1 signals of a track (audio,
/// genres, artists, album, year, popularity; core/signals.rs) from its row as JSON (without id
/// and timestamps) and its analysis. The trigger that keeps `track_content` current stores them.
#[pg_extern(immutable, parallel_safe)]
fn track_signals(track: Option<JsonB>, analysis: Option<JsonB>) -> Vec<u8> {
    let track = track.map(|j| j.0).unwrap_or(Value::Null);
    let analysis = analysis.map(|j| j.0).unwrap_or(Value::Null);
    TrackSignals::of(&track, &analysis).encode()
}

/// `songmatch.playlist_profile(playlist_id)`: the playlist's persisted profile under the active
/// bundle (computed if missing or stale), as jsonb; `deferred`: recomputed but not stored, being
/// left to the session that is storing it now, or computed from members that changed meanwhile.
#[pg_extern(volatile, strict, name = "playlist_profile")]
fn playlist_profile_info(playlist_id: i64) -> JsonB {
    let bundle = active_bundle().or_report();
    let p = load_playlist(playlist_id, None, SchemaFacts::read().or_report()).or_report();
    let mut counters = Counters::default();
    let prof = playlist_profile(&p, &bundle, &mut counters).or_report();
    counters.flush().or_report();
    let (audio_mean, audio_std) = prof.signals.audio.to_json();
    JsonB(json!({
        "playlist_id": playlist_id,
        "bundle_hash": bundle.hash,
        "content_hash": prof.content_hash,
        "recomputed": prof.recomputed,
        "deferred": prof.deferred,
        "member_count": p.members.len(),
        "embedded_members": prof.signals.members.len(),
        "audio_centroid": audio_mean,
        "audio_spread": audio_std,
        "genre_distribution": prof.signals.genres,
    }))
}

/// `songmatch.match_context(playlist_id, candidate_track_ids => NULL, top_k => 20, config => NULL)`:
/// the id of the match context (in `songmatch.match_contexts`) that answers this call, computing
/// and storing its results on a miss. `songmatch.match_playlist` returns that context's rows of
/// `songmatch.match_results`: the cache path reads them without converting them.
#[pg_extern(volatile)]
pub fn match_context(
    playlist_id: Option<i64>,
    candidate_track_ids: default!(Option<Vec<Option<i64>>>, "NULL"),
    top_k: default!(Option<i32>, 20),
    config: default!(Option<JsonB>, "NULL"),
) -> i64 {
    match_call(None, playlist_id, candidate_track_ids, top_k, config, false).0
}

/// `songmatch.match_context(user_id, playlist_id, candidate_track_ids => NULL, top_k => 20,
/// config => NULL)`: as [`match_context`], for a playlist of `user_id` (another's playlist does
/// not exist for the call). Every read names the user, so that a distributed deployment routes
/// the call to the node that holds the user (README, "Scaling out").
#[pg_extern(volatile, name = "match_context")]
pub fn match_user_context(
    user_id: Option<Uuid>,
    playlist_id: Option<i64>,
    candidate_track_ids: default!(Option<Vec<Option<i64>>>, "NULL"),
    top_k: default!(Option<i32>, 20),
    config: default!(Option<JsonB>, "NULL"),
) -> i64 {
    let user = crate::sql::required(user_id, "user_id");
    if !crate::sql::privilege::caller_sees_user(user).or_report() {
        let id = crate::sql::required(playlist_id, "playlist_id");
        crate::sql::raise(Error::invalid(format!("playlist {id} does not exist")));
    }
    match_call(Some(user), playlist_id, candidate_track_ids, top_k, config, false).0
}

/// One call of `match_context` / `match_playlist`: the arguments checked, the match, the counters.
fn match_call(
    user: Option<Uuid>,
    playlist_id: Option<i64>,
    candidate_track_ids: Option<Vec<Option<i64>>>,
    top_k: Option<i32>,
    config: Option<JsonB>,
    rows: bool,
) -> (i64, Vec<MatchRow>) {
    let playlist_id = crate::sql::required(playlist_id, "playlist_id");
    let top_k = crate::sql::required(top_k, "top_k");
    let lim = guc::limits();
    lim.check_top_k(top_k.into()).or_report();
    if let Some(c) = &candidate_track_ids {
        lim.check_candidates("candidate_track_ids", c.len()).or_report();
    }
    let facts = SchemaFacts::read().or_report();
    if user.is_none() {
        refuse_on_cluster(facts, "match_playlist(playlist_id, ...)", "match_playlist(user_id, playlist_id, ...)").or_report();
    }
    let mut counters = Counters::default();
    let call = MatchCall { playlist_id, user, given: candidate_track_ids, top_k, config: config.as_ref().map(|j| &j.0), rows, facts };
    let out = match_one(call, &mut counters).or_report();
    counters.flush().or_report();
    out
}

/// `songmatch.recommend_context(playlist_id, top_k => 20, config => NULL, exclude_liked => false)`:
/// the match context answering `songmatch.recommend_for_playlist` (which returns its rows).
#[pg_extern(volatile)]
pub fn recommend_context(
    playlist_id: Option<i64>,
    top_k: default!(Option<i32>, 20),
    config: default!(Option<JsonB>, "NULL"),
    exclude_liked: default!(Option<bool>, false),
) -> i64 {
    let playlist_id = crate::sql::required(playlist_id, "playlist_id");
    let top_k = crate::sql::required(top_k, "top_k");
    let exclude_liked = crate::sql::required(exclude_liked, "exclude_liked");
    guc::limits().check_top_k(top_k.into()).or_report();
    let facts = SchemaFacts::read().or_report();
    refuse_on_cluster(facts, "recommend_for_playlist", "match_playlist(user_id, playlist_id, candidate_track_ids => ...)").or_report();
    let mut counters = Counters::default();
    let ctx = recommend_one(playlist_id, top_k, config.as_ref().map(|j| &j.0), exclude_liked, facts, &mut counters).or_report();
    counters.flush().or_report();
    ctx
}

/// `songmatch.match_playlist(playlist_id, candidate_track_ids => NULL, top_k => 20, config => NULL)`:
/// the best candidate tracks for a playlist, best first, with every signal in `components`.
/// Candidates default to the owner's liked tracks that are not in the playlist. A repeated
/// call with the same inputs is served from the match cache without inference.
///
/// Since 0.3.0 `songmatch.match_playlist` is SQL over [`match_context`] (sql/matching.sql);
/// this symbol stays for the install scripts of earlier releases (sql/releases/).
#[pg_extern(volatile, sql = false)]
fn match_playlist(
    playlist_id: Option<i64>,
    candidate_track_ids: default!(Option<Vec<Option<i64>>>, "NULL"),
    top_k: default!(Option<i32>, 20),
    config: default!(Option<JsonB>, "NULL"),
) -> TableIterator<'static, (name!(track_id, i64), name!(score, f64), name!(rank, i32), name!(components, JsonB))> {
    let (_, rows) = match_call(None, playlist_id, candidate_track_ids, top_k, config, true);
    TableIterator::new(rows.into_iter().map(|r| (r.track_id, r.score, r.rank, JsonB(r.components))))
}

/// `songmatch.match_songs_to_playlists(user_id, track_ids => NULL, top_k => 3)`: for each song
/// (default: the user's liked songs), its best playlists among the user's own, best first.
/// A playlist that already contains a song is not proposed for it.
///
/// Since 0.5.0 `songmatch.match_songs_to_playlists` is SQL over [`match_songs_contexts`]
/// (sql/matching.sql), which returns the stored rows as they are; this symbol stays for the
/// install scripts of earlier releases (sql/releases/).
#[pg_extern(volatile, sql = false)]
fn match_songs_to_playlists(
    user_id: Option<Uuid>,
    track_ids: default!(Option<Vec<Option<i64>>>, "NULL"),
    top_k: default!(Option<i32>, 3),
    config: default!(Option<JsonB>, "NULL"),
) -> TableIterator<'static, (name!(track_id, i64), name!(playlist_id, i64), name!(score, f64), name!(rank, i32), name!(components, JsonB))>
{
    let top_k_n = crate::sql::required(top_k, "top_k");
    let contexts = songs_contexts(user_id, track_ids, top_k, config);
    TableIterator::new(best_playlists(contexts, user_id, top_k_n))
}

/// `songmatch.match_songs_contexts(user_id, track_ids => NULL, top_k => 3, config => NULL)`: for
/// each of the user's playlists (that the caller can read) and the songs not in it (default: the
/// user's liked songs), the match context that ranks those songs for it, found in the match cache
/// or computed and stored. `songmatch.match_songs_to_playlists` returns each song's best
/// playlists from these contexts' stored rows.
#[pg_extern(volatile)]
fn match_songs_contexts(
    user_id: Option<Uuid>,
    track_ids: default!(Option<Vec<Option<i64>>>, "NULL"),
    top_k: default!(Option<i32>, 3),
    config: default!(Option<JsonB>, "NULL"),
) -> TableIterator<'static, (name!(context_id, i64), name!(playlist_id, i64))> {
    TableIterator::new(songs_contexts(user_id, track_ids, top_k, config))
}

/// `songmatch.score_tracks(member_track_ids, candidate_track_ids, playlist_id => NULL,
/// top_k => NULL, config => NULL)`: the offline, read-only form of match_playlist used by the
/// evaluation (see [`offline`](super::offline::offline)): nothing is written to the profile or match tables (track
/// embeddings are still computed and stored on a miss).
#[pg_extern(volatile)]
fn score_tracks(
    member_track_ids: Option<Vec<Option<i64>>>,
    candidate_track_ids: Option<Vec<Option<i64>>>,
    playlist_id: default!(Option<i64>, "NULL"),
    top_k: default!(Option<i32>, "NULL"),
    config: default!(Option<JsonB>, "NULL"),
) -> TableIterator<'static, (name!(track_id, i64), name!(score, f64), name!(rank, i32), name!(components, JsonB))> {
    let member_track_ids = crate::sql::required(member_track_ids, "member_track_ids");
    let candidate_track_ids = crate::sql::required(candidate_track_ids, "candidate_track_ids");
    let rows = score(&member_track_ids, &candidate_track_ids, playlist_id, top_k, config.as_ref().map(|j| &j.0)).or_report();
    TableIterator::new(rows.into_iter().map(|r| (r.track_id, r.score, r.rank, JsonB(r.components))))
}

/// `songmatch.ranker_feature_names()`: the names of the learned ranker's features, in order.
#[pg_extern(immutable, parallel_safe)]
fn ranker_feature_names() -> Vec<String> {
    FEATURES.iter().map(|s| s.to_string()).collect()
}

/// `songmatch.ranker_features(member_track_ids, candidate_track_ids, playlist_id => NULL)`: the
/// learned ranker's feature vector of every candidate against a playlist profiled from the given
/// members only (as score_tracks); what a training script reads, so that training and matching
/// compute the same numbers. One row per distinct candidate, by track id.
#[pg_extern(volatile)]
fn ranker_features(
    member_track_ids: Option<Vec<Option<i64>>>,
    candidate_track_ids: Option<Vec<Option<i64>>>,
    playlist_id: default!(Option<i64>, "NULL"),
) -> TableIterator<'static, (name!(track_id, i64), name!(features, Vec<f32>))> {
    let member_track_ids = crate::sql::required(member_track_ids, "member_track_ids");
    let candidate_track_ids = crate::sql::required(candidate_track_ids, "candidate_track_ids");
    let rows = features(&member_track_ids, &candidate_track_ids, playlist_id).or_report();
    TableIterator::new(rows)
}
