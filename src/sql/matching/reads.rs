//! The rows a match reads: tracks, playlists with their members, the tracks' content hashes and
//! stored signals, the active config, a context's stored results, a user's playlists.

use super::schema_facts::{citus_absent, owner_columns, stored_signals};
use super::GENERIC_PLAN;
use crate::core::hash::{content_hash, ContentKind};
use crate::core::scoring::{Config, FloatSource};
use crate::core::signals::Encoded;
use crate::core::{text, Error, Result};
use crate::sql::bundle::Bundle;
use crate::sql::spi_err;
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct TrackRow {
    pub id: i64,
    pub track: Value,
    pub analysis: Value,
}

impl TrackRow {
    /// `te_v1_` hash of the track's content: its row (without id and timestamps) and analysis.
    pub fn content_hash(&self) -> String {
        content_hash(ContentKind::TrackContent, &json!({"track": self.track, "analysis": self.analysis}))
    }
    pub fn document(&self) -> Result<String> {
        text::track_document(&self.track, &self.analysis, &Value::Null)
    }
    /// `td_v1_` hash of the track's document: what its embedding and emotions are computed from
    /// (empty where the analysis cannot be read as a document: no stored artifact matches it).
    pub fn document_hash(&self) -> String {
        text::track_document_hash(&self.track, &self.analysis).unwrap_or_default()
    }
}

/// The tracks with these ids (missing ids are simply absent), ordered by id.
pub fn load_tracks(ids: &[i64]) -> Result<Vec<TrackRow>> {
    Spi::connect(|c| {
        let rows = c.select(
            "select t.id, to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis
               from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id
              where t.id = any($1) order by t.id",
            None,
            &[ids.to_vec().into()],
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(TrackRow {
                id: r.get::<i64>(1)?.unwrap_or_default(),
                track: r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null),
                analysis: r.get::<JsonB>(3)?.map(|j| j.0).unwrap_or(Value::Null),
            });
        }
        Ok(out)
    })
    .map_err(spi_err("cannot read tracks"))
}

/// A track's stored stage-1 signals: the bytes of `track_content.signals`, or where the feature
/// store holds them (None: none there).
pub(super) type StoredSignals = Option<Encoded>;

/// The database's feature store, mapped (src/sql/store.rs).
pub(super) type FeatureStore = Arc<crate::sql::store::Mapped>;

/// Candidates' content hashes and stored signals, in their order, and the store they came from.
pub(super) type ContentRows = (Vec<Option<String>>, Vec<StoredSignals>, Option<FeatureStore>, Vec<Option<usize>>);

pub struct PlaylistInfo {
    pub id: i64,
    pub owner: Uuid,
    pub playlist: Value,
    pub analysis: Value,
    pub members: Vec<i64>,
    /// The members' content hashes from `track_content` (None: no row there), as `members`.
    pub member_hashes: Vec<Option<String>>,
    /// Whether the per-user tables carry their user (sql/owners.sql, 0.6.0): a database not yet
    /// updated has not, and is written without it.
    pub owner_columns: bool,
}

/// The playlist `id` with its analysis and members. With `user`, only a playlist of that user
/// is found (the call is routed by its user: every read names it).
pub fn load_playlist(id: i64, user: Option<Uuid>) -> Result<PlaylistInfo> {
    let owner_columns = owner_columns()?;
    if !owner_columns {
        // (a database not yet updated to 0.6.0; no call names its user there)
        let row = crate::sql::plans::select(
            "select p.owner_id, to_jsonb(p) - array['id', 'created_at', 'updated_at'], a.analysis,
                    array(select pt.track_id from songmatch.playlist_tracks pt where pt.playlist_id = p.id order by pt.track_id),
                    array(select tc.content_hash from songmatch.playlist_tracks pt
                            left join songmatch.track_content tc on tc.track_id = pt.track_id
                           where pt.playlist_id = p.id order by pt.track_id)
               from songmatch.playlists p left join songmatch.playlist_analyses a on a.playlist_id = p.id
              where p.id = $1",
            &[id.into()],
            |mut t| {
                Ok(match t.next() {
                    None => None,
                    Some(r) => Some((
                        r.get::<Uuid>(1)?,
                        r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null),
                        r.get::<JsonB>(3)?.map(|j| j.0).unwrap_or(Value::Null),
                        r.get::<Vec<i64>>(4)?.unwrap_or_default(),
                        r.get::<Vec<Option<String>>>(5)?.unwrap_or_default(),
                    )),
                })
            },
        )
        .map_err(spi_err("cannot read the playlist"))?;
        let (owner, playlist, analysis, members, member_hashes) =
            row.ok_or_else(|| Error::invalid(format!("playlist {id} does not exist")))?;
        let owner = owner.ok_or_else(|| Error::data(format!("playlist {id} has no owner")))?;
        return Ok(PlaylistInfo { id, owner, playlist, analysis, members, member_hashes, owner_columns });
    }
    // One table per read, each naming the user: on Citus every read of a call routed to its
    // user's node then goes to that node's shard (a read that joins or nests the users' tables,
    // or joins them with the catalogue, is planned across every shard, or refused).
    let (sql, args): (&'static str, Vec<pgrx::datum::DatumWithOid<'_>>) = match user {
        Some(u) => (
            "select p.owner_id, to_jsonb(p) - array['id', 'created_at', 'updated_at'] from songmatch.playlists p
              where p.owner_id = $2 and p.id = $1",
            vec![id.into(), u.into()],
        ),
        None => (
            "select p.owner_id, to_jsonb(p) - array['id', 'created_at', 'updated_at'] from songmatch.playlists p where p.id = $1",
            vec![id.into()],
        ),
    };
    let row = crate::sql::plans::select(sql, &args, |mut t| {
        Ok(match t.next() {
            None => None,
            Some(r) => Some((r.get::<Uuid>(1)?, r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null))),
        })
    })
    .map_err(spi_err("cannot read the playlist"))?;
    let (owner, playlist) = row.ok_or_else(|| Error::invalid(format!("playlist {id} does not exist")))?;
    let owner = owner.ok_or_else(|| Error::data(format!("playlist {id} has no owner")))?;
    let analysis = crate::sql::plans::select(
        "select a.analysis from songmatch.playlist_analyses a where a.owner_id = $2 and a.playlist_id = $1",
        &[id.into(), owner.into()],
        |mut t| Ok(t.next().map(|r| r.get::<JsonB>(1)).transpose()?.flatten().map(|j| j.0).unwrap_or(Value::Null)),
    )
    .map_err(spi_err("cannot read the playlist's analysis"))?;
    let members = crate::sql::plans::select(
        "select coalesce(array_agg(pt.track_id order by pt.track_id), '{}') from songmatch.playlist_tracks pt
          where pt.owner_id = $2 and pt.playlist_id = $1",
        &[id.into(), owner.into()],
        |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
    )
    .map_err(spi_err("cannot read the playlist's members"))?;
    let member_hashes = content_hashes(&members)?;
    Ok(PlaylistInfo { id, owner, playlist, analysis, members, member_hashes, owner_columns })
}

pub use crate::core::pipeline::MatchRow;

/// The content hashes of these tracks from `track_content`, in their order (None: no row there).
pub(super) fn content_hashes(ids: &[i64]) -> Result<Vec<Option<String>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::sql::plans::select(
        "select tc.content_hash from unnest($1::bigint[]) with ordinality m(id, n)
           left join songmatch.track_content tc on tc.track_id = m.id order by m.n",
        &[ids.to_vec().into()],
        |t| {
            let mut out = Vec::with_capacity(t.len());
            for r in t {
                out.push(r.get::<String>(1)?);
            }
            Ok(out)
        },
    )
    .map_err(spi_err("cannot read the tracks' content hashes"))
}

/// From here on, each query of this transaction reads what has committed by then (READ
/// COMMITTED), not the snapshot of the statement that called songmatch. SPI runs a transaction's
/// queries read-only, in that statement's snapshot, until the transaction has an id, which its
/// first write assigns; this assigns it now, as a write would. What a writer checks just before
/// it writes (is what it computed from still current?) must be read this way: its earlier reads
/// may be older than a row another session stored meanwhile.
pub(super) fn read_committed_now() -> Result<()> {
    Spi::connect_mut(|c| c.update("select 1", None, &[]).map(|_| ())).map_err(spi_err("cannot start a read of what has committed"))
}

/// The artifact keys of these tracks as committed now ([`read_committed_now`]): their document
/// hashes, or their content hashes in a schema that keys artifacts by content (tracks without a
/// `track_content` row are absent).
pub(super) fn committed_artifact_keys(ids: &[i64], document_keys: bool) -> Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    read_committed_now()?;
    crate::sql::plans::select(
        if document_keys {
            "select tc.track_id, tc.document_hash from songmatch.track_content tc where tc.track_id = any ($1)"
        } else {
            "select tc.track_id, tc.content_hash from songmatch.track_content tc where tc.track_id = any ($1)"
        },
        &[ids.to_vec().into()],
        |t| {
            let mut out = HashMap::with_capacity(t.len());
            for r in t {
                if let (Some(id), Some(h)) = (r.get::<i64>(1)?, r.get::<String>(2)?) {
                    out.insert(id, h);
                }
            }
            Ok(out)
        },
    )
    .map_err(spi_err("cannot read the tracks' current documents"))
}

/// Whether the playlist's inputs of a profile (its row, analysis, members and their content
/// hashes) as committed now ([`read_committed_now`]) are still those of `p`.
pub(super) fn playlist_unchanged(p: &PlaylistInfo) -> Result<bool> {
    read_committed_now()?;
    let now = match load_playlist(p.id, Some(p.owner)) {
        Ok(now) => now,
        // (deleted meanwhile)
        Err(Error::InvalidParameter(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(now.playlist == p.playlist && now.analysis == p.analysis && now.members == p.members && now.member_hashes == p.member_hashes)
}

/// The content hashes and stored signals of these tracks, in their order (None: no row in
/// `track_content`, or no signals stored), and the feature store when it is current: read from
/// it for the tracks it has, from `track_content` (one read) for the others.
pub(super) fn content_rows(ids: &[i64]) -> Result<ContentRows> {
    let mut hashes = vec![None; ids.len()];
    let mut signals = vec![None; ids.len()];
    let mut positions = Vec::new();
    if ids.is_empty() {
        return Ok((hashes, signals, None, positions));
    }
    let store = crate::sql::store::current(citus_absent()?)?;
    let mut rest: Vec<i64> = Vec::new();
    match store.as_ref().and_then(|m| Some((m, m.store()?))) {
        Some((m, st)) => {
            // (the signals read in place, from the mapping)
            let source: Arc<dyn FloatSource> = m.clone();
            positions = vec![None; ids.len()];
            for (i, c) in st.contents(ids).into_iter().enumerate() {
                match c {
                    Some(c) => {
                        hashes[i] = Some(c.content_hash);
                        signals[i] = c.signals.and_then(|(at, len)| Encoded::shared(&source, at, len));
                        positions[i] = c.embedding;
                    }
                    None => rest.push(ids[i]),
                }
            }
        }
        None => rest = ids.to_vec(),
    }
    if rest.is_empty() {
        return Ok((hashes, signals, store, positions));
    }
    let sql = if stored_signals()? {
        "select tc.track_id, tc.content_hash, tc.signals from songmatch.track_content tc where tc.track_id = any($1)"
    } else {
        "select tc.track_id, tc.content_hash, null::bytea from songmatch.track_content tc where tc.track_id = any($1)"
    };
    // (unordered: placed by id, which is cheaper than ordering them in the query)
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    crate::sql::plans::with_settings(GENERIC_PLAN, spi_err("cannot change a setting for the match"), || {
        crate::sql::plans::select_batches(sql, &[rest.into()], 16384, |t| {
            for r in t {
                if let Some(&i) = r.get::<i64>(1)?.and_then(|id| at.get(&id)) {
                    hashes[i] = r.get::<String>(2)?;
                    signals[i] = r.get::<Vec<u8>>(3)?.map(Encoded::Owned);
                }
            }
            Ok(())
        })
        .map_err(spi_err("cannot read the candidates"))
    })?;
    Ok((hashes, signals, store, positions))
}

/// The configuration of a call: the one passed, else the one made active by
/// `songmatch.activate` for the active bundle, else the built-in default.
pub fn resolve_config(config: Option<&Value>, bundle: &Bundle) -> Result<Config> {
    if config.is_some_and(|c| !c.is_null()) {
        return Config::from_json(config);
    }
    let active: Option<JsonB> = crate::sql::plans::select(
        "select config from songmatch.active_config where bundle_hash = $1",
        &[bundle.hash.as_str().into()],
        |mut t| match t.next() {
            Some(r) => r.get::<JsonB>(1),
            None => Ok(None),
        },
    )
    .map_err(spi_err("cannot read the active config"))?;
    Config::from_json(active.as_ref().map(|j| &j.0))
}

/// The stored results of a context of `owner` for a playlist, best first.
pub(super) fn read_results(ctx: i64, playlist_id: i64, owner: Uuid) -> Result<Vec<MatchRow>> {
    crate::sql::plans::select(
        if owner_columns()? {
            "select track_id, score, rank, components from songmatch.match_results
              where user_id = $3 and context_id = $1 and playlist_id = $2 order by rank"
        } else {
            "select track_id, score, rank, components from songmatch.match_results
              where context_id = $1 and playlist_id = $2 and $3::uuid is not null order by rank"
        },
        &[ctx.into(), playlist_id.into(), owner.into()],
        |t| {
            let mut out = Vec::new();
            for r in t {
                out.push(MatchRow {
                    track_id: r.get::<i64>(1)?.unwrap_or_default(),
                    score: r.get::<f64>(2)?.unwrap_or_default(),
                    rank: r.get::<i32>(3)?.unwrap_or_default(),
                    components: r.get::<JsonB>(4)?.map(|j| j.0).unwrap_or(Value::Null),
                });
            }
            Ok(out)
        },
    )
    .map_err(spi_err("cannot read cached results"))
}

/// `user`'s playlists (that the caller can read) with their members, by id: two reads of one
/// table each, naming the user (see load_playlist).
pub(super) fn user_playlists(user: Uuid) -> Result<Vec<(i64, Vec<i64>)>> {
    let ids: Vec<i64> = crate::sql::plans::select(
        "select coalesce(array_agg(p.id order by p.id), '{}') from songmatch.playlists p where p.owner_id = $1",
        &[user.into()],
        |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
    )
    .map_err(spi_err("cannot read playlists"))?;
    let mut members: BTreeMap<i64, Vec<i64>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    crate::sql::plans::select(
        "select pt.playlist_id, pt.track_id from songmatch.playlist_tracks pt where pt.owner_id = $1 order by 1, 2",
        &[user.into()],
        |t| {
            for r in t {
                let (pid, tid) = (r.get::<i64>(1)?.unwrap_or_default(), r.get::<i64>(2)?.unwrap_or_default());
                // (members of a playlist the caller cannot read are left out with it)
                if let Some(m) = members.get_mut(&pid) {
                    m.push(tid);
                }
            }
            Ok(())
        },
    )
    .map_err(spi_err("cannot read the playlists' members"))?;
    Ok(members.into_iter().collect())
}
