//! DB-first artifacts, playlist profiles, match_playlist and the match cache.
//!
//! Every artifact is read from its table first, keyed by track/playlist id, model id and version
//! and the content hash of what it was computed from; only a miss runs a model, and the result
//! is upserted. Counters go to `songmatch.stats`.

use super::guc;
use super::infer;
use super::models::with_cache;
use super::privilege::as_owner;
use super::vector::Vector;
use super::OrReport;
use crate::core::catalogue;
use crate::core::hash::{
    content_hash, id_set_hash, match_context_hash, match_stamp, ContentKind, IdSetKind, MatchContextInputs, MatchStampInputs,
};
use crate::core::models::embed::{self, Role};
use crate::core::models::manifest::Storage;
use crate::core::profile::{self, round6};
use crate::core::ranker::{self as ranker_features, FEATURES};
use crate::core::scoring::{self, CandidateSignals, Config, Embedding, FloatSource, PlaylistNorms, PlaylistSignals};
use crate::core::screen::Over;
use crate::core::signals::{Encoded, SignalsView, TrackSignals};
use crate::core::{text, versions, Error, Result};
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

fn spi_err(what: &'static str) -> impl Fn(pgrx::spi::SpiError) -> Error {
    move |e| Error::Runtime(format!("{what}: {e}"))
}

/// Run a writing statement and return the first column of its first row, if any.
fn write_returning_i64(sql: &'static str, args: &[pgrx::datum::DatumWithOid<'_>]) -> std::result::Result<Option<i64>, pgrx::spi::SpiError> {
    super::plans::update(sql, args, |mut t| match t.next() {
        Some(r) => r.get::<i64>(1),
        None => Ok(None),
    })
}

// ------------------------------------------------------------------------------------------------
// counters
// ------------------------------------------------------------------------------------------------

/// Counter deltas of one call, written to songmatch.stats_deltas in one statement.
#[derive(Default)]
pub struct Counters(BTreeMap<String, f64>);

impl Counters {
    pub fn add(&mut self, name: &str, delta: f64) {
        if delta != 0.0 {
            *self.0.entry(name.to_string()).or_insert(0.0) += delta;
        }
    }

    pub fn flush(self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self.0.keys().cloned().collect();
        let deltas: Vec<f64> = self.0.values().copied().collect();
        as_owner(|| {
            super::plans::update(
                "insert into songmatch.stats_deltas (name, delta) select * from unnest($1::text[], $2::float8[])",
                &[names.into(), deltas.into()],
                |_| Ok(()),
            )
            .map_err(spi_err("cannot record counters"))
        })
    }
}

// ------------------------------------------------------------------------------------------------
// bundle and tracks
// ------------------------------------------------------------------------------------------------

pub use super::bundle::{active_bundle, Bundle};

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

// ------------------------------------------------------------------------------------------------
// embeddings, DB first
// ------------------------------------------------------------------------------------------------

#[derive(Debug)]
pub enum Artifact<T> {
    Hit(T),
    Computed(T),
    Failed(Error),
    /// Another session is computing and storing it (src/sql/flight.rs): not computed here.
    Deferred,
}

/// What a caller of the DB-first loop needs of the artifacts: their values (a match: computed
/// for the call where another session is storing them), or only that they are stored (a
/// backfill or the refresher: an artifact another session is storing is left to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Values,
    Stored,
}

impl<T> Artifact<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Artifact::Hit(v) | Artifact::Computed(v) => Some(v),
            Artifact::Failed(_) | Artifact::Deferred => None,
        }
    }
}

/// How one kind of track artifact is read, computed and stored (see [`ensure_artifacts`]).
struct ArtifactKind<'a> {
    /// `embedding`, `emotion`: the counters' and the locks' name.
    kind: &'a str,
    model: &'a (String, String),
    need: Need,
}

/// The DB-first loop every track artifact goes through: a stored value whose hash equals the
/// track's current document hash is a hit; the others ("misses", in `rows` order) are computed
/// by `compute` in one go (one result per miss: a failure stays that item's), and each computed
/// value is stored by `store` with songmatch's rights, by the session that leads its row
/// (src/sql/flight.rs): a miss another session leads is computed only when the caller needs its
/// value, and never stored here. Counts `<kind>_hits` / `<kind>_misses`, and
/// `artifact_writes_deferred` for the rows left to their leader.
fn ensure_artifacts<T>(
    what: ArtifactKind<'_>,
    rows: &[TrackRow],
    hashes: &[String],
    mut stored: HashMap<i64, (String, T)>,
    compute: impl FnOnce(&[usize], &mut Counters) -> Result<Vec<Result<T>>>,
    mut store: impl FnMut(&TrackRow, &str, &T) -> Result<()>,
    counters: &mut Counters,
) -> Result<Vec<(i64, Artifact<T>)>> {
    let kind = what.kind;
    let mut out: Vec<(i64, Artifact<T>)> = Vec::with_capacity(rows.len());
    let mut misses: Vec<usize> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        match stored.remove(&r.id) {
            Some((h, v)) if h == hashes[i] => out.push((r.id, Artifact::Hit(v))),
            _ => {
                misses.push(i);
                out.push((r.id, Artifact::Failed(Error::Runtime("pending".into()))));
            }
        }
    }
    counters.add(&format!("{kind}_hits"), (rows.len() - misses.len()) as f64);
    if misses.is_empty() {
        return Ok(out);
    }
    counters.add(&format!("{kind}_misses"), misses.len() as f64);
    let names: Vec<String> = misses.iter().map(|&i| super::flight::artifact_name(kind, rows[i].id, what.model)).collect();
    let lead = super::flight::try_lead(&names)?;
    let led = lead.iter().filter(|l| **l).count();
    counters.add("artifact_writes_deferred", (misses.len() - led) as f64);
    let (misses, lead): (Vec<usize>, Vec<bool>) = if what.need == Need::Stored {
        for (&i, _) in misses.iter().zip(&lead).filter(|(_, l)| !**l) {
            out[i].1 = Artifact::Deferred;
        }
        misses.iter().zip(&lead).filter(|(_, l)| **l).map(|(&i, &l)| (i, l)).unzip()
    } else {
        (misses, lead)
    };
    if misses.is_empty() {
        return Ok(out);
    }
    let results = compute(&misses, counters)?;
    if results.len() != misses.len() {
        return Err(Error::Runtime(format!("{kind}: {} results for {} items", results.len(), misses.len())));
    }
    as_owner(|| {
        for ((&i, res), leads) in misses.iter().zip(results).zip(lead) {
            out[i].1 = match res {
                Ok(v) => {
                    if leads {
                        store(&rows[i], &hashes[i], &v)?;
                    }
                    Artifact::Computed(v)
                }
                Err(e) => Artifact::Failed(e),
            };
        }
        Ok(())
    })?;
    Ok(out)
}

/// Document embeddings of `rows` for the model (id, version), DB first ([`ensure_artifacts`]):
/// the misses are embedded in batches; a text that fails is isolated so that the others still
/// get theirs.
pub fn ensure_embeddings(rows: &[TrackRow], model: &(String, String), counters: &mut Counters) -> Result<Vec<(i64, Artifact<Vec<f32>>)>> {
    ensure_embeddings_for(rows, model, Need::Values, counters)
}

/// [`ensure_embeddings`] for a caller that needs them stored, or their values too.
pub fn ensure_embeddings_for(
    rows: &[TrackRow],
    model: &(String, String),
    need: Need,
    counters: &mut Counters,
) -> Result<Vec<(i64, Artifact<Vec<f32>>)>> {
    let (model_id, version) = model;
    let hashes = artifact_keys(rows)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let stored: HashMap<i64, (String, Vec<f32>)> = Spi::connect(|c| {
        let t = c.select(
            "select track_id, content_hash, embedding, embedding_half
               from songmatch.track_embeddings
              where embedding_kind = 'document' and model_name = $1 and model_version = $2 and track_id = any($3)",
            None,
            &[model_id.as_str().into(), version.as_str().into(), ids.into()],
        )?;
        let mut m = HashMap::new();
        for r in t {
            let v = match r.get::<Vector>(3)? {
                Some(v) => Some(v.0),
                None => r.get::<super::vector::HalfVec>(4)?.map(|h| h.0.iter().map(|x| x.to_f32()).collect()),
            };
            if let (Some(id), Some(h), Some(v)) = (r.get::<i64>(1)?, r.get::<String>(2)?, v) {
                m.insert(id, (h, v));
            }
        }
        Ok::<_, pgrx::spi::SpiError>(m)
    })
    .map_err(spi_err("cannot read stored embeddings"))?;

    let storage = std::cell::Cell::new(Storage::Vector);
    let compute = |misses: &[usize], counters: &mut Counters| -> Result<Vec<Result<Vec<f32>>>> {
        // a malformed analysis fails its own document, before any inference
        let docs: Vec<Result<String>> = misses.iter().map(|&i| rows[i].document()).collect();
        let manifest = infer::manifest(model_id)?;
        storage.set(manifest.storage());
        let texts: Vec<String> =
            docs.iter().filter_map(|d| d.as_ref().ok()).map(|d| embed::format_text(&manifest, Role::Document, None, d)).collect();
        infer::take_shared();
        let mut computed: Vec<Result<Vec<f32>>> = match infer::embed(model_id, &texts) {
            Ok(v) => v.into_iter().map(Ok).collect(),
            // the service being unreachable is not a property of any one text
            Err(e @ Error::Unavailable(_)) => return Err(e),
            // isolate the text that fails, so that the others still get their embedding
            Err(_) => texts.iter().map(|t| infer::embed(model_id, std::slice::from_ref(t)).map(|mut v| v.remove(0))).collect(),
        };
        infer::count(counters, model_id, computed.iter().filter(|c| c.is_ok()).count());
        computed.reverse();
        Ok(docs
            .into_iter()
            .map(|d| d.and_then(|_| computed.pop().unwrap_or_else(|| Err(Error::Runtime("missing embedding".into())))))
            .collect())
    };
    // no casts: the vector types are passed with their own type oids, found through pgvector's
    // schema, so this works whatever the caller's search_path is
    let store = |row: &TrackRow, hash: &str, v: &Vec<f32>| -> Result<()> {
        let (sql, vector): (&str, pgrx::datum::DatumWithOid) = if storage.get() == Storage::HalfVec {
            (
                "select songmatch.upsert_track_embedding_half($1, 'document', $2, $3, $4, $5)",
                super::vector::HalfVec::from(&Vector(v.clone())).into(),
            )
        } else {
            ("select songmatch.upsert_track_embedding($1, 'document', $2, $3, $4, $5)", Vector(v.clone()).into())
        };
        Spi::run_with_args(sql, &[row.id.into(), model_id.as_str().into(), version.as_str().into(), hash.into(), vector])
            .map_err(spi_err("cannot store an embedding"))
    };
    ensure_artifacts(ArtifactKind { kind: "embedding", model, need }, rows, &hashes, stored, compute, store, counters)
}

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
    let res = ensure_embeddings_for(&rows, &model, Need::Stored, &mut counters).or_report();
    counters.flush().or_report();
    TableIterator::new(artifact_statuses(&ids, res))
}

/// The track ids of an `embed_tracks` / `classify_tracks` call: required, within
/// songmatch.max_batch_size, from a signed-in caller, distinct and sorted.
fn artifact_request(track_ids: Option<Vec<Option<i64>>>) -> Vec<i64> {
    let track_ids = super::required(track_ids, "track_ids");
    guc::limits().check_batch("track_ids", track_ids.len()).or_report();
    super::privilege::require_signed_in("storing artifacts").or_report();
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

/// Emotions of `rows` with the bundle's emotion model, DB first ([`ensure_artifacts`]): stored
/// rows of `track_emotions` with a current content hash are read, the others computed and
/// upserted. An embedding-head model reuses the tracks' stored embeddings when it sits on the
/// bundle's embedding model.
pub fn ensure_emotions(rows: &[TrackRow], bundle: &Bundle, need: Need, counters: &mut Counters) -> Result<Vec<(i64, Artifact<Value>)>> {
    let Some(model) = bundle.emotion.clone() else {
        return Err(Error::invalid(format!("the bundle \"{}\" has no emotion model", bundle.name)));
    };
    let (model_id, version) = &model;
    let hashes = artifact_keys(rows)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let stored: HashMap<i64, (String, Value)> = Spi::connect(|c| {
        let t = c.select(
            "select track_id, content_hash, jsonb_build_object('model', model_name, 'model_version', model_version,
                    'labels', labels, 'predicted', to_jsonb(predicted), 'ekman', ekman, 'sentiment', sentiment)
               from songmatch.track_emotions where model_name = $1 and model_version = $2 and track_id = any($3)",
            None,
            &[model_id.as_str().into(), version.as_str().into(), ids.into()],
        )?;
        let mut m = HashMap::new();
        for r in t {
            if let (Some(id), Some(h), Some(v)) = (r.get::<i64>(1)?, r.get::<String>(2)?, r.get::<JsonB>(3)?) {
                m.insert(id, (h, v.0));
            }
        }
        Ok::<_, pgrx::spi::SpiError>(m)
    })
    .map_err(spi_err("cannot read stored emotions"))?;
    let compute = |misses: &[usize], counters: &mut Counters| -> Result<Vec<Result<Value>>> {
        let (kind, base) = {
            let m = infer::manifest(model_id)?;
            (m.kind, m.base_model)
        };
        let miss_rows: Vec<TrackRow> = misses.iter().map(|&i| rows[i].clone()).collect();
        let results: Vec<Result<Value>> =
            if kind == crate::core::models::manifest::ModelKind::EmbeddingHead && base.as_deref() == Some(bundle.embedding.0.as_str()) {
                let embs = ensure_embeddings(&miss_rows, &bundle.embedding, counters)?;
                let good: Vec<Vec<f32>> = embs.iter().filter_map(|(_, a)| a.value().cloned()).collect();
                let logits = infer::head(model_id, &good)?;
                let manifest = infer::manifest(model_id)?;
                let mut li = logits.into_iter();
                embs.into_iter()
                    .map(|(_, a)| match a {
                        Artifact::Failed(e) => Err(e),
                        _ => li
                            .next()
                            .ok_or_else(|| Error::Runtime("missing logits".into()))
                            .and_then(|l| crate::core::models::classify::emotions_json(&manifest, &l, None)),
                    })
                    .collect()
            } else {
                let docs: Vec<Result<String>> = miss_rows.iter().map(TrackRow::document).collect();
                let good: Vec<String> = docs.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
                infer::take_shared();
                let mut vals = super::classify::emotions_with_model(model_id, &good, None)?.into_iter();
                docs.into_iter().map(|d| d.and_then(|_| vals.next().ok_or_else(|| Error::Runtime("missing emotions".into())))).collect()
            };
        infer::count(counters, model_id, results.iter().filter(|r| r.is_ok()).count());
        Ok(results)
    };
    let store = |row: &TrackRow, hash: &str, v: &Value| -> Result<()> {
        let predicted: Vec<String> =
            v["predicted"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default();
        Spi::run_with_args(
            "insert into songmatch.track_emotions as te (track_id, model_name, model_version, content_hash, labels, predicted, ekman, sentiment)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (track_id, model_name, model_version) do update
                set content_hash = excluded.content_hash, labels = excluded.labels, predicted = excluded.predicted,
                    ekman = excluded.ekman, sentiment = excluded.sentiment",
            &[
                row.id.into(),
                model_id.as_str().into(),
                version.as_str().into(),
                hash.into(),
                JsonB(v["labels"].clone()).into(),
                predicted.into(),
                JsonB(v.get("ekman").cloned().unwrap_or(json!({}))).into(),
                JsonB(v.get("sentiment").cloned().unwrap_or(json!({}))).into(),
            ],
        )
        .map_err(spi_err("cannot store emotions"))
    };
    ensure_artifacts(ArtifactKind { kind: "emotion", model: &model, need }, rows, &hashes, stored, compute, store, counters)
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
    let res = ensure_emotions(&rows, &bundle, Need::Stored, &mut counters).or_report();
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

/// A fact about this database's schema that, once true, stays true for the backend (an update
/// only ever adds what it asks about): answered by `sql` (one boolean) until it is true, then
/// from `seen`.
pub(super) fn once_true(
    seen: &'static std::thread::LocalKey<std::cell::Cell<bool>>,
    sql: &'static str,
    what: &'static str,
) -> Result<bool> {
    if seen.with(|c| c.get()) {
        return Ok(true);
    }
    let yes = super::plans::select(sql, &[], |mut t| Ok(t.next().map(|r| r.get::<bool>(1)).transpose()?.flatten().unwrap_or(false)))
        .map_err(spi_err(what))?;
    if yes {
        seen.with(|c| c.set(true));
    }
    Ok(yes)
}

thread_local! {
    static TRACK_SIGNALS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static DOCUMENT_KEYS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether artifacts are keyed by their track's document (0.8.0: `track_content.document_hash`);
/// a database whose extension is not updated yet keys them by the track's content hash, and the
/// library keeps that key there until ALTER EXTENSION UPDATE re-keys them.
pub(super) fn document_keys() -> Result<bool> {
    once_true(
        &DOCUMENT_KEYS,
        "select exists (select 1 from pg_catalog.pg_attribute
                         where attrelid = 'songmatch.track_content'::pg_catalog.regclass and attname = 'document_hash' and not attisdropped)",
        "cannot read the catalog",
    )
}

/// The key of a track's artifacts in this database's schema ([`document_keys`]).
fn artifact_keys(rows: &[TrackRow]) -> Result<Vec<String>> {
    Ok(if document_keys()? {
        rows.iter().map(TrackRow::document_hash).collect()
    } else {
        rows.iter().map(TrackRow::content_hash).collect()
    })
}

/// Whether `track_content` stores the tracks' stage-1 signals (0.3.0; an earlier schema, not yet
/// updated, has none: they are derived from the rows).
fn stored_signals() -> Result<bool> {
    once_true(
        &TRACK_SIGNALS,
        "select exists (select 1 from pg_catalog.pg_attribute
                         where attrelid = 'songmatch.track_content'::pg_catalog.regclass and attname = 'signals' and not attisdropped)",
        "cannot read the catalog",
    )
}

/// A track's stored stage-1 signals: the bytes of `track_content.signals`, or where the feature
/// store holds them (None: none there).
type StoredSignals = Option<Encoded>;

/// The database's feature store, mapped (src/sql/store.rs).
type FeatureStore = Arc<super::store::Mapped>;

/// Candidates' content hashes and stored signals, in their order, and the store they came from.
type ContentRows = (Vec<Option<String>>, Vec<StoredSignals>, Option<FeatureStore>, Vec<Option<usize>>);

/// The candidates of a match, distinct: their ids, content hashes and stored stage-1 signals,
/// read together.
pub struct Candidates {
    pub ids: Vec<i64>,
    pub hashes: Vec<String>,
    pub signals: Vec<StoredSignals>,
    /// The feature store, when it was current for the call (src/sql/store.rs): the embeddings
    /// of the candidates it has are read from it.
    pub store: Option<FeatureStore>,
    /// Where the store has each candidate's embedding, when the hashes came from it (then a
    /// candidate without a position has none there); empty: to be looked up.
    pub positions: Vec<Option<usize>>,
}

/// Stage 1's view of the candidates, in their order. Their hashes and signals came with them
/// (from `track_content`); this reads their current embeddings (of their current document) in
/// one query. A candidate without current stored signals (no `track_content` row, bytes of another
/// version) gets them from its row; one without a current embedding goes through
/// [`ensure_embeddings`] (inference on a miss). No per-row JSON on the common path.
pub fn read_candidates(cands: Candidates, model: &(String, String), counters: &mut Counters) -> Result<Vec<CandidateSignals>> {
    let Candidates { ids, hashes, signals, store, positions } = cands;
    let t0 = Instant::now();
    let at: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut embeddings: Vec<Option<Embedding>> = vec![None; ids.len()];
    // from the store where it has the candidate's current content under this model (a vector is
    // the same for the same content and model), read in place; else from the table
    let mut from_store = 0usize;
    if let Some(m) = store.filter(|m| m.header.of_model(model)) {
        if let Some(st) = m.store() {
            let dims = m.header.dims as usize;
            let source: Arc<dyn FloatSource> = m.clone();
            // (the positions found with the hashes, else looked up by id and hash)
            let positions = if positions.len() == ids.len() { positions } else { st.embedding_positions(&ids, &hashes) };
            embeddings = if source.floats().is_empty() {
                positions.into_iter().map(|at| Some(st.embedding_at(at?).into())).collect()
            } else {
                positions.into_iter().map(|at| Embedding::shared(&source, at? * dims, dims)).collect()
            };
            from_store = embeddings.iter().filter(|e| e.is_some()).count();
        }
    }
    counters.add("feature_store_embeddings", from_store as f64);
    let rest: Vec<i64> =
        if from_store == 0 { ids.clone() } else { (0..ids.len()).filter(|&i| embeddings[i].is_none()).map(|i| ids[i]).collect() };
    super::plans::with_settings(GENERIC_PLAN, spi_err("cannot change a setting for the match"), || {
        if rest.is_empty() {
            return Ok(());
        }
        // (only an embedding of the track's current document; of its content in a schema before 0.8.0)
        super::plans::select_batches(
            if document_keys()? {
                "select e.track_id, e.embedding, e.embedding_half from songmatch.track_embeddings e
                   join songmatch.track_content tc on tc.track_id = e.track_id and tc.document_hash = e.content_hash
                  where e.embedding_kind = 'document' and e.model_name = $2 and e.model_version = $3 and e.track_id = any($1)"
            } else {
                "select e.track_id, e.embedding, e.embedding_half from songmatch.track_embeddings e
                   join songmatch.track_content tc on tc.track_id = e.track_id and tc.content_hash = e.content_hash
                  where e.embedding_kind = 'document' and e.model_name = $2 and e.model_version = $3 and e.track_id = any($1)"
            },
            &[rest.into(), model.0.as_str().into(), model.1.as_str().into()],
            4096,
            |t| {
                for r in t {
                    let Some(&i) = r.get::<i64>(1)?.and_then(|id| at.get(&id)) else { continue };
                    embeddings[i] = match r.get::<Vector>(2)? {
                        Some(v) => Some(v.0.into()),
                        None => r.get::<super::vector::HalfVec>(3)?.map(|h| h.0.iter().map(|x| x.to_f32()).collect::<Vec<f32>>().into()),
                    };
                }
                Ok(())
            },
        )
        .map_err(spi_err("cannot read the candidates' embeddings"))
    })?;
    let mut decoded: Vec<Option<SignalsView>> = crate::core::signals::parse_all(signals);
    pgrx::debug1!(
        "songmatch: read {} candidates' embeddings ({from_store} from the feature store) and signals in {:?}",
        ids.len(),
        t0.elapsed()
    );
    // the rest from their rows: signals derived, embeddings DB-first (computed on a miss)
    let slow: Vec<usize> = (0..ids.len()).filter(|&i| decoded[i].is_none() || embeddings[i].is_none()).collect();
    counters.add("embedding_hits", (ids.len() - slow.len()) as f64);
    // (a candidate whose row is gone by now is left out)
    let mut gone = vec![false; ids.len()];
    if !slow.is_empty() {
        let slow_ids: Vec<i64> = slow.iter().map(|&i| ids[i]).collect();
        let rows = load_tracks(&slow_ids)?;
        for &i in &slow {
            gone[i] = rows.binary_search_by_key(&ids[i], |r| r.id).is_err();
        }
        let embs = ensure_embeddings(&rows, model, counters)?;
        for (r, (_, a)) in rows.iter().zip(embs) {
            let Some(&i) = at.get(&r.id) else { continue };
            if decoded[i].is_none() {
                decoded[i] = Some(SignalsView::of(&TrackSignals::of(&r.track, &r.analysis)));
            }
            embeddings[i] = match a {
                Artifact::Hit(v) | Artifact::Computed(v) => Some(v.into()),
                Artifact::Failed(_) | Artifact::Deferred => None,
            };
        }
    }
    Ok(ids
        .into_iter()
        .zip(embeddings)
        .zip(decoded)
        .zip(gone)
        .filter(|(_, gone)| !gone)
        .map(|(((id, embedding), s), _)| CandidateSignals {
            track_id: id,
            embedding,
            signals: s.unwrap_or_default(),
            emotions: BTreeMap::new(),
        })
        .collect())
}

// ------------------------------------------------------------------------------------------------
// playlist profiles
// ------------------------------------------------------------------------------------------------

pub const PROFILE_KIND: &str = "default";

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

thread_local! {
    static OWNER_COLUMNS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the per-user tables carry their user (sql/owners.sql, 0.6.0). A database not yet
/// updated has not; it is read and written without them. (Once seen, the answer is kept for the
/// backend: an update only ever adds the columns.)
pub fn owner_columns() -> Result<bool> {
    once_true(
        &OWNER_COLUMNS,
        "select exists (select 1 from pg_catalog.pg_attribute
                         where attrelid = pg_catalog.to_regclass('songmatch.playlist_profiles') and attname = 'owner_id'
                           and not attisdropped)",
        "cannot read songmatch's schema",
    )
}

thread_local! {
    static NO_CITUS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this database has no Citus (the answer is kept for the backend once it is yes).
pub fn citus_absent() -> Result<bool> {
    once_true(&NO_CITUS, "select pg_catalog.to_regclass('pg_catalog.pg_dist_partition') is null", "cannot read songmatch's schema")
}

/// On Citus, after `songmatch.distribute()`, a call that does not name its user cannot be routed
/// to the user's worker, and from the coordinator it would read the user's rows as the caller and
/// store results as songmatch_owner, which Citus refuses in one transaction: 0A000, naming the call
/// to make instead. (A backend that found no Citus does not look again.)
fn refuse_on_cluster(call: &str, instead: &str) -> Result<()> {
    if citus_absent()? {
        return Ok(());
    }
    let distributed = Spi::get_one::<bool>(
        "select exists (select 1 from pg_catalog.pg_dist_partition where logicalrelid = 'songmatch.playlists'::pg_catalog.regclass)",
    )
    .map_err(spi_err("cannot read Citus's metadata"))?
    .unwrap_or(false);
    if distributed {
        return Err(Error::Unsupported(format!(
            "{call} is not routed on a distributed deployment: call {instead}, which runs on the worker that holds the user"
        )));
    }
    Ok(())
}

/// The playlist `id` with its analysis and members. With `user`, only a playlist of that user
/// is found (the call is routed by its user: every read names it).
pub fn load_playlist(id: i64, user: Option<Uuid>) -> Result<PlaylistInfo> {
    let owner_columns = owner_columns()?;
    if !owner_columns {
        // (a database not yet updated to 0.6.0; no call names its user there)
        let row = super::plans::select(
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
    let row = super::plans::select(sql, &args, |mut t| {
        Ok(match t.next() {
            None => None,
            Some(r) => Some((r.get::<Uuid>(1)?, r.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null))),
        })
    })
    .map_err(spi_err("cannot read the playlist"))?;
    let (owner, playlist) = row.ok_or_else(|| Error::invalid(format!("playlist {id} does not exist")))?;
    let owner = owner.ok_or_else(|| Error::data(format!("playlist {id} has no owner")))?;
    let analysis = super::plans::select(
        "select a.analysis from songmatch.playlist_analyses a where a.owner_id = $2 and a.playlist_id = $1",
        &[id.into(), owner.into()],
        |mut t| Ok(t.next().map(|r| r.get::<JsonB>(1)).transpose()?.flatten().map(|j| j.0).unwrap_or(Value::Null)),
    )
    .map_err(spi_err("cannot read the playlist's analysis"))?;
    let members = super::plans::select(
        "select coalesce(array_agg(pt.track_id order by pt.track_id), '{}') from songmatch.playlist_tracks pt
          where pt.owner_id = $2 and pt.playlist_id = $1",
        &[id.into(), owner.into()],
        |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
    )
    .map_err(spi_err("cannot read the playlist's members"))?;
    let member_hashes = content_hashes(&members)?;
    Ok(PlaylistInfo { id, owner, playlist, analysis, members, member_hashes, owner_columns })
}

/// The members' catalogue profile (artists, albums, years, popularity) from their rows.
fn catalogue_profile(rows: &[TrackRow]) -> catalogue::CatalogueProfile {
    catalogue::profile(&rows.iter().map(|r| catalogue::track_of(&r.track)).collect::<Vec<_>>())
}

pub struct Profile {
    pub content_hash: String,
    pub signals: PlaylistSignals,
    pub recomputed: bool,
    /// Recomputed but not stored: another session is storing this playlist's profile now
    /// (src/sql/flight.rs).
    pub deferred: bool,
}

/// The profile of a playlist under a bundle: persisted, recomputed only when its content hash
/// (playlist, analysis, members and their content hashes, bundle) changes.
pub fn playlist_profile(p: &PlaylistInfo, bundle: &Bundle, counters: &mut Counters) -> Result<Profile> {
    // the members' content hashes, vectors and signals: from the feature store when it has them
    // all, else from their rows (embedding any that has no current vector)
    let (member_hashes, members, tracks) = match members_from_store(p, &bundle.embedding)? {
        Some(m) => m,
        None => {
            let rows = load_tracks(&p.members)?;
            let embs = ensure_embeddings(&rows, &bundle.embedding, counters)?;
            let member_hashes: Vec<Value> = rows.iter().map(|r| json!([r.id, r.content_hash()])).collect();
            let members: Vec<Vec<f32>> = embs.iter().filter_map(|(_, a)| a.value().cloned()).collect();
            (member_hashes, members, rows.iter().map(|r| TrackSignals::of(&r.track, &r.analysis)).collect())
        }
    };
    let hash = content_hash(
        ContentKind::PlaylistProfile,
        &json!({"playlist": p.playlist, "analysis": p.analysis, "members": member_hashes, "bundle": bundle.hash}),
    );
    let refs: Vec<&[f32]> = members.iter().map(|v| v.as_slice()).collect();
    let centroid = profile::centroid(&refs);
    let audio = profile::audio_stats(&tracks.iter().map(|t| t.audio).collect::<Vec<_>>());
    let genres = profile::genre_distribution(&tracks.iter().map(|t| t.genres.clone()).collect::<Vec<_>>());
    let catalogue = catalogue::profile(&tracks.iter().map(|t| t.catalogue.clone()).collect::<Vec<_>>());

    // (the stored hash, query embedding, the hash of the query text it embeds and the members it
    // was computed with)
    let stored: Option<(String, Option<Vector>, Option<String>, Value)> = Spi::connect(|c| {
        let mut t = c.select(
            if p.owner_columns {
                "select content_hash, query_embedding, details ->> 'query_hash', details -> 'members' from songmatch.playlist_profiles
                  where owner_id = $4 and playlist_id = $1 and profile_kind = $2 and model_bundle_hash = $3"
            } else {
                "select content_hash, query_embedding, details ->> 'query_hash', details -> 'members' from songmatch.playlist_profiles
                  where playlist_id = $1 and profile_kind = $2 and model_bundle_hash = $3 and $4::uuid is not null"
            },
            None,
            &[p.id.into(), PROFILE_KIND.into(), bundle.hash.as_str().into(), p.owner.into()],
        )?;
        Ok::<_, pgrx::spi::SpiError>(match t.next() {
            Some(r) => Some((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<Vector>(2)?,
                r.get::<String>(3)?,
                r.get::<JsonB>(4)?.map(|j| j.0).unwrap_or(Value::Null),
            )),
            None => None,
        })
    })
    .map_err(spi_err("cannot read the playlist profile"))?;
    if let Some((h, q, _, _)) = &stored {
        if *h == hash {
            counters.add("profile_hits", 1.0);
            let query = q.as_ref().map(|v| v.0.clone());
            let signals = PlaylistSignals { members, centroid, query, audio, genres, emotions: BTreeMap::new(), catalogue };
            return Ok(Profile { content_hash: hash, signals, recomputed: false, deferred: false });
        }
    }
    // recompute: the playlist's own query text is embedded once per text (its members' changes,
    // a popularity among them, reuse the stored query embedding)
    let started = Instant::now();
    let query_text = text::playlist_query(&p.playlist, &p.analysis)?;
    let query_hash = text::query_hash(&query_text);
    let reused = stored.and_then(|(h, q, qh, old_members)| {
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
    let query = match reused {
        Some(q) => Some(q),
        None => {
            let t = embed::format_text(&infer::manifest(&bundle.embedding.0)?, Role::Query, None, &query_text);
            infer::take_shared();
            let q = infer::embed(&bundle.embedding.0, &[t])?.pop();
            infer::count(counters, &bundle.embedding.0, 1);
            q
        }
    };
    counters.add("profile_recomputes", 1.0);
    let (audio_mean, audio_std) = audio.to_json();
    let dims = query.as_ref().map(|q| q.len()).or(centroid.as_ref().map(|c| c.len())).unwrap_or(0) as i32;
    // (stored by the session that leads the row: src/sql/flight.rs)
    let leads = super::flight::try_lead_one(&super::flight::profile_name(p.id, &bundle.hash))?;
    if !leads {
        counters.add("artifact_writes_deferred", 1.0);
    }
    as_owner(|| {
        if !leads {
            return Ok(());
        }
        Spi::run_with_args(
            if p.owner_columns {
                "insert into songmatch.playlist_profiles as pp (playlist_id, profile_kind, model_bundle_hash, dims, content_hash,
                 member_count, centroid, query_embedding, audio_centroid, audio_spread, genre_distribution, details, owner_id)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 on conflict (owner_id, playlist_id, profile_kind, model_bundle_hash) do update
                    set dims = excluded.dims, content_hash = excluded.content_hash, member_count = excluded.member_count,
                        centroid = excluded.centroid, query_embedding = excluded.query_embedding,
                        audio_centroid = excluded.audio_centroid, audio_spread = excluded.audio_spread,
                        genre_distribution = excluded.genre_distribution, details = excluded.details"
            } else {
                // (a database not yet updated to 0.6.0)
                "insert into songmatch.playlist_profiles as pp (playlist_id, profile_kind, model_bundle_hash, dims, content_hash,
                 member_count, centroid, query_embedding, audio_centroid, audio_spread, genre_distribution, details)
                 select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 where $13::uuid is not null
                 on conflict (playlist_id, profile_kind, model_bundle_hash) do update
                    set dims = excluded.dims, content_hash = excluded.content_hash, member_count = excluded.member_count,
                        centroid = excluded.centroid, query_embedding = excluded.query_embedding,
                        audio_centroid = excluded.audio_centroid, audio_spread = excluded.audio_spread,
                        genre_distribution = excluded.genre_distribution, details = excluded.details"
            },
            &[
                p.id.into(),
                PROFILE_KIND.into(),
                bundle.hash.as_str().into(),
                dims.max(1).into(),
                hash.as_str().into(),
                (members.len() as i32).into(),
                centroid.clone().map(Vector).into(),
                query.clone().map(Vector).into(),
                JsonB(audio_mean).into(),
                JsonB(audio_std).into(),
                JsonB(json!(genres)).into(),
                JsonB(json!({"members": member_hashes, "profile_version": versions::PLAYLIST_PROFILE_VERSION, "query_hash": query_hash}))
                    .into(),
                p.owner.into(),
            ],
        )
        .map_err(spi_err("cannot store the playlist profile"))
    })?;
    pgrx::debug1!("songmatch: profile of playlist {} recomputed in {:?}", p.id, started.elapsed());
    let signals = PlaylistSignals { members, centroid, query, audio, genres, emotions: BTreeMap::new(), catalogue };
    Ok(Profile { content_hash: hash, signals, recomputed: true, deferred: !leads })
}

/// The members' `[id, content hash]` pairs, vectors and signals, read from the feature store when
/// it is current, of this model, and has every member's current content (its hash in
/// `track_content`) with a vector and signals; None otherwise. The same values as their rows give
/// (the store holds what the rows' triggers derived, of the generation it is current at).
#[allow(clippy::type_complexity)]
fn members_from_store(p: &PlaylistInfo, model: &(String, String)) -> Result<Option<(Vec<Value>, Vec<Vec<f32>>, Vec<TrackSignals>)>> {
    if p.members.is_empty() || p.member_hashes.iter().any(Option::is_none) {
        return Ok(None);
    }
    let Some(m) = super::store::current(citus_absent()?)?.filter(|m| m.header.of_model(model)) else { return Ok(None) };
    let Some(st) = m.store() else { return Ok(None) };
    let (mut pairs, mut vectors, mut tracks) = (Vec::new(), Vec::new(), Vec::new());
    for (id, hash) in p.members.iter().zip(&p.member_hashes) {
        let Some(e) = st.entry(*id).filter(|e| e.has_embedding && Some(e.content_hash) == hash.as_deref()) else { return Ok(None) };
        let Some(signals) = e.signals.and_then(|b| TrackSignals::decode(b).ok()) else { return Ok(None) };
        pairs.push(json!([id, e.content_hash]));
        vectors.push(st.embedding_at(e.at));
        tracks.push(signals);
    }
    Ok(Some((pairs, vectors, tracks)))
}

/// `songmatch.playlist_profile(playlist_id)`: the playlist's persisted profile under the active
/// bundle (computed if missing or stale), as jsonb; `deferred`: recomputed but left to the session
/// that is storing it now.
#[pg_extern(volatile, strict, name = "playlist_profile")]
fn playlist_profile_info(playlist_id: i64) -> JsonB {
    let bundle = active_bundle().or_report();
    let p = load_playlist(playlist_id, None).or_report();
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

// ------------------------------------------------------------------------------------------------
// match_playlist
// ------------------------------------------------------------------------------------------------

pub struct MatchRow {
    pub track_id: i64,
    pub score: f64,
    pub rank: i32,
    pub components: Value,
}

/// The content hashes of these tracks from `track_content`, in their order (None: no row there).
fn content_hashes(ids: &[i64]) -> Result<Vec<Option<String>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    super::plans::select(
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

/// The content hashes and stored signals of these tracks, in their order (None: no row in
/// `track_content`, or no signals stored), and the feature store when it is current: read from
/// it for the tracks it has, from `track_content` (one read) for the others.
fn content_rows(ids: &[i64]) -> Result<ContentRows> {
    let mut hashes = vec![None; ids.len()];
    let mut signals = vec![None; ids.len()];
    let mut positions = Vec::new();
    if ids.is_empty() {
        return Ok((hashes, signals, None, positions));
    }
    let store = super::store::current(citus_absent()?)?;
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
    super::plans::with_settings(GENERIC_PLAN, spi_err("cannot change a setting for the match"), || {
        super::plans::select_batches(sql, &[rest.into()], 16384, |t| {
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

/// The candidates of a playlist with their content hashes and stored signals, by id: the given
/// ids (which must exist), or the owner's liked tracks that are not in the playlist. One read of
/// `track_content` (a track without a row there, restored with triggers disabled, is hashed from
/// its row).
fn candidates_of(p: &PlaylistInfo, given: Option<Vec<Option<i64>>>) -> Result<Candidates> {
    let (ids, hashes, signals, store, positions) = match given {
        Some(list) => {
            let mut ids = Vec::with_capacity(list.len());
            for (i, x) in list.iter().enumerate() {
                ids.push(
                    x.ok_or_else(|| Error::NullValue(format!("candidate_track_ids must not contain NULL (element {} is NULL)", i + 1)))?,
                );
            }
            ids.sort_unstable();
            ids.dedup();
            let (hashes, signals, store, positions) = content_rows(&ids)?;
            // a track has a track_content row (its triggers keep it); one without is looked up
            let unknown: Vec<i64> = ids.iter().zip(&hashes).filter(|(_, h)| h.is_none()).map(|(i, _)| *i).collect();
            if !unknown.is_empty() {
                let existing: Vec<i64> = super::plans::select(
                    "select coalesce(array_agg(t.id order by t.id), '{}') from songmatch.tracks t where t.id = any($1)",
                    &[unknown.clone().into()],
                    |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
                )
                .map_err(spi_err("cannot read the candidates"))?;
                let missing: Vec<String> =
                    unknown.iter().filter(|i| existing.binary_search(i).is_err()).take(10).map(|i| i.to_string()).collect();
                if !missing.is_empty() {
                    return Err(Error::invalid(format!("candidate track ids do not exist: {}", missing.join(", "))));
                }
            }
            (ids, hashes, signals, store, positions)
        }
        None if p.owner_columns => {
            // (the user's rows, then the catalogue's: see load_playlist)
            // (the liked tracks minus the members, which load_playlist read: one table per read)
            let liked: Vec<i64> = super::plans::select(
                "select coalesce(array_agg(l.track_id order by l.track_id), '{}') from songmatch.liked_tracks l where l.user_id = $1",
                &[p.owner.into()],
                |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
            )
            .map_err(spi_err("cannot read the candidates"))?;
            let ids: Vec<i64> = liked.into_iter().filter(|t| p.members.binary_search(t).is_err()).collect();
            let (hashes, signals, store, positions) = content_rows(&ids)?;
            (ids, hashes, signals, store, positions)
        }
        None => {
            let ids: Vec<i64> = super::plans::select(
                "select coalesce(array_agg(l.track_id order by l.track_id), '{}') from songmatch.liked_tracks l
                  where l.user_id = $1
                    and not exists (select 1 from songmatch.playlist_tracks pt where pt.playlist_id = $2 and pt.track_id = l.track_id)",
                &[p.owner.into(), p.id.into()],
                |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
            )
            .map_err(spi_err("cannot read the candidates"))?;
            let (hashes, signals, store, positions) = content_rows(&ids)?;
            (ids, hashes, signals, store, positions)
        }
    };
    let hashes = fill_hashes(&ids, hashes)?;
    Ok(Candidates { ids, hashes, signals, store, positions })
}

/// Content hashes where `track_content` had none, from the tracks' rows.
fn fill_hashes(ids: &[i64], hashes: Vec<Option<String>>) -> Result<Vec<String>> {
    let missing: Vec<i64> = ids.iter().zip(&hashes).filter(|(_, h)| h.is_none()).map(|(i, _)| *i).collect();
    let computed: HashMap<i64, String> =
        if missing.is_empty() { HashMap::new() } else { load_tracks(&missing)?.iter().map(|r| (r.id, r.content_hash())).collect() };
    Ok(ids.iter().zip(hashes).map(|(i, h)| h.or_else(|| computed.get(i).cloned()).unwrap_or_default()).collect())
}

/// What stage 1 and the ranker know of each candidate (rows and embeddings in the same order).
fn candidate_signals(
    cand_rows: &[TrackRow],
    embs: Vec<(i64, Artifact<Vec<f32>>)>,
    mut emotions: HashMap<i64, BTreeMap<String, f64>>,
) -> Vec<CandidateSignals> {
    cand_rows
        .iter()
        .zip(embs)
        .map(|(r, (_, a))| {
            CandidateSignals::new(
                r.id,
                a.value().cloned().map(Embedding::from),
                &TrackSignals::of(&r.track, &r.analysis),
                emotions.remove(&r.id).unwrap_or_default(),
            )
        })
        .collect()
}

/// (track id, score, components), best first.
type Ranked = Vec<(i64, f64, serde_json::Map<String, Value>)>;

/// What a ranking is about: the bundle, the playlist and its signals, the config.
struct Scoring<'a> {
    bundle: &'a Bundle,
    signals: &'a PlaylistSignals,
    p: &'a PlaylistInfo,
    cfg: &'a Config,
}

/// Stage 1 over the candidates, then stage 2 (the bundle's learned ranker, then its text
/// reranker) on the top candidates.
fn rank_candidates(scoring: Scoring<'_>, mut cands: Vec<CandidateSignals>, keep: usize, counters: &mut Counters) -> Result<Ranked> {
    let Scoring { bundle, signals, p, cfg } = scoring;
    // emotions only when they count and the bundle has a model for them
    let use_emotions = bundle.emotion.is_some() && cfg.weights.get("emotion").copied().unwrap_or(0.0) > 0.0;
    let mut signals = signals.clone();
    if use_emotions {
        let member_rows = load_tracks(&p.members)?;
        let me = ensure_emotions(&member_rows, bundle, Need::Values, counters)?;
        signals.emotions = profile::mean_buckets(&me.iter().filter_map(|(_, a)| a.value().map(profile::ekman_of)).collect::<Vec<_>>());
        let cand_rows = load_tracks(&cands.iter().map(|c| c.track_id).collect::<Vec<_>>())?;
        let mut cand_emotions: HashMap<i64, BTreeMap<String, f64>> = HashMap::new();
        for (id, a) in ensure_emotions(&cand_rows, bundle, Need::Values, counters)? {
            if let Some(v) = a.value() {
                cand_emotions.insert(id, profile::ekman_of(v));
            }
        }
        for c in cands.iter_mut() {
            c.emotions = cand_emotions.remove(&c.track_id).unwrap_or_default();
        }
    }
    let signals = &signals;

    // stage 1, of which stage 2 takes a window of the best (the ranker's or reranker's window, or
    // `keep`): only those are ordered; the components JSON is built only for the `keep` returned
    let ranked = if bundle.ranker.is_some() { cfg.ranker_top_n.min(cands.len()) } else { 0 };
    // (stage1_best keeps at most every candidate)
    let window = scoring::stage2_window(keep, cfg, bundle.ranker.is_some(), bundle.reranker.is_some());
    let t0 = Instant::now();
    let scored = scoring::stage1_best(signals, &cands, cfg, window);
    pgrx::debug1!("songmatch: stage 1 scored {} candidates in {:?}", cands.len(), t0.elapsed());

    struct Final {
        id: i64,
        score: f64,
        at: usize,
        ranker: Option<(f32, usize)>,
        rerank: Option<f64>,
    }
    let mut finals: Vec<Final> = scored
        .iter()
        .take(window)
        .enumerate()
        .map(|(at, s)| Final { id: s.track_id, score: s.stage1, at, ranker: None, rerank: None })
        .collect();
    let mut feats: Vec<Vec<f32>> = Vec::new();
    if let Some((kid, _)) = &bundle.ranker {
        // (candidates come by id, ascending: found by a binary search, else through a map)
        let at: Vec<Option<usize>> = if cands.is_sorted_by_key(|c| c.track_id) {
            finals[..ranked].iter().map(|f| cands.binary_search_by_key(&f.id, |c| c.track_id).ok()).collect()
        } else {
            let at: HashMap<i64, usize> = cands.iter().enumerate().map(|(i, c)| (c.track_id, i)).collect();
            finals[..ranked].iter().map(|f| at.get(&f.id).copied()).collect()
        };
        let of: Vec<&CandidateSignals> = at
            .into_iter()
            .map(|i| i.map(|i| &cands[i]).ok_or_else(|| Error::Runtime("a ranked candidate is missing".into())))
            .collect::<Result<_>>()?;
        let norms = PlaylistNorms::of(signals);
        feats = ranker_features::features_of(signals, &norms, &of);
        let t0 = Instant::now();
        let scores = infer::ranker(kid, &feats)?;
        counters.add("ranker_calls", 1.0);
        counters.add("ranker_ms", t0.elapsed().as_secs_f64() * 1000.0);
        pgrx::debug1!("songmatch: the learned ranker scored {ranked} candidates in {:?}", t0.elapsed());
        counters.add(&format!("inferences:{kid}"), ranked as f64);
        let b = cfg.ranker_weight;
        for (j, (f, s)) in finals[..ranked].iter_mut().zip(&scores).enumerate() {
            f.ranker = Some((*s, j));
            f.score = scoring::blend(f.score, Some(ranker_features::squash(*s)), b);
        }
        for f in finals[ranked..].iter_mut() {
            f.score = scoring::blend(f.score, None, b);
        }
        finals.sort_by(|x, y| scoring::best_first((x.id, x.score), (y.id, y.score)));
    }
    let mut reranked: Option<usize> = None;
    if let Some((rid, _)) = bundle.reranker.as_ref().filter(|_| !finals.is_empty()) {
        let n = cfg.rerank_top_n.min(finals.len());
        let query = text::playlist_query(&p.playlist, &p.analysis)?;
        let top_rows = load_tracks(&finals[..n].iter().map(|f| f.id).collect::<Vec<_>>())?;
        let by_id: HashMap<i64, &TrackRow> = top_rows.iter().map(|r| (r.id, r)).collect();
        let docs: Vec<String> = finals[..n].iter().map(|f| by_id.get(&f.id).and_then(|r| r.document().ok()).unwrap_or_default()).collect();
        let t0 = Instant::now();
        let scores = infer::rerank(rid, &query, &docs, None)?;
        counters.add("rerank_calls", 1.0);
        counters.add("rerank_ms", t0.elapsed().as_secs_f64() * 1000.0);
        counters.add(&format!("inferences:{rid}"), n as f64);
        let a = cfg.rerank_weight;
        for (f, s) in finals[..n].iter_mut().zip(scores) {
            f.rerank = Some(s);
            f.score = scoring::blend(f.score, Some(s), a);
        }
        for f in finals[n..].iter_mut() {
            // keep reranked candidates ahead of the rest
            f.score = scoring::blend(f.score, None, a);
        }
        finals.sort_by(|x, y| scoring::best_first((x.id, x.score), (y.id, y.score)));
        reranked = Some(n);
    }
    // (the candidates are not needed any more; dropped here: they own next to nothing, and
    // dropping their references to the store from both cores would contend for its counter)
    drop(cands);
    let no_reranker = match &bundle.ranker {
        Some((kid, _)) => json!({"ranker": kid}),
        None => json!(format!("skipped: bundle \"{}\" has no ranker or reranker", bundle.name)),
    };
    let out = finals
        .into_iter()
        .take(keep)
        .map(|f| {
            let mut m = scoring::components_json(&scored[f.at]);
            if let Some((kid, _)) = &bundle.ranker {
                let v = match f.ranker {
                    Some((raw, j)) => {
                        let mut r = json!({"score": round6(raw as f64), "squashed": round6(ranker_features::squash(raw)),
                                           "weight": cfg.ranker_weight, "model": kid});
                        if cfg.explain {
                            let named: serde_json::Map<String, Value> =
                                FEATURES.iter().zip(&feats[j]).map(|(n, v)| (n.to_string(), json!(round6(*v as f64)))).collect();
                            r["features"] = Value::Object(named);
                        }
                        r
                    }
                    None => json!(format!("not ranked: below the top {ranked} of stage 1")),
                };
                m.insert("ranker".into(), v);
            }
            match (&bundle.reranker, reranked) {
                (None, _) => {
                    m.insert("stage2".into(), no_reranker.clone());
                }
                (Some((rid, _)), Some(n)) => {
                    let v = match f.rerank {
                        Some(s) => json!({"rerank": round6(s), "weight": cfg.rerank_weight, "model": rid}),
                        None => json!(format!("not reranked: below the top {n}")),
                    };
                    m.insert("stage2".into(), v);
                }
                _ => {}
            }
            (f.id, f.score, m)
        })
        .collect();
    Ok(out)
}

/// The configuration of a call: the one passed, else the one made active by
/// `songmatch.activate` for the active bundle, else the built-in default.
pub fn resolve_config(config: Option<&Value>, bundle: &Bundle) -> Result<Config> {
    if config.is_some_and(|c| !c.is_null()) {
        return Config::from_json(config);
    }
    let active: Option<JsonB> = super::plans::select(
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

/// Match one playlist: the context is looked up first; on a miss, stage 1 (+ stage 2) runs
/// and the results are stored under the context. Returns the context's id and, when `rows` is
/// set, its results (best first).
#[allow(clippy::too_many_arguments)]
pub fn match_one(
    playlist_id: i64,
    user: Option<Uuid>,
    given: Option<Vec<Option<i64>>>,
    top_k: i32,
    config: Option<&Value>,
    counters: &mut Counters,
    rows: bool,
) -> Result<(i64, Vec<MatchRow>)> {
    let started = Instant::now();
    // (anything wrong with the call is left to the full path, which reports it as before)
    let stamp = if top_k >= 1 { call_stamp(playlist_id, user, given.as_deref(), top_k, config).ok().flatten() } else { None };
    let owner = stamp.as_ref().map(|(o, _)| *o);
    match cache_lookup(playlist_id, stamp, counters, started)? {
        Lookup::Hit(ctx) => {
            let rows = match (rows, owner) {
                (true, Some(o)) => read_results(ctx, playlist_id, o)?,
                _ => Vec::new(),
            };
            Ok((ctx, rows))
        }
        Lookup::Miss(stamp) => match_miss(playlist_id, user, given, top_k, config, counters, rows, stamp, started),
    }
}

/// What the match cache's fast path found for a call: the context that answers it, or none (with
/// the call's stamp, when it has one, for the context the full path finds or computes).
enum Lookup {
    Hit(i64),
    Miss(Option<String>),
}

/// The fast path: a call whose stamp (arguments, bundle, config, generation counters) is stored
/// with a context of the playlist's owner is answered by it, without reading or hashing its
/// inputs (None: a call without a stamp, which the full path answers).
fn cache_lookup(playlist_id: i64, stamp: Option<(Uuid, String)>, counters: &mut Counters, started: Instant) -> Result<Lookup> {
    let t_stamp = started.elapsed();
    let Some((owner, stamp)) = stamp else { return Ok(Lookup::Miss(None)) };
    // (with the context's number of candidates: a call over more than this session's
    // max_candidates takes the full path, which refuses it, cached or not)
    let found: Option<(i64, bool, i64)> = super::plans::select(
        "select id, last_used_at < pg_catalog.now() - interval '1 minute', coalesce((inputs ->> 'candidates')::bigint, 0)
           from songmatch.match_contexts where user_id = $2 and fast_key = $1 limit 1",
        &[stamp.as_str().into(), owner.into()],
        |mut t| match t.next() {
            Some(r) => Ok(r
                .get::<i64>(1)?
                .map(|id| (id, r.get::<bool>(2).ok().flatten().unwrap_or(false), r.get::<i64>(3).ok().flatten().unwrap_or(0)))),
            None => Ok(None),
        },
    )
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

/// The settings of a match's queries (restored after it, see plans::with_settings): no JIT (it
/// would compile songmatch's queries for ~150 ms, which run in a few).
const MATCH_SETTINGS: &[(&str, Option<&str>)] = &[("jit", Some("off"))];

/// The setting of the reads of the candidates by their ids: a generic plan (a custom plan for an
/// array of 100k ids spends ~50 ms estimating each id, and comes to the same index scan). Only
/// there (see CUSTOM_PLAN).
const GENERIC_PLAN: &[(&str, Option<&str>)] = &[("plan_cache_mode", Some("force_generic_plan"))];

/// The setting of a query whose generic plan is a trap: the catalogue neighbours' (`order by id
/// limit $2` over the members' artists and albums) walks every track in id order once PostgreSQL's
/// plan cache switches to it after five calls: 200 ms instead of 3.
const CUSTOM_PLAN: &[(&str, Option<&str>)] = &[("plan_cache_mode", Some("force_custom_plan"))];

/// The full path of a call the fast path did not answer: the context found by its content hash,
/// or computed and stored; then stamped.
#[allow(clippy::too_many_arguments)]
fn match_miss(
    playlist_id: i64,
    user: Option<Uuid>,
    given: Option<Vec<Option<i64>>>,
    top_k: i32,
    config: Option<&Value>,
    counters: &mut Counters,
    rows: bool,
    stamp: Option<String>,
    started: Instant,
) -> Result<(i64, Vec<MatchRow>)> {
    let t0 = started.elapsed();
    let (p, ctx, out) = super::plans::with_settings(MATCH_SETTINGS, spi_err("cannot change a setting for the match"), || {
        let p = load_playlist(playlist_id, user)?;
        let cands = candidates_of(&p, given)?;
        pgrx::debug1!("songmatch: read the playlist and {} candidates' content hashes in {:?}", cands.ids.len(), started.elapsed() - t0);
        let (ctx, out) = match_candidates(&p, cands, top_k, Resolved::Config(config), counters, rows, None, started)?;
        Ok((p, ctx, out))
    })?;
    // (a context row that another session is updating keeps its stamp: a later call stamps it)
    if let Some(stamp) = stamp.filter(|_| super::flight::try_lead_one(&context_row(ctx)).unwrap_or(false)) {
        // (the counters were read before the inputs: a change that commits in between leaves a
        // stamp of the old counters, which no later call computes)
        as_owner(|| {
            super::plans::update(
                "update songmatch.match_contexts set fast_key = $2 where user_id = $3 and id = $1 and fast_key is distinct from $2",
                &[ctx.into(), stamp.as_str().into(), p.owner.into()],
                |_| Ok(()),
            )
            .map_err(spi_err("cannot stamp the match context"))
        })?;
    }
    Ok((ctx, out))
}

/// The playlist's owner and the stamp of a `match_playlist` call ([`match_stamp`]); None when the
/// playlist cannot be read by the caller (or is not `user`'s) or a candidate id is NULL (the full
/// path reports those).
fn call_stamp(
    playlist_id: i64,
    user: Option<Uuid>,
    given: Option<&[Option<i64>]>,
    top_k: i32,
    config: Option<&Value>,
) -> Result<Option<(Uuid, String)>> {
    // the owner, read with the caller's rights (row-level security applies as on the full path),
    // and whether the schema has the counters (a database not yet updated to 0.5.0 has not)
    let (sql, args): (&'static str, Vec<pgrx::datum::DatumWithOid<'_>>) = match user {
        Some(u) => (
            "select owner_id, pg_catalog.to_regclass('songmatch.catalogue_generation') is not null
               from songmatch.playlists where owner_id = $2 and id = $1",
            vec![playlist_id.into(), u.into()],
        ),
        None => (
            "select owner_id, pg_catalog.to_regclass('songmatch.catalogue_generation') is not null
               from songmatch.playlists where id = $1",
            vec![playlist_id.into()],
        ),
    };
    let owner: Option<(Option<Uuid>, bool)> = super::plans::select(sql, &args, |mut t| match t.next() {
        Some(r) => Ok(Some((r.get::<Uuid>(1)?, r.get::<bool>(2)?.unwrap_or(false)))),
        None => Ok(None),
    })
    .map_err(spi_err("cannot read the playlist"))?;
    let Some((Some(owner), true)) = owner else { return Ok(None) };
    let candidates: Option<Vec<i64>> = match given {
        None => None,
        Some(list) => {
            let Some(mut ids) = list.iter().copied().collect::<Option<Vec<i64>>>() else { return Ok(None) };
            ids.sort_unstable();
            ids.dedup();
            Some(ids)
        }
    };
    Ok(StampBasis::read(owner, config)?.map(|b| (owner, b.stamp(playlist_id, candidates.as_deref(), top_k))))
}

/// What the stamps of one owner's calls share: the owner, the active bundle and config, and the
/// generation counters (read once for all of a call's playlists; the schema has the counters).
struct StampBasis {
    user: String,
    bundle: String,
    config: String,
    epoch: String,
    catalogue_generation: i64,
    user_generation: i64,
}

impl StampBasis {
    fn read(owner: Uuid, config: Option<&Value>) -> Result<Option<StampBasis>> {
        let bundle = active_bundle()?;
        let cfg = resolve_config(config, &bundle)?;
        // (one read on a single node; two on Citus, where the user's counter and the catalogue's
        // live apart, see load_playlist)
        let single = citus_absent()?;
        let (user_generation, catalogue_generation, epoch) = as_owner(|| {
            if single {
                return super::plans::select(
                    "select coalesce((select gen from songmatch.user_generations where user_id = $1), 0)::bigint,
                            sum(gen)::bigint, min(epoch::text)
                       from songmatch.catalogue_generation",
                    &[owner.into()],
                    |mut t| match t.next() {
                        Some(r) => Ok((r.get::<i64>(1)?.unwrap_or(0), r.get::<i64>(2)?, r.get::<String>(3)?)),
                        None => Ok((0, None, None)),
                    },
                )
                .map_err(spi_err("cannot read the generation counters"));
            }
            let user_generation = super::plans::select(
                "select coalesce((select gen from songmatch.user_generations where user_id = $1), 0)::bigint",
                &[owner.into()],
                |mut t| Ok(t.next().map(|r| r.get::<i64>(1)).transpose()?.flatten().unwrap_or(0)),
            )
            .map_err(spi_err("cannot read the user's generation counter"))?;
            let (catalogue_generation, epoch) =
                super::plans::select("select sum(gen)::bigint, min(epoch::text) from songmatch.catalogue_generation", &[], |mut t| match t
                    .next()
                {
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
    fn stamp(&self, playlist_id: i64, candidates: Option<&[i64]>, top_k: i32) -> String {
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
fn find_context(context_hash: &str, owner: Uuid) -> Result<Option<(i64, bool)>> {
    super::plans::select(
        "select id, last_used_at < pg_catalog.now() - interval '1 minute' from songmatch.match_contexts
          where user_id = $2 and context_hash = $1",
        &[context_hash.into(), owner.into()],
        |mut t| match t.next() {
            Some(r) => Ok(r.get::<i64>(1)?.map(|id| (id, r.get::<bool>(2).ok().flatten().unwrap_or(false)))),
            None => Ok(None),
        },
    )
    .map_err(spi_err("cannot read the match cache"))
}

/// The name under which a stored context's row is updated (its use, its stamp): one session at a
/// time, the others leave it (src/sql/flight.rs).
fn context_row(id: i64) -> String {
    format!("context-row/{id}")
}

/// A context found in the cache: its `last_used_at` and `hit_count` are refreshed at most once a
/// minute (`stale`: more than a minute since), by songmatch's own write, so that a repeated call
/// does not rewrite the row every time (every hit is counted in songmatch.stats as context_hits).
/// A row another session is updating right now is left to it.
fn touch_context((id, stale): (i64, bool), owner: Uuid) -> Result<i64> {
    if !stale || !super::flight::try_lead_one(&context_row(id))? {
        return Ok(id);
    }
    Ok(as_owner(|| {
        write_returning_i64(
            "update songmatch.match_contexts set hit_count = hit_count + 1, last_used_at = pg_catalog.now()
              where user_id = $2 and id = $1 returning id",
            &[id.into(), owner.into()],
        )
        .map_err(spi_err("cannot refresh the match cache"))
    })?
    .unwrap_or(id))
}

/// What a call has already resolved: only the config it was given, or (discovery) the bundle,
/// the config and the playlist's profile.
enum Resolved<'a> {
    Config(Option<&'a Value>),
    All(Box<(Bundle, Config, Profile)>),
}

/// [`match_one`] over candidates already chosen (by id, with their content hashes); `extra`
/// goes into every result's components (how the candidates were found); `started`: when the
/// call began (the timings in the debug lines count from there).
#[allow(clippy::too_many_arguments)]
fn match_candidates(
    p: &PlaylistInfo,
    cands: Candidates,
    top_k: i32,
    resolved: Resolved<'_>,
    counters: &mut Counters,
    want_rows: bool,
    extra: Option<(&str, Value)>,
    started: Instant,
) -> Result<(i64, Vec<MatchRow>)> {
    if top_k < 1 {
        return Err(Error::invalid(format!("top_k must be at least 1, got {top_k}")));
    }
    let (bundle, cfg, mut profile) = match resolved {
        Resolved::Config(config) => {
            let bundle = active_bundle()?;
            let cfg = resolve_config(config, &bundle)?;
            (bundle, cfg, None)
        }
        Resolved::All(all) => {
            let (bundle, cfg, profile) = *all;
            (bundle, cfg, Some(profile))
        }
    };
    let n_cands = cands.ids.len();
    guc::limits().check_candidates("the candidate set", n_cands)?;
    let member_hashes = fill_hashes(&p.members, p.member_hashes.clone())?;
    let config_hash = cfg.hash();
    let ps = id_set_hash(IdSetKind::PlaylistSet, &[Some(p.id)])?;
    let cs = id_set_hash(IdSetKind::CandidateSet, &cands.ids.iter().map(|i| Some(*i)).collect::<Vec<_>>())?;
    let mr: Vec<(i64, &str)> = p.members.iter().copied().zip(member_hashes.iter().map(String::as_str)).collect();
    let cr: Vec<(i64, &str)> = cands.ids.iter().copied().zip(cands.hashes.iter().map(String::as_str)).collect();
    // what found the candidates (discovery) is part of the identity, beside the analysis
    let extra_hash = extra.as_ref().map(|(k, v)| json!({"analysis": p.analysis, *k: v}));
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
    let t_hash = started.elapsed();

    // the caller's own context (the hash includes the playlist's owner, whose playlist the caller
    // could read above): a read, and a refresh of its use at most once a minute (touch_context)
    let mut found = find_context(&context_hash, p.owner)?;
    if found.is_none() {
        // single flight (src/sql/flight.rs): this call computes the context unless another session
        // is computing it now; then its commit is awaited and the call is a hit
        let name = super::flight::context_name(&owner, &context_hash);
        if !super::flight::try_lead_one(&name)? {
            if let super::flight::Awaited::Found(f) =
                super::flight::await_context(&name, counters, || find_context(&context_hash, p.owner))?
            {
                found = Some(f);
            }
        }
    }
    let cached: Option<i64> = match found {
        Some(f) => Some(touch_context(f, p.owner)?),
        None => None,
    };
    if let Some(ctx) = cached {
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
    drop(cr);
    let cands = screen_candidates(cands, &prof.signals, &cfg, &bundle, top_k as usize, counters);
    let cands = read_candidates(cands, &bundle.embedding, counters)?;
    let t_artifacts = started.elapsed();
    let scoring = Scoring { bundle: &bundle, signals: &prof.signals, p, cfg: &cfg };
    let finals = rank_candidates(scoring, cands, top_k as usize, counters)?;
    let t_ranked = started.elapsed();
    let rows: Vec<MatchRow> = finals
        .into_iter()
        .take(top_k as usize)
        .enumerate()
        .map(|(i, (id, score, mut comp))| {
            comp.insert("score".into(), json!(round6(score)));
            if let Some((k, v)) = &extra {
                comp.insert(k.to_string(), v.clone());
            }
            MatchRow { track_id: id, score: round6(score), rank: i as i32 + 1, components: Value::Object(comp) }
        })
        .collect();

    // store the context and its results
    let ctx: i64 = as_owner(|| {
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
                context_hash.as_str().into(),
                p.owner.into(),
                bundle.hash.as_str().into(),
                versions::MATCHING_ALGO_VERSION.into(),
                config_hash.as_str().into(),
                ps.as_str().into(),
                cs.as_str().into(),
                JsonB(json!({"profile": prof.content_hash, "config": cfg.to_json(), "top_k": top_k, "candidates": n_cands})).into(),
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
    })?;
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

/// A match's candidates narrowed by stage 1's screen (crate::core::screen, over their places in
/// the feature store) to those that may rank in stage 2's window: when the store holds their
/// vectors and they are more than twice the window, only the kept ones are read and ranked
/// exactly, with the results of ranking them all (the module's proof; the regress tests compare
/// both). The others count as the store's embedding hits, as when they were read. Anything the
/// screen cannot stand for (another model's store, emotions weighed) leaves the candidates as
/// they are.
fn screen_candidates(
    cands: Candidates,
    sig: &PlaylistSignals,
    cfg: &Config,
    bundle: &Bundle,
    top_k: usize,
    counters: &mut Counters,
) -> Candidates {
    let window = scoring::stage2_window(top_k, cfg, bundle.ranker.is_some(), bundle.reranker.is_some());
    let n = cands.ids.len();
    let Some(m) = cands.store.as_ref().filter(|m| m.header.of_model(&bundle.embedding)) else { return cands };
    if cands.positions.len() != n || n <= 2 * (window + 1) {
        return cands;
    }
    let Some(st) = m.store() else { return cands };
    let t0 = Instant::now();
    // (position, candidate) ascending by position
    let mut at: Vec<(usize, usize)> = cands.positions.iter().enumerate().filter_map(|(i, p)| p.map(|p| (p, i))).collect();
    at.sort_unstable();
    let given: Vec<usize> = at.iter().map(|(p, _)| *p).collect();
    let dims = m.header.dims as usize;
    let Some(s) = crate::core::screen::screen(sig, cfg, &st, m.floats(), dims, Over::Positions(&given), window + 1) else { return cands };
    // kept: the screen's, and those the store has no vector for
    let mut kept: Vec<bool> = cands.positions.iter().map(Option::is_none).collect();
    for p in &s.positions {
        if let Ok(j) = given.binary_search(p) {
            kept[at[j].1] = true;
        }
    }
    let left_out = kept.iter().filter(|k| !**k).count();
    counters.add("embedding_hits", left_out as f64);
    counters.add("feature_store_embeddings", left_out as f64);
    counters.add("screened_out", left_out as f64);
    pgrx::debug1!(
        "songmatch: stage 1 screened {} of {n} candidates ({} left out by their bound) in {:?}, kept {}",
        s.scored + s.bounded,
        s.bounded,
        t0.elapsed(),
        n - left_out
    );
    let Candidates { ids, hashes, signals, store, positions } = cands;
    let mut out = Candidates {
        ids: Vec::with_capacity(n - left_out),
        hashes: Vec::with_capacity(n - left_out),
        signals: Vec::with_capacity(n - left_out),
        store,
        positions: Vec::with_capacity(n - left_out),
    };
    for ((((id, h), sg), p), k) in ids.into_iter().zip(hashes).zip(signals).zip(positions).zip(kept) {
        if k {
            out.ids.push(id);
            out.hashes.push(h);
            out.signals.push(sg);
            out.positions.push(p);
        }
    }
    out
}

/// The stored results of a context of `owner` for a playlist, best first.
fn read_results(ctx: i64, playlist_id: i64, owner: Uuid) -> Result<Vec<MatchRow>> {
    super::plans::select(
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
    let user = super::required(user_id, "user_id");
    if !super::privilege::caller_sees_user(user).or_report() {
        let id = super::required(playlist_id, "playlist_id");
        super::raise(Error::invalid(format!("playlist {id} does not exist")));
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
    let playlist_id = super::required(playlist_id, "playlist_id");
    let top_k = super::required(top_k, "top_k");
    let lim = guc::limits();
    lim.check_top_k(top_k.into()).or_report();
    if let Some(c) = &candidate_track_ids {
        lim.check_candidates("candidate_track_ids", c.len()).or_report();
    }
    if user.is_none() {
        refuse_on_cluster("match_playlist(playlist_id, ...)", "match_playlist(user_id, playlist_id, ...)").or_report();
    }
    let mut counters = Counters::default();
    let out = match_one(playlist_id, user, candidate_track_ids, top_k, config.as_ref().map(|j| &j.0), &mut counters, rows).or_report();
    counters.flush().or_report();
    out
}

// ------------------------------------------------------------------------------------------------
// discovery: candidates from the whole catalogue through the vector index
// ------------------------------------------------------------------------------------------------

/// pgvector's schema, quoted for SQL text (the functions run with search_path pg_catalog only).
fn vector_schema() -> Result<String> {
    let s = Spi::get_one::<String>(
        "select n.nspname::text from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
          where e.extname = 'vector'",
    )
    .map_err(spi_err("cannot find pgvector's schema"))?
    .ok_or_else(|| Error::Runtime("pgvector is not installed".into()))?;
    Ok(format!("\"{}\"", s.replace('"', "\"\"")))
}

/// Recommend for one playlist: nearest neighbours of its profile and members through the
/// bundle's vector index, minus its members (and the owner's liked tracks when asked), then
/// stage 1 + stage 2 and the match cache as for `match_playlist`. Returns the context id.
fn recommend_one(playlist_id: i64, top_k: i32, config: Option<&Value>, exclude_liked: bool, counters: &mut Counters) -> Result<i64> {
    if top_k < 1 {
        return Err(Error::invalid(format!("top_k must be at least 1, got {top_k}")));
    }
    // (and the index's search parameters, which the searches below set)
    let settings = [MATCH_SETTINGS, &[("hnsw.ef_search", None), ("hnsw.iterative_scan", None)]].concat();
    super::plans::with_settings(&settings, spi_err("cannot change a setting for the match"), || {
        recommend_searched(playlist_id, top_k, config, exclude_liked, counters)
    })
}

/// Discovery's neighbours through pgvector's HNSW index over the model's vectors (appended to
/// `found`): the index's name (None: there is none, and the searches scanned).
fn search_index(
    bundle: &Bundle,
    d: &scoring::Discovery,
    members: usize,
    queries: &[(&[f32], usize)],
    dims: usize,
    found: &mut Vec<i64>,
) -> Result<Option<String>> {
    let vs = vector_schema()?;
    let index = Spi::get_one_with_args::<String>(
        "select indexrelid::regclass::text from pg_catalog.pg_index i
          where i.indrelid = 'songmatch.track_embeddings'::regclass
            and pg_catalog.pg_get_indexdef(i.indexrelid) like '%USING hnsw%'
            and pg_catalog.pg_get_expr(i.indpred, i.indrelid) like '%' || $1 || '%'
            and pg_catalog.pg_get_indexdef(i.indexrelid) like '%(' || $2 || ')%'",
        &[format!("'{}'", bundle.embedding.0.replace('\'', "''")).into(), (dims as i32).to_string().into()],
    )
    .or_else(|e| match e {
        pgrx::spi::SpiError::InvalidPosition => Ok(None),
        e => Err(e),
    })
    .map_err(spi_err("cannot find the vector index"))?;
    // a nearest-neighbour search per query vector, in one query per group (the index's
    // expression and predicate, so that pgvector's HNSW index answers each): the profile's
    // vectors searched at ef_search = max(ef_search, profile_k), the members' at
    // max(ef_search, per_member); the settings hold for this call only
    let sql = format!(
        "select coalesce(array_agg(distinct n.track_id), '{{}}')
           from unnest($1::text[], $2::int[]) as q(v, k)
          cross join lateral (
                select e.track_id from songmatch.track_embeddings e
                 where e.model_name = $3 and e.embedding is not null
                   and e.model_version = $4 and e.embedding_kind = 'document'
                 order by e.embedding::{vs}.vector({dims}) OPERATOR({vs}.<=>) q.v::{vs}.vector({dims})
                 limit q.k) n"
    );
    let profile_n = queries.len() - members.min(d.max_members);
    for (group, ef) in [(&queries[..profile_n], d.ef_search.max(d.profile_k)), (&queries[profile_n..], d.ef_search.max(d.per_member))] {
        if group.is_empty() {
            continue;
        }
        // the vectors as pgvector's text form (f32 Display is the shortest form that round-trips)
        let texts: Vec<String> = group
            .iter()
            .map(|(v, _)| {
                let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                format!("[{}]", parts.join(","))
            })
            .collect();
        let ks: Vec<i32> = group.iter().map(|(_, k)| *k as i32).collect();
        Spi::run(&format!(
            "select pg_catalog.set_config('hnsw.ef_search', '{}', true), pg_catalog.set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            ef.clamp(1, 1000)
        ))
        .map_err(spi_err("cannot set the index search parameters"))?;
        let tg = Instant::now();
        found.extend(
            Spi::get_one_with_args::<Vec<i64>>(
                &sql,
                &[texts.into(), ks.into(), bundle.embedding.0.as_str().into(), bundle.embedding.1.as_str().into()],
            )
            .map_err(spi_err("cannot search the vector index"))?
            .unwrap_or_default(),
        );
        pgrx::debug1!("songmatch: discovery: {} index searches at ef_search {ef} in {:?}", group.len(), tg.elapsed());
    }
    Ok(index)
}

/// [`recommend_one`] with its settings in place.
fn recommend_searched(playlist_id: i64, top_k: i32, config: Option<&Value>, exclude_liked: bool, counters: &mut Counters) -> Result<i64> {
    let started = Instant::now();
    let p = load_playlist(playlist_id, None)?;
    let bundle = active_bundle()?;
    let cfg = resolve_config(config, &bundle)?;
    let d = cfg.discovery;
    // the feature store, when it is current, has this model's vectors and is small enough to scan
    let store = super::store::current(citus_absent()?)?;
    let scan_max = guc::DISCOVERY_SCAN_MAX.get().max(0) as u64;
    let scan = store.clone().filter(|m| m.header.of_model(&bundle.embedding) && m.header.tracks <= scan_max && !m.floats().is_empty());
    let dir = guc::model_dir();
    let storage = with_cache(|c| Ok(c.registry(&dir)?.model(&bundle.embedding.0)?.manifest.storage()))?;
    if scan.is_none() && storage == Storage::HalfVec {
        return Err(Error::Unsupported(format!(
            "recommend_for_playlist needs float32 vectors with an HNSW index; the model \"{}\" stores halfvec",
            bundle.embedding.0
        )));
    }
    let prof = playlist_profile(&p, &bundle, counters)?;
    let sig = &prof.signals;
    // query vectors, flattened: (vector, k)
    let mut queries: Vec<(&[f32], usize)> = Vec::new();
    if let Some(c) = &sig.centroid {
        queries.push((c, d.profile_k));
    }
    if let Some(q) = &sig.query {
        queries.push((q, d.profile_k));
    }
    for m in sig.members.iter().take(d.max_members) {
        queries.push((m, d.per_member));
    }
    let dims = queries.first().map(|(v, _)| v.len()).unwrap_or(0);
    if dims == 0 {
        return Err(Error::invalid(format!("playlist {playlist_id} has no embedded members and no query text to recommend from")));
    }
    let t_profile = started.elapsed();
    // over the store: stage 1 itself screens every track (module crate::core::screen), unless
    // emotions are weighed (the store has none), when the playlist's vectors' exact neighbours
    // are the candidates
    // (the candidates the screen kept, and how many tracks it scored)
    let mut screened: Option<(Candidates, usize)> = None;
    if let Some(m) = &scan {
        let st = m.store().ok_or_else(|| Error::Runtime("the feature store cannot be read".into()))?;
        // every track a recommendation may hold: stage 2's window, and the one after it
        let window = scoring::stage2_window(top_k as usize, &cfg, bundle.ranker.is_some(), bundle.reranker.is_some());
        let mut skip: Vec<i64> = p.members.clone();
        if exclude_liked {
            skip.extend(
                super::plans::select(
                    "select coalesce(array_agg(l.track_id), '{}') from songmatch.liked_tracks l where l.user_id = $1",
                    &[p.owner.into()],
                    |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
                )
                .map_err(spi_err("cannot read the liked tracks"))?,
            );
        }
        skip.sort_unstable();
        let tg = Instant::now();
        let dims = m.header.dims as usize;
        if let Some(s) =
            crate::core::screen::screen(sig, &cfg, &st, m.floats(), dims, Over::All(&|id| skip.binary_search(&id).is_ok()), window + 1)
        {
            pgrx::debug1!(
                "songmatch: discovery: stage 1 screened {} of the feature store's {} tracks ({} left out by their bound) in {:?}, kept {}",
                s.scored + s.bounded,
                m.header.tracks,
                s.bounded,
                tg.elapsed(),
                s.positions.len()
            );
            // the kept tracks as the store has them (their signals read in place)
            let source: Arc<dyn FloatSource> = m.clone();
            let n = s.positions.len();
            let mut c = Candidates {
                ids: Vec::with_capacity(n),
                hashes: Vec::with_capacity(n),
                signals: Vec::with_capacity(n),
                store: store.clone(),
                positions: Vec::with_capacity(n),
            };
            for at in s.positions {
                let e = st.entry_at(at).ok_or_else(|| Error::Runtime("the feature store cannot be read".into()))?;
                c.ids.push(st.id_at(at));
                c.hashes.push(e.content_hash.to_string());
                c.signals.push(e.signals_at.zip(e.signals.map(<[u8]>::len)).and_then(|(at, len)| Encoded::shared(&source, at, len)));
                c.positions.push(e.has_embedding.then_some(at));
            }
            screened = Some((c, s.scored + s.bounded));
        }
    }
    let mut found: Vec<i64> = Vec::new();
    let (index, index_type) = match &scan {
        Some(_) if screened.is_some() => (json!("feature store"), "stage 1 screen"),
        Some(m) => {
            // every vector of the store compared with each query: the exact neighbours
            let st = m.store().ok_or_else(|| Error::Runtime("the feature store cannot be read".into()))?;
            let tg = Instant::now();
            for positions in crate::core::nearest::nearest(m.floats(), m.header.dims as usize, &queries) {
                found.extend(positions.into_iter().map(|at| st.id_at(at)));
            }
            pgrx::debug1!(
                "songmatch: discovery: {} exact searches over the feature store's {} tracks in {:?}",
                queries.len(),
                m.header.tracks,
                tg.elapsed()
            );
            (json!("feature store"), "exact scan")
        }
        None => (json!(search_index(&bundle, &d, sig.members.len(), &queries, dims, &mut found)?), "hnsw"),
    };
    // and the catalogue's neighbours: tracks by the members' artists or on their albums
    // (btree indexes on tracks.artist and tracks.album), the `catalogue_k` that fit the playlist
    // best on the catalogue signals (shared artists and albums, year, popularity; weighted as
    // stage 1 weighs them; ties by id), of at most CATALOGUE_SCAN times as many read
    if d.catalogue_k > 0 && !p.members.is_empty() && screened.is_none() {
        const CATALOGUE_SCAN: usize = 20;
        let rows: Vec<(i64, catalogue::CatalogueTrack)> =
            super::plans::with_settings(CUSTOM_PLAN, spi_err("cannot change a setting for the match"), || {
                super::plans::select(
                    "with m as (select array_agg(artist) as artists, array_agg(album) filter (where album is not null) as albums
                              from songmatch.tracks where id = any($1))
                 select s.id, s.artist, s.album, s.release_date, s.popularity from (
                    select t.id, t.artist, t.album, t.release_date, t.popularity from songmatch.tracks t, m
                     where t.artist = any(m.artists) or t.album = any(m.albums)) s
                  order by s.id limit $2",
                    &[p.members.clone().into(), ((d.catalogue_k * CATALOGUE_SCAN) as i64).into()],
                    |t| {
                        let mut out = Vec::with_capacity(t.len());
                        for r in t {
                            let track = catalogue::track_from(
                                r.get::<&str>(2)?,
                                r.get::<&str>(3)?,
                                r.get::<&str>(4)?,
                                r.get::<i32>(5)?.map(f64::from),
                            );
                            out.push((r.get::<i64>(1)?.unwrap_or_default(), track));
                        }
                        Ok(out)
                    },
                )
                .map_err(spi_err("cannot read the members' artists and albums"))
            })?;
        let mut fit: Vec<(f64, i64)> = rows.iter().map(|(id, track)| (scoring::catalogue_fit(&sig.catalogue, track, &cfg), *id)).collect();
        fit.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        found.extend(fit.into_iter().take(d.catalogue_k).map(|(_, id)| id));
    }
    found.sort_unstable();
    found.dedup();
    let t_search = started.elapsed();
    let (cands, screened) = match screened {
        Some((c, scored)) => (c, Some(scored)),
        None => {
            // minus the playlist's members (and the owner's liked tracks), with content hashes
            let sql = if p.owner_columns {
                "select t.id, tc.content_hash, tc.signals from songmatch.tracks t left join songmatch.track_content tc on tc.track_id = t.id
                  where t.id = any($1)
                    and not exists (select 1 from songmatch.playlist_tracks pt
                                     where pt.owner_id = $4 and pt.playlist_id = $2 and pt.track_id = t.id)
                    and not ($3 and exists (select 1 from songmatch.liked_tracks l where l.user_id = $4 and l.track_id = t.id))
                  order by t.id"
            } else {
                "select t.id, tc.content_hash, tc.signals from songmatch.tracks t left join songmatch.track_content tc on tc.track_id = t.id
                  where t.id = any($1)
                    and not exists (select 1 from songmatch.playlist_tracks pt where pt.playlist_id = $2 and pt.track_id = t.id)
                    and not ($3 and exists (select 1 from songmatch.liked_tracks l where l.user_id = $4 and l.track_id = t.id))
                  order by t.id"
            };
            let (ids, hashes, signals) = Spi::connect(|c| {
                let t = c.select(sql, None, &[found.into(), p.id.into(), exclude_liked.into(), p.owner.into()])?;
                let mut ids = Vec::with_capacity(t.len());
                let mut hs = Vec::with_capacity(t.len());
                let mut ss = Vec::with_capacity(t.len());
                for r in t {
                    ids.push(r.get::<i64>(1)?.unwrap_or_default());
                    hs.push(r.get::<String>(2)?);
                    ss.push(r.get::<Vec<u8>>(3)?.map(Encoded::Owned));
                }
                Ok::<_, pgrx::spi::SpiError>((ids, hs, ss))
            })
            .map_err(spi_err("cannot read the discovered tracks"))?;
            let hashes = fill_hashes(&ids, hashes)?;
            (Candidates { ids, hashes, signals, store, positions: Vec::new() }, None)
        }
    };
    counters.add("discovery_calls", 1.0);
    counters.add("discovery_candidates", cands.ids.len() as f64);
    let mut info = d.to_json();
    info["index"] = index;
    info["index_type"] = json!(index_type);
    info["exclude_liked"] = json!(exclude_liked);
    info["query_vectors"] = json!(queries.len());
    if let Some(n) = screened {
        info["screened"] = json!(n);
    }
    info["candidates"] = json!(cands.ids.len());
    pgrx::debug1!(
        "songmatch: recommend_for_playlist({playlist_id}): profile {t_profile:?}, index search {:?} ({} vectors, {} candidates)",
        t_search - t_profile,
        queries.len(),
        cands.ids.len()
    );
    let resolved = Resolved::All(Box::new((bundle, cfg, prof)));
    // (their embeddings from the feature store where it has their content)
    let (ctx, _) = match_candidates(&p, cands, top_k, resolved, counters, false, Some(("discovery", info)), Instant::now())?;
    Ok(ctx)
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
    let playlist_id = super::required(playlist_id, "playlist_id");
    let top_k = super::required(top_k, "top_k");
    let exclude_liked = super::required(exclude_liked, "exclude_liked");
    guc::limits().check_top_k(top_k.into()).or_report();
    refuse_on_cluster("recommend_for_playlist", "match_playlist(user_id, playlist_id, candidate_track_ids => ...)").or_report();
    let mut counters = Counters::default();
    let ctx = recommend_one(playlist_id, top_k, config.as_ref().map(|j| &j.0), exclude_liked, &mut counters).or_report();
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
    let top_k_n = super::required(top_k, "top_k");
    let contexts = songs_contexts(user_id, track_ids, top_k, config);
    let mut per_song: BTreeMap<i64, Vec<(i64, f64, Value)>> = BTreeMap::new();
    for (ctx, pid) in contexts {
        for r in read_results(ctx, pid, super::required(user_id, "user_id")).or_report() {
            per_song.entry(r.track_id).or_default().push((pid, r.score, r.components));
        }
    }
    let mut out = Vec::new();
    for (song, mut list) in per_song {
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (i, (pid, score, comp)) in list.into_iter().take(top_k_n as usize).enumerate() {
            out.push((song, pid, score, i as i32 + 1, JsonB(comp)));
        }
    }
    TableIterator::new(out)
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

/// `user`'s playlists (that the caller can read) with their members, by id: two reads of one
/// table each, naming the user (see load_playlist).
fn user_playlists(user: Uuid) -> Result<Vec<(i64, Vec<i64>)>> {
    let ids: Vec<i64> = super::plans::select(
        "select coalesce(array_agg(p.id order by p.id), '{}') from songmatch.playlists p where p.owner_id = $1",
        &[user.into()],
        |mut t| Ok(t.next().map(|r| r.get::<Vec<i64>>(1)).transpose()?.flatten().unwrap_or_default()),
    )
    .map_err(spi_err("cannot read playlists"))?;
    let mut members: BTreeMap<i64, Vec<i64>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    super::plans::select(
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

/// The stamp basis of `user`'s calls ([`StampBasis`]), when the schema has the counters.
fn stamp_basis_of(user: Uuid, config: Option<&Value>) -> Option<StampBasis> {
    let has = super::plans::select("select pg_catalog.to_regclass('songmatch.catalogue_generation') is not null", &[], |mut t| {
        t.next().map(|r| r.get::<bool>(1)).transpose().map(|b| b.flatten().unwrap_or(false))
    })
    .ok()?;
    if !has {
        return None;
    }
    StampBasis::read(user, config).ok().flatten()
}

/// The contexts of [`match_songs_contexts`], as (context id, playlist id) in playlist order.
fn songs_contexts(
    user_id: Option<Uuid>,
    track_ids: Option<Vec<Option<i64>>>,
    top_k: Option<i32>,
    config: Option<JsonB>,
) -> Vec<(i64, i64)> {
    let user_id = super::required(user_id, "user_id");
    let top_k = super::required(top_k, "top_k");
    let lim = guc::limits();
    lim.check_top_k(top_k.into()).or_report();
    if let Some(t) = &track_ids {
        lim.check_candidates("track_ids", t.len()).or_report();
    }
    // (another user's playlists do not exist for the caller: nothing to match)
    if !super::privilege::caller_sees_user(user_id).or_report() {
        return Vec::new();
    }
    let config = config.as_ref().map(|j| &j.0);
    // the user's playlists with their members, in one read (under the caller's row-level security)
    let playlists: Vec<(i64, Vec<i64>)> = if owner_columns().or_report() {
        user_playlists(user_id).or_report()
    } else {
        // (a database not yet updated to 0.6.0)
        super::plans::select(
            "select p.id, array(select pt.track_id from songmatch.playlist_tracks pt where pt.playlist_id = p.id order by pt.track_id)
               from songmatch.playlists p where p.owner_id = $1 order by p.id",
            &[user_id.into()],
            |t| {
                let mut out = Vec::new();
                for r in t {
                    out.push((r.get::<i64>(1)?.unwrap_or_default(), r.get::<Vec<i64>>(2)?.unwrap_or_default()));
                }
                Ok(out)
            },
        )
        .map_err(spi_err("cannot read playlists"))
        .or_report()
    };
    let songs: Vec<i64> = match track_ids {
        Some(t) => {
            let mut v: Vec<i64> = t.into_iter().flatten().collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        None => Spi::get_one_with_args::<Vec<i64>>(
            "select coalesce(array_agg(track_id order by track_id), '{}') from songmatch.liked_tracks where user_id = $1",
            &[user_id.into()],
        )
        .map_err(spi_err("cannot read liked tracks"))
        .or_report()
        .unwrap_or_default(),
    };
    lim.check_candidates("the user's liked songs", songs.len()).or_report();
    let mut counters = Counters::default();
    // each playlist's candidates: the songs not in it; contexts the fast path finds first
    let mut found: Vec<(i64, i64)> = Vec::new();
    // (playlist, its candidates, top_k, the call's stamp)
    type Missed = (i64, Vec<Option<i64>>, i32, Option<String>);
    let mut missed: Vec<Missed> = Vec::new();
    // (the playlists are the user's: one basis for every stamp; none on a schema without the
    // counters, or when the bundle or config cannot be resolved: the full path reports that)
    let basis = if playlists.is_empty() { None } else { stamp_basis_of(user_id, config) };
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
        let mut all: Vec<i64> = songs.clone();
        for (pid, members) in &playlists {
            if missed.iter().any(|m| m.0 == *pid) {
                all.extend(members);
            }
        }
        all.sort_unstable();
        all.dedup();
        let bundle = active_bundle().or_report();
        // only the tracks whose stored embedding is missing or stale (one indexed query)
        let stale: Vec<i64> = Spi::get_one_with_args::<Vec<i64>>(
            if document_keys().or_report() {
                "select coalesce(array_agg(t.id), '{}') from songmatch.tracks t
                   left join songmatch.track_content tc on tc.track_id = t.id
                   left join songmatch.track_embeddings te on te.track_id = t.id and te.embedding_kind = 'document'
                         and te.model_name = $2 and te.model_version = $3
                  where t.id = any($1) and (tc.document_hash is null or te.content_hash is distinct from tc.document_hash)"
            } else {
                "select coalesce(array_agg(t.id), '{}') from songmatch.tracks t
                   left join songmatch.track_content tc on tc.track_id = t.id
                   left join songmatch.track_embeddings te on te.track_id = t.id and te.embedding_kind = 'document'
                         and te.model_name = $2 and te.model_version = $3
                  where t.id = any($1) and (tc.content_hash is null or te.content_hash is distinct from tc.content_hash)"
            },
            &[all.into(), bundle.embedding.0.as_str().into(), bundle.embedding.1.as_str().into()],
        )
        .map_err(spi_err("cannot find tracks to embed"))
        .or_report()
        .unwrap_or_default();
        if !stale.is_empty() {
            ensure_embeddings(&load_tracks(&stale).or_report(), &bundle.embedding, &mut counters).or_report();
        }
        for (pid, cands, n, stamp) in missed {
            let (ctx, _) = match_miss(pid, Some(user_id), Some(cands), n, config, &mut counters, false, stamp, Instant::now()).or_report();
            found.push((ctx, pid));
        }
        found.sort_by_key(|(_, pid)| *pid);
    }
    counters.flush().or_report();
    found
}

/// What an offline call (score_tracks, ranker_features) scores: the playlist's signals built
/// from the given member tracks only, and the candidates' rows and embeddings.
struct Offline {
    bundle: Bundle,
    cfg: Config,
    p: PlaylistInfo,
    signals: PlaylistSignals,
    cand_rows: Vec<TrackRow>,
    embs: Vec<(i64, Artifact<Vec<f32>>)>,
}

fn no_null_ids(v: &[Option<i64>], what: &str) -> Result<Vec<i64>> {
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
fn offline(
    member_track_ids: &[Option<i64>],
    candidate_track_ids: &[Option<i64>],
    playlist_id: Option<i64>,
    config: Option<&Value>,
    counters: &mut Counters,
) -> Result<Offline> {
    let lim = guc::limits();
    lim.check_candidates("candidate_track_ids", candidate_track_ids.len())?;
    lim.check_candidates("member_track_ids", member_track_ids.len())?;
    let bundle = active_bundle()?;
    let cfg = resolve_config(config, &bundle)?;
    let members = no_null_ids(member_track_ids, "member_track_ids")?;
    let cands = no_null_ids(candidate_track_ids, "candidate_track_ids")?;
    let p = match playlist_id {
        Some(id) => PlaylistInfo { members: members.clone(), ..load_playlist(id, None)? },
        None => PlaylistInfo {
            id: 0,
            owner: Uuid::from_bytes([0; 16]),
            playlist: Value::Null,
            analysis: Value::Null,
            members: members.clone(),
            member_hashes: Vec::new(),
            owner_columns: false,
        },
    };
    let member_rows = load_tracks(&members)?;
    let member_embs = ensure_embeddings(&member_rows, &bundle.embedding, counters)?;
    let mvecs: Vec<Vec<f32>> = member_embs.iter().filter_map(|(_, a)| a.value().cloned()).collect();
    let refs: Vec<&[f32]> = mvecs.iter().map(|v| v.as_slice()).collect();
    let query = if p.playlist.is_null() {
        None
    } else {
        let q = text::playlist_query(&p.playlist, &p.analysis)?;
        counters.add(&format!("inferences:{}", bundle.embedding.0), 1.0);
        let t = embed::format_text(&infer::manifest(&bundle.embedding.0)?, Role::Query, None, &q);
        infer::embed(&bundle.embedding.0, &[t])?.pop()
    };
    let signals = PlaylistSignals {
        centroid: profile::centroid(&refs),
        members: mvecs.clone(),
        query,
        audio: profile::audio_stats(&member_rows.iter().map(|r| profile::audio_of(&r.analysis)).collect::<Vec<_>>()),
        genres: profile::genre_distribution(&member_rows.iter().map(|r| profile::genres_of(&r.analysis)).collect::<Vec<_>>()),
        emotions: BTreeMap::new(),
        catalogue: catalogue_profile(&member_rows),
    };
    let cand_rows = load_tracks(&cands)?;
    if cand_rows.len() != cands.len() {
        return Err(Error::invalid("candidate_track_ids contains ids that do not exist"));
    }
    let embs = ensure_embeddings(&cand_rows, &bundle.embedding, counters)?;
    Ok(Offline { bundle, cfg, p, signals, cand_rows, embs })
}

/// `songmatch.score_tracks(member_track_ids, candidate_track_ids, playlist_id => NULL,
/// top_k => NULL, config => NULL)`: the offline, read-only form of match_playlist used by the
/// evaluation (see [`offline`]): nothing is written to the profile or match tables (track
/// embeddings are still computed and stored on a miss).
#[pg_extern(volatile)]
fn score_tracks(
    member_track_ids: Option<Vec<Option<i64>>>,
    candidate_track_ids: Option<Vec<Option<i64>>>,
    playlist_id: default!(Option<i64>, "NULL"),
    top_k: default!(Option<i32>, "NULL"),
    config: default!(Option<JsonB>, "NULL"),
) -> TableIterator<'static, (name!(track_id, i64), name!(score, f64), name!(rank, i32), name!(components, JsonB))> {
    let member_track_ids = super::required(member_track_ids, "member_track_ids");
    let candidate_track_ids = super::required(candidate_track_ids, "candidate_track_ids");
    let rows = (|| -> Result<Vec<MatchRow>> {
        let mut counters = Counters::default();
        let o = offline(&member_track_ids, &candidate_track_ids, playlist_id, config.as_ref().map(|j| &j.0), &mut counters)?;
        let keep = top_k.map(|k| k.max(0) as usize).unwrap_or(usize::MAX);
        let scoring = Scoring { bundle: &o.bundle, signals: &o.signals, p: &o.p, cfg: &o.cfg };
        let cands = candidate_signals(&o.cand_rows, o.embs, HashMap::new());
        let finals = rank_candidates(scoring, cands, keep, &mut counters)?;
        counters.flush()?;
        Ok(finals
            .into_iter()
            .take(keep)
            .enumerate()
            .map(|(i, (id, score, mut comp))| {
                comp.insert("score".into(), json!(round6(score)));
                MatchRow { track_id: id, score: round6(score), rank: i as i32 + 1, components: Value::Object(comp) }
            })
            .collect())
    })()
    .or_report();
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
    let member_track_ids = super::required(member_track_ids, "member_track_ids");
    let candidate_track_ids = super::required(candidate_track_ids, "candidate_track_ids");
    let rows = (|| -> Result<Vec<(i64, Vec<f32>)>> {
        let mut counters = Counters::default();
        let o = offline(&member_track_ids, &candidate_track_ids, playlist_id, None, &mut counters)?;
        counters.flush()?;
        let cands = candidate_signals(&o.cand_rows, o.embs, HashMap::new());
        Ok(cands.iter().map(|c| (c.track_id, ranker_features::features(&o.signals, c))).collect())
    })()
    .or_report();
    TableIterator::new(rows)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn stat(name: &str) -> f64 {
        Spi::get_one_with_args::<f64>("select songmatch.stat($1)", &[name.into()]).unwrap().unwrap_or(0.0)
    }

    /// The fixture bundle has an emotion model and a reranker: stage 2 runs and blends by the
    /// documented formula, emotions are persisted once, and changing the active bundle makes a
    /// new context.
    /// No signal reads the scored playlist's stored membership beyond the members it is given:
    /// adding a held-out candidate to the playlist's stored tracks changes nothing of its
    /// score_tracks score (the evaluation holds tracks out exactly there); the default bundle runs
    /// its learned ranker and shows its features.
    #[pg_test]
    fn score_tracks_does_not_leak_stored_membership() {
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity)
             select 'l' || g, 'Leak song ' || g, 'Artist ' || (g % 4), 'Album ' || (g % 5), (1990 + g)::text, 10 + g
               from generate_series(1, 16) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('audio', jsonb_build_object('energy', (id % 7) / 7.0, 'tempo', 80 + id % 40))
               from songmatch.tracks;
             insert into songmatch.playlists (external_id, owner_id, name)
             values ('leak', '00000000-0000-4000-8000-0000000000bb', 'Leak test');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'leak'), id from songmatch.tracks
              where external_id in ('l1', 'l2', 'l3', 'l4', 'l5', 'l6');",
        )
        .unwrap();
        Spi::run("select songmatch.register_bundle('default', activate => true)").unwrap();
        let q = "select string_agg(s.track_id || ':' || s.score, ',' order by s.track_id)
                   from songmatch.score_tracks(
                        array(select id from songmatch.tracks where external_id in ('l1', 'l2', 'l3', 'l4', 'l5', 'l6')),
                        array(select id from songmatch.tracks where external_id in ('l7', 'l8', 'l9', 'l10', 'l11', 'l12')),
                        (select id from songmatch.playlists where external_id = 'leak')) s";
        let before = Spi::get_one::<String>(q).unwrap().unwrap();
        Spi::run(
            "insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'leak'), id from songmatch.tracks
              where external_id in ('l7', 'l8')",
        )
        .unwrap();
        assert_eq!(Spi::get_one::<String>(q).unwrap().unwrap(), before);
        // the default bundle's stage 2: the ranker scored every candidate; its features are in
        // components when config.explain asks for them, and equal songmatch.ranker_features
        let ranked = Spi::get_one::<bool>(
            "select bool_and(s.components -> 'ranker' ? 'score' and not s.components -> 'ranker' ? 'features'
                             and s.components -> 'stage2' ->> 'ranker' is not null)
               from songmatch.score_tracks(array(select id from songmatch.tracks where external_id in ('l1', 'l2')),
                                          array(select id from songmatch.tracks where external_id in ('l3', 'l4'))) s",
        )
        .unwrap()
        .unwrap();
        assert!(ranked, "the ranker's contribution is in components, without its features");
        let explained = Spi::get_one::<bool>(
            "with m as (select array(select id from songmatch.tracks where external_id in ('l1', 'l2')) ids),
                  c as (select array(select id from songmatch.tracks where external_id in ('l3', 'l4')) ids)
             select bool_and(s.score = p.score
                             and abs((s.components -> 'ranker' -> 'features' ->> 'artist_share')::float8
                                     - f.features[array_position(songmatch.ranker_feature_names(), 'artist_share')]) < 1e-5)
               from m, c,
                    songmatch.score_tracks(m.ids, c.ids, config => '{\"explain\": true}') s
               join songmatch.score_tracks(m.ids, c.ids) p using (track_id)
               join songmatch.ranker_features(m.ids, c.ids) f using (track_id)",
        )
        .unwrap()
        .unwrap();
        assert!(explained, "config.explain adds the ranker's features (those of ranker_features) and changes no score");
    }

    /// Stage 1 reads the compact signals the trigger stores; a track whose stored signals are
    /// missing or of another version is read from its row, with the same results.
    #[pg_test]
    fn stored_signals_equal_the_rows_and_recommend_uses_the_index() {
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist, album, release_date, popularity)
             select 's' || g, 'Signal song ' || g, case when g % 3 = 0 then 'Artist A feat. Artist B' else 'Artist ' || (g % 4) end,
                    'Album ' || (g % 5), (1990 + g)::text, 10 + g
               from generate_series(1, 24) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('audio', jsonb_build_object('energy', (id % 7) / 7.0, 'tempo', 80 + id % 40),
                                           'genres', jsonb_build_object('primary', case when id % 2 = 0 then 'Rock' else 'Jazz' end))
               from songmatch.tracks where external_id like 's%';
             insert into songmatch.playlists (external_id, owner_id, name, description)
             values ('sig', '00000000-0000-4000-8000-0000000000cc', 'Signals', 'Rock songs by artist A');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists where external_id = 'sig'), id from songmatch.tracks
              where external_id in ('s2', 's3', 's4', 's6');
             insert into songmatch.liked_tracks (user_id, track_id)
             select '00000000-0000-4000-8000-0000000000cc', id from songmatch.tracks where external_id in ('s8', 's9', 's10', 's12');",
        )
        .unwrap();
        Spi::run("select songmatch.register_bundle('default', activate => true)").unwrap();
        // the trigger stored signals equal to the row's
        let same = Spi::get_one::<bool>(
            "select bool_and(tc.signals = songmatch.track_signals(to_jsonb(t) - array['id', 'created_at', 'updated_at'], a.analysis))
                    and count(*) = 24
               from songmatch.track_content tc join songmatch.tracks t on t.id = tc.track_id
               left join songmatch.track_analyses a on a.track_id = t.id where t.external_id like 's%'",
        )
        .unwrap();
        assert_eq!(same, Some(true));
        let q = "select string_agg(m.track_id || ':' || m.score || ':' || (m.components ->> 'stage1') || ':' || (m.components -> 'artist' ->> 'value')
                                   || ':' || (m.components -> 'genre' ->> 'value') || ':' || (m.components -> 'audio' ->> 'value'), ',' order by m.rank)
                   from songmatch.match_playlist((select id from songmatch.playlists where external_id = 'sig'),
                        array(select id from songmatch.tracks where external_id like 's%' and external_id not in ('s2', 's3', 's4', 's6')),
                        top_k => 10, config => $1::jsonb) m";
        let with_signals = Spi::get_one_with_args::<String>(q, &[r#"{"weights": {"centroid": 0.01}}"#.into()]).unwrap().unwrap();
        // missing and foreign-version signals: read from the rows (another config: a cache miss)
        Spi::run(
            "update songmatch.track_content set signals = null where track_id % 2 = 0;
             update songmatch.track_content set signals = '\\x00' where track_id % 2 = 1;",
        )
        .unwrap();
        let from_rows = Spi::get_one_with_args::<String>(q, &[r#"{"weights": {"centroid": 0.010000001}}"#.into()]).unwrap().unwrap();
        assert_eq!(with_signals, from_rows);
        assert_eq!(with_signals.split(',').count(), 10);
        // an edit of the analysis re-derives the signals
        Spi::run("update songmatch.track_analyses set analysis = '{\"genres\": \"Metal\"}' where track_id = (select id from songmatch.tracks where external_id = 's1')").unwrap();
        let ok = Spi::get_one::<bool>(
            "select tc.signals = songmatch.track_signals(to_jsonb(t) - array['id', 'created_at', 'updated_at'], '{\"genres\": \"Metal\"}')
               from songmatch.track_content tc join songmatch.tracks t on t.id = tc.track_id where t.external_id = 's1'",
        )
        .unwrap();
        assert_eq!(ok, Some(true));

        // discovery: every embedded track but the members is a candidate; the index is named
        let pid = "(select id from songmatch.playlists where external_id = 'sig')";
        let rec = Spi::get_one::<pgrx::JsonB>(&format!(
            "select jsonb_build_object('n', count(*), 'members', count(*) filter (where track_id in (select track_id from songmatch.playlist_tracks where playlist_id = {pid})),
                    'index', min(components -> 'discovery' ->> 'index'), 'candidates', min((components -> 'discovery' ->> 'candidates')::int),
                    'ordered', bool_and(rank between 1 and 8))
               from songmatch.recommend_for_playlist({pid}, top_k => 8)"
        ))
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(rec["n"], 8, "{rec}");
        assert_eq!(rec["members"], 0, "{rec}");
        assert_eq!(rec["candidates"], 20, "{rec}");
        assert!(rec["index"].as_str().is_some_and(|i| i.starts_with("songmatch.track_embeddings_hnsw_")), "{rec}");
        // the same call again: the cache, no inference
        Spi::run("select songmatch.stats_reset()").unwrap();
        Spi::run(&format!("select count(*) from songmatch.recommend_for_playlist({pid}, top_k => 8)")).unwrap();
        assert_eq!(stat("context_hits"), 1.0);
        assert_eq!(
            Spi::get_one::<f64>(
                "select coalesce(sum(value), 0) from songmatch.stats where name like 'inferences:%' and name not like '%ranker%'"
            )
            .unwrap(),
            Some(0.0)
        );
        // exclude_liked drops the owner's liked tracks
        let liked = Spi::get_one::<i64>(&format!(
            "select count(*) from songmatch.recommend_for_playlist({pid}, top_k => 30, exclude_liked => true)
              where track_id in (select track_id from songmatch.liked_tracks)"
        ))
        .unwrap();
        assert_eq!(liked, Some(0));
    }

    #[pg_test]
    fn fixture_bundle_two_stages_emotions_and_bundle_change() {
        crate::sql::testing::use_fixtures();
        Spi::run(
            "insert into songmatch.tracks (external_id, name, artist)
             select 't' || g, 'Song ' || g, 'Artist ' || (g % 3) from generate_series(1, 12) g;
             insert into songmatch.track_analyses (track_id, analysis)
             select id, jsonb_build_object('moods', jsonb_build_array(case when id % 2 = 0 then 'happy' else 'sad' end),
                                           'audio', jsonb_build_object('energy', (id % 5) / 5.0, 'tempo', 90 + id))
               from songmatch.tracks;
             insert into songmatch.playlists (external_id, owner_id, name, description)
             values ('p', '00000000-0000-4000-8000-0000000000aa', 'Happy songs', 'Only the happiest');
             insert into songmatch.playlist_tracks (playlist_id, track_id)
             select (select id from songmatch.playlists), id from songmatch.tracks where external_id in ('t2', 't4', 't6');
             insert into songmatch.liked_tracks (user_id, track_id)
             select '00000000-0000-4000-8000-0000000000aa', id from songmatch.tracks where external_id not in ('t2', 't4', 't6');",
        )
        .unwrap();
        let h = Spi::get_one::<String>("select songmatch.register_bundle('fixture', activate => true)").unwrap().unwrap();
        assert!(h.starts_with("mb_v1_"));
        Spi::run("select songmatch.stats_reset()").unwrap();
        let cfg = r#"{"weights": {"emotion": 0.2}, "rerank_top_n": 4, "rerank_weight": 0.5}"#;
        let q = format!(
            "select count(*)::int from songmatch.match_playlist((select id from songmatch.playlists), top_k => 9, config => '{cfg}')"
        );
        assert_eq!(Spi::get_one::<i32>(&q).unwrap(), Some(9));
        // stage 2: the top 4 carry a rerank score and score = 0.5 stage1 + 0.5 rerank; the rest 0.5 stage1
        let ok = Spi::get_one_with_args::<bool>(
            "select bool_and(case when jsonb_typeof(m.components -> 'stage2') = 'object'
                                  then abs(m.score - (0.5 * (m.components ->> 'stage1')::float8
                                                      + 0.5 * (m.components -> 'stage2' ->> 'rerank')::float8)) < 1e-5
                                  else abs(m.score - 0.5 * (m.components ->> 'stage1')::float8) < 1e-5 end)
                      and count(*) filter (where jsonb_typeof(m.components -> 'stage2') = 'object') = 4
                      and bool_and(m.components ? 'emotion')
               from songmatch.match_playlist((select id from songmatch.playlists), top_k => 9, config => $1::jsonb) m",
            &[cfg.into()],
        )
        .unwrap()
        .unwrap();
        assert!(ok, "stage-2 blend and emotion components");
        assert_eq!(stat("rerank_calls"), 1.0);
        assert_eq!(stat("inferences:fixture-qwen3-reranker"), 4.0);
        // emotions persisted once per track: 3 members + 9 candidates
        assert_eq!(Spi::get_one::<i64>("select count(*) from songmatch.track_emotions").unwrap(), Some(12));
        assert_eq!(stat("inferences:fixture-roberta-goemotions"), 12.0);
        // a second identical call: cache hit, no inference of any model
        let before: f64 =
            Spi::get_one::<f64>("select coalesce(sum(value), 0) from songmatch.stats where name like 'inferences:%'").unwrap().unwrap();
        assert_eq!(Spi::get_one::<i32>(&q).unwrap(), Some(9));
        let after: f64 =
            Spi::get_one::<f64>("select coalesce(sum(value), 0) from songmatch.stats where name like 'inferences:%'").unwrap().unwrap();
        assert_eq!(before, after);
        assert!(stat("context_hits") >= 1.0);
        // another active bundle (same models, registered under another name) is a new context
        let contexts = Spi::get_one::<i64>("select count(*) from songmatch.match_contexts").unwrap().unwrap();
        Spi::run(
            "update songmatch.model_bundles set is_active = false;
             insert into songmatch.model_bundles (bundle_hash, name, embedding_model, embedding_model_version,
                 emotion_model, emotion_model_version, reranker_model, reranker_model_version, algorithm_version, is_active)
             select 'mb_v1_' || repeat('f', 64), 'fixture-copy', embedding_model, embedding_model_version, emotion_model,
                    emotion_model_version, null, null, algorithm_version, true
               from songmatch.model_bundles where name = 'fixture'",
        )
        .unwrap();
        assert_eq!(Spi::get_one::<i32>(&q).unwrap(), Some(9));
        assert_eq!(Spi::get_one::<i64>("select count(*) from songmatch.match_contexts").unwrap(), Some(contexts + 1));
        // no reranker in that bundle: stage 2 is skipped and says so
        let s = Spi::get_one::<String>(&format!(
            "select min(components ->> 'stage2') from songmatch.match_playlist((select id from songmatch.playlists), top_k => 9, config => '{cfg}')"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(s, "skipped: bundle \"fixture-copy\" has no ranker or reranker");
        Spi::run("reset songmatch.model_dir").unwrap();
        Spi::run("select songmatch.reload_models()").unwrap();
    }
}
