//! Playlist profiles: persisted per playlist and bundle, recomputed only when their content hash
//! changes; the members read from the feature store when it has them all.

use super::artifacts::ensure_embeddings;
use super::counters::Counters;
use super::reads::{self, load_tracks, playlist_unchanged, PlaylistInfo};
use super::writes;
use crate::core::hash::{content_hash, ContentKind};
use crate::core::models::embed;
use crate::core::models::embed::Role;
use crate::core::scoring::PlaylistSignals;
use crate::core::signals::TrackSignals;
use crate::core::{text, versions, Result};
use crate::sql::bundle::Bundle;
use crate::sql::privilege::as_owner;
use crate::sql::vector::Vector;
use crate::sql::{infer, spi_err};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use std::time::Instant;

pub const PROFILE_KIND: &str = "default";

pub struct Profile {
    pub content_hash: String,
    pub signals: PlaylistSignals,
    pub recomputed: bool,
    /// Recomputed but not stored: another session is storing this playlist's profile now
    /// (src/sql/flight.rs), or the playlist changed since it was read.
    pub deferred: bool,
}

/// A playlist's members as its profile takes them: their `[id, content hash]` pairs, their
/// vectors (of those that have one) and their signals, in member order.
pub(super) struct ProfileMembers {
    pub(super) hashes: Vec<Value>,
    pub(super) vectors: Vec<Vec<f32>>,
    pub(super) signals: Vec<TrackSignals>,
}

/// The profile of a playlist under a bundle: persisted, recomputed only when its content hash
/// (playlist, analysis, members and their content hashes, bundle) changes.
pub fn playlist_profile(p: &PlaylistInfo, bundle: &Bundle, counters: &mut Counters) -> Result<Profile> {
    let ProfileMembers { hashes: member_hashes, vectors: members, signals: tracks } = profile_members(p, bundle, counters)?;
    let hash = content_hash(
        ContentKind::PlaylistProfile,
        &json!({"playlist": p.playlist, "analysis": p.analysis, "members": member_hashes, "bundle": bundle.hash}),
    );
    let mut signals = PlaylistSignals::of_members(members, &tracks, None);

    let stored = read_stored_profile(p, bundle)?;
    if let Some(StoredProfile { content_hash: h, query_embedding: q, .. }) = &stored {
        if *h == hash {
            counters.add("profile_hits", 1.0);
            signals.query = q.as_ref().map(|v| v.0.clone());
            return Ok(Profile { content_hash: hash, signals, recomputed: false, deferred: false });
        }
    }
    // recompute: the playlist's own query text is embedded once per text (its members' changes,
    // a popularity among them, reuse the stored query embedding)
    let started = Instant::now();
    let query_text = text::playlist_query(&p.playlist, &p.analysis)?;
    let query_hash = text::query_hash(&query_text);
    let query = query_embedding(p, bundle, stored, &query_text, &query_hash, counters)?;
    counters.add("profile_recomputes", 1.0);
    let (audio_mean, audio_std) = signals.audio.to_json();
    let dims = query.as_ref().map(|q| q.len()).or(signals.centroid.as_ref().map(|c| c.len())).unwrap_or(0) as i32;
    // (stored by the session that leads the row: src/sql/flight.rs)
    let leads = crate::sql::flight::try_lead_one(&crate::sql::flight::profile_name(p.id, &bundle.hash))?;
    if !leads {
        counters.add("artifact_writes_deferred", 1.0);
    }
    // (stored only when what it was computed from is still current: see ensure_artifacts; a
    // refresher or backfill then keeps the playlist's mark, as for a deferred one)
    let current = !leads || as_owner(|| playlist_unchanged(p))?;
    if !current {
        counters.add("artifact_writes_outdated", 1.0);
    }
    let stores = leads && current;
    as_owner(|| {
        if !stores {
            return Ok(());
        }
        Spi::run_with_args(
            if p.facts.owner_columns {
                writes::UPSERT_PROFILE
            } else {
                // (a database not yet updated to 0.6.0)
                writes::UPSERT_PROFILE_NO_OWNER
            },
            &[
                p.id.into(),
                PROFILE_KIND.into(),
                bundle.hash.as_str().into(),
                dims.max(1).into(),
                hash.as_str().into(),
                (signals.members.len() as i32).into(),
                signals.centroid.clone().map(Vector).into(),
                query.clone().map(Vector).into(),
                JsonB(audio_mean).into(),
                JsonB(audio_std).into(),
                JsonB(json!(signals.genres)).into(),
                JsonB(json!({"members": member_hashes, "profile_version": versions::PLAYLIST_PROFILE_VERSION, "query_hash": query_hash}))
                    .into(),
                p.owner.into(),
            ],
        )
        .map_err(spi_err("cannot store the playlist profile"))
    })?;
    pgrx::debug1!("songmatch: profile of playlist {} recomputed in {:?}", p.id, started.elapsed());
    signals.query = query;
    Ok(Profile { content_hash: hash, signals, recomputed: true, deferred: !stores })
}

/// The members' `[id, content hash]` pairs, vectors and signals, read from the feature store when
/// it is current, of this model, and has every member's current content (its hash in
/// `track_content`) with a vector and signals; None otherwise. The same values as their rows give
/// (the store holds what the rows' triggers derived, of the generation it is current at).
pub(super) fn members_from_store(p: &PlaylistInfo, model: &(String, String)) -> Result<Option<ProfileMembers>> {
    if p.members.is_empty() || p.member_hashes.iter().any(Option::is_none) {
        return Ok(None);
    }
    let Some(m) = crate::sql::store::current(p.facts)?.filter(|m| m.header.of_model(model)) else { return Ok(None) };
    let Some(st) = m.store() else { return Ok(None) };
    let (mut pairs, mut vectors, mut tracks) = (Vec::new(), Vec::new(), Vec::new());
    for (id, hash) in p.members.iter().zip(&p.member_hashes) {
        let Some(e) = st.entry(*id).filter(|e| e.has_embedding && Some(e.content_hash) == hash.as_deref()) else { return Ok(None) };
        let Some(signals) = e.signals.and_then(|b| TrackSignals::decode(b).ok()) else { return Ok(None) };
        pairs.push(json!([id, e.content_hash]));
        vectors.push(st.embedding_at(e.at));
        tracks.push(signals);
    }
    Ok(Some(ProfileMembers { hashes: pairs, vectors, signals: tracks }))
}

/// The members' content hashes, vectors and signals: from the feature store when it has them
/// all, else from their rows (embedding any that has no current vector).
fn profile_members(p: &PlaylistInfo, bundle: &Bundle, counters: &mut Counters) -> Result<ProfileMembers> {
    Ok(match members_from_store(p, &bundle.embedding)? {
        Some(m) => m,
        None => {
            let rows = load_tracks(&p.members)?;
            let embs = ensure_embeddings(&rows, &bundle.embedding, p.facts, counters)?;
            let member_hashes: Vec<Value> = rows.iter().map(|r| json!([r.id, r.content_hash()])).collect();
            let members: Vec<Vec<f32>> = embs.iter().filter_map(|(_, a)| a.value().cloned()).collect();
            ProfileMembers {
                hashes: member_hashes,
                vectors: members,
                signals: rows.iter().map(|r| TrackSignals::of(&r.track, &r.analysis)).collect(),
            }
        }
    })
}

/// A playlist's stored profile, as far as a call reads it: its content hash, its query
/// embedding, the hash of the query text it embeds and the members it was computed with.
struct StoredProfile {
    content_hash: String,
    query_embedding: Option<Vector>,
    query_hash: Option<String>,
    members: Value,
}

/// The playlist's stored profile under the bundle (None: there is none).
fn read_stored_profile(p: &PlaylistInfo, bundle: &Bundle) -> Result<Option<StoredProfile>> {
    Spi::connect(|c| {
        let mut t = c.select(
            if p.facts.owner_columns { reads::STORED_PROFILE_BY_OWNER } else { reads::STORED_PROFILE },
            None,
            &[p.id.into(), PROFILE_KIND.into(), bundle.hash.as_str().into(), p.owner.into()],
        )?;
        Ok::<_, pgrx::spi::SpiError>(match t.next() {
            Some(r) => Some(StoredProfile {
                content_hash: r.get::<String>(1)?.unwrap_or_default(),
                query_embedding: r.get::<Vector>(2)?,
                query_hash: r.get::<String>(3)?,
                members: r.get::<JsonB>(4)?.map(|j| j.0).unwrap_or(Value::Null),
            }),
            None => None,
        })
    })
    .map_err(spi_err("cannot read the playlist profile"))
}

/// The playlist's query embedding: the stored one when it embeds the same query text, else the
/// query text (`query_hash`: its hash) embedded now.
fn query_embedding(
    p: &PlaylistInfo,
    bundle: &Bundle,
    stored: Option<StoredProfile>,
    query_text: &str,
    query_hash: &str,
    counters: &mut Counters,
) -> Result<Option<Vec<f32>>> {
    let reused = stored.and_then(|StoredProfile { content_hash: h, query_embedding: q, query_hash: qh, members: old_members }| {
        let same_text = match qh {
            Some(qh) => qh == query_hash,
            // (stored before its query hash was: the same playlist and analysis as then, i.e. its
            // hash recomputed with the members it was computed with)
            None => {
                h == content_hash(
                    ContentKind::PlaylistProfile,
                    &json!({"playlist": p.playlist, "analysis": p.analysis, "members": old_members, "bundle": bundle.hash}),
                )
            }
        };
        if same_text {
            q.map(|v| v.0)
        } else {
            None
        }
    });
    Ok(match reused {
        Some(q) => Some(q),
        None => {
            let t = embed::format_text(&infer::manifest(&bundle.embedding.0)?, Role::Query, None, query_text);
            infer::take_shared();
            let q = infer::embed(&bundle.embedding.0, &[t])?.pop();
            infer::count(counters, &bundle.embedding.0, 1);
            q
        }
    })
}
