//! Models: manifests and the registry ([`manifest`]), the ONNX Runtime engine ([`engine`]),
//! and the pre/post-processing of each model kind ([`embed`]).
//!
//! Everything inference-related goes through one small interface: a [`engine::ModelHandle`]
//! is loaded from a manifest, texts are tokenized, run, and pooled/scored. A shared background
//! worker that holds one copy of each model for all backends can later replace the
//! per-backend [`engine::ModelCache`] without touching callers.

pub mod batch;
pub mod classify;
pub mod embed;
pub mod engine;
pub mod manifest;
pub mod ranker;
pub mod rerank;
pub mod tokenize;
