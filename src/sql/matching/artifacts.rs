//! DB-first track artifacts (embeddings, emotions): read stored, compare the document hash,
//! compute the misses in one go, upsert with songmatch's rights.

use super::counters::Counters;
use super::reads::{self, committed_artifact_keys, TrackRow};
use super::schema_facts::SchemaFacts;
use super::writes;
use crate::core::models::embed;
use crate::core::models::embed::Role;
use crate::core::models::manifest::Storage;
use crate::core::{Error, Result};
use crate::sql::bundle::Bundle;
use crate::sql::privilege::as_owner;
use crate::sql::vector::Vector;
use crate::sql::{infer, spi_err};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use std::collections::HashMap;

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
pub(super) struct ArtifactKind<'a> {
    /// `embedding`, `emotion`: the counters' and the locks' name.
    kind: &'a str,
    model: &'a (String, String),
    need: Need,
    /// What the schema supports (how artifacts are keyed).
    facts: SchemaFacts,
}

/// The DB-first loop every track artifact goes through: a stored value whose hash equals the
/// track's current document hash is a hit; the others ("misses", in `rows` order) are computed
/// by `compute` in one go (one result per miss: a failure stays that item's), and each computed
/// value is stored by `store` with songmatch's rights, by the session that leads its row
/// (src/sql/flight.rs): a miss another session leads is computed only when the caller needs its
/// value, and never stored here; nor is a value whose document changed since it was read
/// (`artifact_writes_outdated`). Counts `<kind>_hits` / `<kind>_misses`, and
/// `artifact_writes_deferred` for the rows left to their leader.
pub(super) fn ensure_artifacts<T>(
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
    let t0 = std::time::Instant::now();
    let names: Vec<String> = misses.iter().map(|&i| crate::sql::flight::artifact_name(kind, rows[i].id, what.model)).collect();
    let lead = crate::sql::flight::try_lead(&names)?;
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
    let t_lead = t0.elapsed();
    let results = compute(&misses, counters)?;
    let t_computed = t0.elapsed();
    if results.len() != misses.len() {
        return Err(Error::Runtime(format!("{kind}: {} results for {} items", results.len(), misses.len())));
    }
    let mut outdated = 0;
    as_owner(|| {
        // A leader stores only a value computed from the track's document as committed now: the
        // rows it was computed from may be older than a document change (and older than what a
        // refresher stored for it, clearing its stale mark) that committed meanwhile, and storing
        // it would leave the artifact stale with no mark. Under the lead nobody else stores the
        // row, so a change after this read leaves its mark for the next round.
        let led: Vec<i64> = misses.iter().zip(&lead).filter(|(_, l)| **l).map(|(&i, _)| rows[i].id).collect();
        let current = committed_artifact_keys(&led, what.facts.document_keys)?;
        for ((&i, res), leads) in misses.iter().zip(results).zip(lead) {
            out[i].1 = match res {
                Ok(v) if leads && current.get(&rows[i].id) != Some(&hashes[i]) => {
                    outdated += 1;
                    // (a refresher or backfill keeps the item's mark: the next round computes it
                    // from the new document; a match uses the value of what it read)
                    if what.need == Need::Stored {
                        Artifact::Deferred
                    } else {
                        Artifact::Computed(v)
                    }
                }
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
    counters.add("artifact_writes_outdated", f64::from(outdated));
    pgrx::debug1!(
        "songmatch: {kind}: {} misses ({led} led): lead {t_lead:?}, computed in {:?}, checked and stored in {:?}",
        misses.len(),
        t_computed - t_lead,
        t0.elapsed() - t_computed
    );
    Ok(out)
}

/// Document embeddings of `rows` for the model (id, version), DB first ([`ensure_artifacts`]):
/// the misses are embedded in batches; a text that fails is isolated so that the others still
/// get theirs.
pub fn ensure_embeddings(
    rows: &[TrackRow],
    model: &(String, String),
    facts: SchemaFacts,
    counters: &mut Counters,
) -> Result<Vec<(i64, Artifact<Vec<f32>>)>> {
    ensure_embeddings_for(rows, model, Need::Values, facts, counters)
}

/// [`ensure_embeddings`] for a caller that needs them stored, or their values too.
pub fn ensure_embeddings_for(
    rows: &[TrackRow],
    model: &(String, String),
    need: Need,
    facts: SchemaFacts,
    counters: &mut Counters,
) -> Result<Vec<(i64, Artifact<Vec<f32>>)>> {
    let (model_id, version) = model;
    let hashes = artifact_keys(rows, facts);
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let stored: HashMap<i64, (String, Vec<f32>)> = Spi::connect(|c| {
        let t = c.select(reads::STORED_EMBEDDINGS, None, &[model_id.as_str().into(), version.as_str().into(), ids.into()])?;
        let mut m = HashMap::new();
        for r in t {
            let v = match r.get::<Vector>(3)? {
                Some(v) => Some(v.0),
                None => r.get::<crate::sql::vector::HalfVec>(4)?.map(|h| h.0.iter().map(|x| x.to_f32()).collect()),
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
            (writes::UPSERT_EMBEDDING_HALF, crate::sql::vector::HalfVec::from(&Vector(v.clone())).into())
        } else {
            (writes::UPSERT_EMBEDDING, Vector(v.clone()).into())
        };
        Spi::run_with_args(sql, &[row.id.into(), model_id.as_str().into(), version.as_str().into(), hash.into(), vector])
            .map_err(spi_err("cannot store an embedding"))
    };
    ensure_artifacts(ArtifactKind { kind: "embedding", model, need, facts }, rows, &hashes, stored, compute, store, counters)
}

/// Emotions of `rows` with the bundle's emotion model, DB first ([`ensure_artifacts`]): stored
/// rows of `track_emotions` with a current content hash are read, the others computed and
/// upserted. An embedding-head model reuses the tracks' stored embeddings when it sits on the
/// bundle's embedding model.
pub fn ensure_emotions(
    rows: &[TrackRow],
    bundle: &Bundle,
    need: Need,
    facts: SchemaFacts,
    counters: &mut Counters,
) -> Result<Vec<(i64, Artifact<Value>)>> {
    let Some(model) = bundle.emotion.clone() else {
        return Err(Error::invalid(format!("the bundle \"{}\" has no emotion model", bundle.name)));
    };
    let (model_id, version) = &model;
    let hashes = artifact_keys(rows, facts);
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let stored: HashMap<i64, (String, Value)> = Spi::connect(|c| {
        let t = c.select(reads::STORED_EMOTIONS, None, &[model_id.as_str().into(), version.as_str().into(), ids.into()])?;
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
                let embs = ensure_embeddings(&miss_rows, &bundle.embedding, facts, counters)?;
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
                let mut vals = crate::sql::classify::emotions_with_model(model_id, &good, None)?.into_iter();
                docs.into_iter().map(|d| d.and_then(|_| vals.next().ok_or_else(|| Error::Runtime("missing emotions".into())))).collect()
            };
        infer::count(counters, model_id, results.iter().filter(|r| r.is_ok()).count());
        Ok(results)
    };
    let store = |row: &TrackRow, hash: &str, v: &Value| -> Result<()> {
        let predicted: Vec<String> =
            v["predicted"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default();
        Spi::run_with_args(
            writes::UPSERT_EMOTIONS,
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
    ensure_artifacts(ArtifactKind { kind: "emotion", model: &model, need, facts }, rows, &hashes, stored, compute, store, counters)
}

/// The key of a track's artifacts in this database's schema ([`SchemaFacts::document_keys`]).
pub(super) fn artifact_keys(rows: &[TrackRow], facts: SchemaFacts) -> Vec<String> {
    if facts.document_keys {
        rows.iter().map(TrackRow::document_hash).collect()
    } else {
        rows.iter().map(TrackRow::content_hash).collect()
    }
}
