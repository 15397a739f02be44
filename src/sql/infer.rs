//! Every model call of the SQL surface goes through here, and here alone it is decided where it
//! runs: in the inference service (one copy of each model for the server, batched with other
//! sessions' requests) or in this backend (its own ONNX Runtime sessions), by
//! `songmatch.inference` (see [`super::service::use_service`]). Both paths run the same core
//! code on the same inputs, so results agree (the reference tests run in both modes).

use super::guc;
use super::models::{engine_config, with_cache};
use super::service;
use crate::core::models::classify;
use crate::core::models::embed::{self, BatchLimits};
use crate::core::models::manifest::Manifest;
use crate::core::models::{ranker, rerank};
use crate::core::service::{f32_bytes, f32_rows, Op};
use crate::core::{Error, Result};
use std::path::PathBuf;

thread_local! {
    /// Rows the inference service answered without running its model since the last
    /// [`take_shared`] (single flight: `core::service::recent`).
    static SHARED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The rows answered without a model run since the last call, and start counting again.
pub fn take_shared() -> usize {
    SHARED.with(|c| c.replace(0))
}

/// Count `n` texts of model `id` just computed: `inferences:<id>` counts every text a session
/// asked a model for (as it always has), `inferences_shared:<id>` those of them the service
/// answered from another request's run (single flight): the model ran for the difference.
pub fn count(counters: &mut super::matching::Counters, id: &str, n: usize) {
    let shared = take_shared().min(n);
    counters.add(&format!("inferences:{id}"), n as f64);
    counters.add(&format!("inferences_shared:{id}"), shared as f64);
}

fn interrupts() {
    pgrx::check_for_interrupts!();
}

fn limits() -> BatchLimits {
    let cfg = engine_config();
    BatchLimits { max_texts: cfg.max_batch_texts, max_tokens: cfg.max_batch_tokens }
}

/// The manifest of installed model `id` (from this backend's registry: no model is loaded).
pub fn manifest(id: &str) -> Result<Manifest> {
    let dir = guc::model_dir();
    with_cache(|c| Ok(c.registry(&dir)?.model(id)?.manifest.clone()))
}

/// A service request for `op` on model `id`, carrying the model file's pinned sha256.
fn request(op: Op, id: &str) -> Result<crate::core::service::Request> {
    let dir: PathBuf = guc::model_dir();
    let sha = with_cache(|c| Ok(c.registry(&dir)?.model(id)?.manifest.files.get("model").and_then(|f| f.sha256.clone())))?;
    Ok(service::request(op, &dir, id, sha))
}

/// A matrix answer of `n` rows.
fn matrix(op: Op, id: &str, req: crate::core::service::Request, payload: &[u8], n: usize) -> Result<Vec<Vec<f32>>> {
    let (resp, data) = service::call(&req, payload)?;
    SHARED.with(|c| c.set(c.get() + resp.shared));
    let rows = f32_rows(&data, resp.rows, resp.cols)?;
    if rows.len() != n {
        return Err(Error::Runtime(format!(
            "model \"{id}\": the inference service answered {op:?} with {} rows for {n} inputs",
            rows.len()
        )));
    }
    Ok(rows)
}

/// Embeddings of texts already formatted for the model (see `embed::format_text`), in order.
pub fn embed(id: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    if service::use_service() {
        let mut req = request(Op::Embed, id)?;
        req.texts = texts.to_vec();
        return matrix(Op::Embed, id, req, &[], texts.len());
    }
    let (dir, cfg) = (guc::model_dir(), engine_config());
    with_cache(|c| embed::embed_texts(c.get(&dir, id, &cfg)?, texts, limits(), &mut interrupts))
}

/// Sequence-classification logits of texts, in order.
pub fn classify(id: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    if service::use_service() {
        let mut req = request(Op::Classify, id)?;
        req.texts = texts.to_vec();
        return matrix(Op::Classify, id, req, &[], texts.len());
    }
    let (dir, cfg) = (guc::model_dir(), engine_config());
    with_cache(|c| classify::classify_texts(c.get(&dir, id, &cfg)?, texts, limits(), &mut interrupts))
}

/// An embedding head's logits for embeddings of its base model, in order.
pub fn head(id: &str, embeddings: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
    if embeddings.is_empty() {
        return Ok(Vec::new());
    }
    if service::use_service() {
        let mut req = request(Op::Head, id)?;
        req.rows = embeddings.len();
        req.cols = embeddings[0].len();
        if let Some(bad) = embeddings.iter().find(|e| e.len() != req.cols) {
            return Err(Error::DimensionMismatch { expected: req.cols, actual: bad.len() });
        }
        return matrix(Op::Head, id, req, &f32_bytes(embeddings), embeddings.len());
    }
    let (dir, cfg) = (guc::model_dir(), engine_config());
    with_cache(|c| classify::head_logits(c.get(&dir, id, &cfg)?, embeddings, limits(), &mut interrupts))
}

/// A learned ranker's scores of feature rows, in order.
pub fn ranker(id: &str, rows: &[Vec<f32>]) -> Result<Vec<f32>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if service::use_service() {
        let mut req = request(Op::Ranker, id)?;
        req.rows = rows.len();
        req.cols = rows[0].len();
        if let Some(bad) = rows.iter().find(|r| r.len() != req.cols) {
            return Err(Error::DimensionMismatch { expected: req.cols, actual: bad.len() });
        }
        return Ok(matrix(Op::Ranker, id, req, &f32_bytes(rows), rows.len())?
            .into_iter()
            .map(|r| r.first().copied().unwrap_or(0.0))
            .collect());
    }
    let (dir, cfg) = (guc::model_dir(), engine_config());
    with_cache(|c| ranker::score(c.get(&dir, id, &cfg)?, rows, &mut interrupts))
}

/// A reranker's scores of `docs` against `query`, in order.
pub fn rerank(id: &str, query: &str, docs: &[String], instruction: Option<&str>) -> Result<Vec<f64>> {
    if service::use_service() {
        let mut req = request(Op::Rerank, id)?;
        req.query = Some(query.to_string());
        req.texts = docs.to_vec();
        req.instruction = instruction.map(String::from);
        let (resp, _) = service::call(&req, &[])?;
        if resp.scores.len() != docs.len() {
            return Err(Error::Runtime(format!(
                "model \"{id}\": the inference service answered {} scores for {} documents",
                resp.scores.len(),
                docs.len()
            )));
        }
        return Ok(resp.scores);
    }
    let (dir, cfg) = (guc::model_dir(), engine_config());
    with_cache(|c| rerank::rerank(c.get(&dir, id, &cfg)?, query, docs, instruction, limits(), &mut interrupts))
}

/// The token ids the model sees for `text` (after truncation, before any template).
pub fn tokenize(id: &str, text: &str) -> Result<Vec<i64>> {
    if service::use_service() {
        let mut req = request(Op::Tokenize, id)?;
        req.texts = vec![text.to_string()];
        return Ok(service::call(&req, &[])?.0.ids);
    }
    let (dir, cfg) = (guc::model_dir(), engine_config());
    with_cache(|c| c.get(&dir, id, &cfg)?.tok()?.encode(text).map(|e| e.ids))
}
