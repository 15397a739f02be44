//! `match_songs_to_playlists`: for each song, the best of a user's playlists, from one match
//! context per playlist (the fast path first; the misses embedded in one batch).

use super::artifacts::ensure_embeddings;
use super::cache::{cache_lookup, match_miss, stamp_basis_of, Lookup, MatchCall};
use super::counters::{Counters, Flush};
use super::reads::{self, load_tracks, read_results, user_playlists};
use super::schema_facts::SchemaFacts;
use crate::sql::bundle::active_bundle;
use crate::sql::{guc, spi_err, OrReport};
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// The contexts of `songmatch.match_songs_contexts`, as (context id, playlist id) in playlist order.
pub(super) fn songs_contexts(
    user_id: Option<Uuid>,
    track_ids: Option<Vec<Option<i64>>>,
    top_k: Option<i32>,
    config: Option<JsonB>,
) -> Vec<(i64, i64)> {
    let user_id = crate::sql::required(user_id, "user_id");
    let top_k = crate::sql::required(top_k, "top_k");
    let lim = guc::limits();
    lim.check_top_k(top_k.into()).or_report();
    if let Some(t) = &track_ids {
        lim.check_candidates("track_ids", t.len()).or_report();
    }
    // (another user's playlists do not exist for the caller: nothing to match)
    if !crate::sql::privilege::caller_sees_user(user_id).or_report() {
        return Vec::new();
    }
    let config = config.as_ref().map(|j| &j.0);
    let facts = SchemaFacts::read().or_report();
    // the user's playlists with their members, in one read (under the caller's row-level security)
    let playlists = playlists_of(user_id, facts);
    let songs = songs_of(track_ids, user_id);
    lim.check_candidates("the user's liked songs", songs.len()).or_report();
    let mut counters = Counters::default();
    // each playlist's candidates: the songs not in it; contexts the fast path finds first
    let mut found: Vec<(i64, i64)> = Vec::new();
    let mut missed: Vec<Missed> = Vec::new();
    // (the playlists are the user's: one basis for every stamp; none on a schema without the
    // counters, or when the bundle or config cannot be resolved: the full path reports that)
    let basis = if playlists.is_empty() { None } else { stamp_basis_of(user_id, config, facts) };
    for (pid, members) in &playlists {
        let ids: Vec<i64> = songs.iter().filter(|s| members.binary_search(s).is_err()).copied().collect();
        if ids.is_empty() {
            continue;
        }
        let n = (ids.len() as i32).clamp(1, 10_000);
        let started = Instant::now();
        let stamp = basis.as_ref().map(|b| (user_id, b.stamp(*pid, Some(&ids), n)));
        let cands: Vec<Option<i64>> = ids.into_iter().map(Some).collect();
        match cache_lookup(*pid, stamp, &mut counters, started).or_report() {
            Lookup::Hit(ctx) => found.push((ctx, *pid)),
            Lookup::Miss(stamp) => missed.push((*pid, cands, n, stamp)),
        }
    }
    if !missed.is_empty() {
        // embed every song and member that lacks a current embedding in one batched pass, so that
        // the per-playlist matches below only read
        embed_missing(&songs, &playlists, &missed, facts, &mut counters);
        for (pid, cands, n, stamp) in missed {
            let call = MatchCall { playlist_id: pid, user: Some(user_id), given: Some(cands), top_k: n, config, rows: false, facts };
            let (ctx, _) = match_miss(call, stamp, &mut counters, Instant::now()).or_report();
            found.push((ctx, pid));
        }
        found.sort_by_key(|(_, pid)| *pid);
    }
    counters.flush().or_report();
    found
}

/// The user's playlists with their members (ascending), in playlist order, in one read (under the
/// caller's row-level security).
fn playlists_of(user_id: Uuid, facts: SchemaFacts) -> Vec<(i64, Vec<i64>)> {
    if facts.owner_columns {
        user_playlists(user_id).or_report()
    } else {
        // (a database not yet updated to 0.6.0)
        crate::sql::plans::select(reads::PLAYLISTS_WITH_MEMBERS, &[user_id.into()], |t| {
            let mut out = Vec::new();
            for r in t {
                out.push((r.get::<i64>(1)?.unwrap_or_default(), r.get::<Vec<i64>>(2)?.unwrap_or_default()));
            }
            Ok(out)
        })
        .map_err(spi_err("cannot read playlists"))
        .or_report()
    }
}

/// The songs to match: the given ones (distinct, ascending), else the user's liked tracks.
fn songs_of(track_ids: Option<Vec<Option<i64>>>, user_id: Uuid) -> Vec<i64> {
    match track_ids {
        Some(t) => {
            let mut v: Vec<i64> = t.into_iter().flatten().collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        None => Spi::get_one_with_args::<Vec<i64>>(reads::LIKED_SONGS, &[user_id.into()])
            .map_err(spi_err("cannot read liked tracks"))
            .or_report()
            .unwrap_or_default(),
    }
}

/// A playlist whose context the fast path did not find: (playlist, its candidates, top_k, the
/// call's stamp).
type Missed = (i64, Vec<Option<i64>>, i32, Option<String>);

/// Every song, and every member of a playlist whose context was missed, that lacks a current
/// embedding (missing or stale), embedded in one batched pass.
fn embed_missing(songs: &[i64], playlists: &[(i64, Vec<i64>)], missed: &[Missed], facts: SchemaFacts, counters: &mut Counters) {
    let mut all: Vec<i64> = songs.to_vec();
    for (pid, members) in playlists {
        if missed.iter().any(|m| m.0 == *pid) {
            all.extend(members);
        }
    }
    all.sort_unstable();
    all.dedup();
    let bundle = active_bundle().or_report();
    // only the tracks whose stored embedding is missing or stale (one indexed query)
    let stale: Vec<i64> = Spi::get_one_with_args::<Vec<i64>>(
        if facts.document_keys { reads::STALE_EMBEDDINGS_BY_DOCUMENT } else { reads::STALE_EMBEDDINGS_BY_CONTENT },
        &[all.into(), bundle.embedding.0.as_str().into(), bundle.embedding.1.as_str().into()],
    )
    .map_err(spi_err("cannot find tracks to embed"))
    .or_report()
    .unwrap_or_default();
    if !stale.is_empty() {
        ensure_embeddings(&load_tracks(&stale).or_report(), &bundle.embedding, facts, counters).or_report();
    }
}

/// `match_songs_to_playlists`' rows from the contexts of [`songs_contexts`]: for each song, its
/// best `top_k` playlists (by score, then playlist id), ranked from 1.
pub(super) fn best_playlists(contexts: Vec<(i64, i64)>, user_id: Option<Uuid>, top_k: i32) -> Vec<(i64, i64, f64, i32, JsonB)> {
    let mut per_song: BTreeMap<i64, Vec<(i64, f64, Value)>> = BTreeMap::new();
    let facts = SchemaFacts::read().or_report();
    for (ctx, pid) in contexts {
        for r in read_results(ctx, pid, crate::sql::required(user_id, "user_id"), facts).or_report() {
            per_song.entry(r.track_id).or_default().push((pid, r.score, r.components));
        }
    }
    let mut out = Vec::new();
    for (song, mut list) in per_song {
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (i, (pid, score, comp)) in list.into_iter().take(top_k as usize).enumerate() {
            out.push((song, pid, score, i as i32 + 1, JsonB(comp)));
        }
    }
    out
}
