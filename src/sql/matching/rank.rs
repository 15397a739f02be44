//! Stage 2's side of the data port (crate::core::pipeline::RankPort): the bundle's learned ranker
//! and text reranker through the inference layer, and the rows they read (documents, emotions)
//! DB-first. The ranking itself (stage 1, stage 2, the blend, `components`) is the core's.

use super::artifacts::{ensure_emotions, Need};
use super::counters::Counters;
use super::reads::{load_tracks, TrackRow};
use super::schema_facts::SchemaFacts;
use crate::core::pipeline::{Models, RankPort};
use crate::core::{profile, Result};
use crate::sql::bundle::Bundle;
use crate::sql::infer;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Arguments;

/// The bundle's models as the core's pipeline sees them.
pub(super) fn models(bundle: &Bundle) -> Models<'_> {
    Models {
        bundle_name: &bundle.name,
        bundle_hash: &bundle.hash,
        ranker: bundle.ranker.as_ref().map(|(id, _)| id.as_str()),
        reranker: bundle.reranker.as_ref().map(|(id, _)| id.as_str()),
        emotion: bundle.emotion.is_some(),
    }
}

/// Stage 2 of a bundle, through the inference layer and the tables.
pub(super) struct Stage2<'a> {
    pub(super) bundle: &'a Bundle,
    /// What the schema supports, read at the start of the call.
    pub(super) facts: SchemaFacts,
}

impl RankPort for Stage2<'_> {
    fn ranker(&mut self, model: &str, features: &[Vec<f32>]) -> Result<Vec<f32>> {
        infer::ranker(model, features)
    }

    fn rerank(&mut self, model: &str, query: &str, documents: &[String]) -> Result<Vec<f64>> {
        infer::rerank(model, query, documents, None)
    }

    fn documents(&mut self, ids: &[i64]) -> Result<Vec<String>> {
        let rows = load_tracks(ids)?;
        let by_id: HashMap<i64, &TrackRow> = rows.iter().map(|r| (r.id, r)).collect();
        Ok(ids.iter().map(|id| by_id.get(id).and_then(|r| r.document().ok()).unwrap_or_default()).collect())
    }

    fn emotions(&mut self, ids: &[i64], counters: &mut Counters) -> Result<Vec<(i64, BTreeMap<String, f64>)>> {
        let rows = load_tracks(ids)?;
        Ok(ensure_emotions(&rows, self.bundle, Need::Values, self.facts, counters)?
            .into_iter()
            .filter_map(|(id, a)| a.value().map(|v| (id, profile::ekman_of(v))))
            .collect())
    }

    fn debug(&self, line: Arguments<'_>) {
        pgrx::debug1!("{line}");
    }
}
