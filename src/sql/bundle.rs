//! Which models a call uses: the one place that reads the active bundle.
//!
//! * [`active_bundle`]: the active bundle's row (for matching and artifacts, which store what
//!   they compute under its models); when none is active, the installed `default` bundle is
//!   registered and activated (by songmatch, with its owner's rights).
//! * [`resolve_model`]: the model of one role for the model functions (`embed`, `emotions`,
//!   `rerank`, `ranker_score`): the one the caller names, else the active bundle's, else the
//!   installed `default` bundle's. Read-only (those functions are STABLE): nothing is registered.
//!
//! Errors reading the bundle are errors (never a silent fallback); a bundle without a model for
//! the role is 22023.

use super::guc;
use super::models::{register, with_cache};
use super::privilege::as_owner;
use crate::core::{Error, Result};
use pgrx::JsonB;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Bundle {
    pub hash: String,
    pub name: String,
    pub embedding: (String, String),
    pub emotion: Option<(String, String)>,
    pub reranker: Option<(String, String)>,
    pub ranker: Option<(String, String)>,
}

/// The models a bundle can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRole {
    Embedding,
    Emotion,
    Reranker,
    Ranker,
}

impl ModelRole {
    pub fn name(self) -> &'static str {
        match self {
            ModelRole::Embedding => "embedding",
            ModelRole::Emotion => "emotion",
            ModelRole::Reranker => "reranker",
            ModelRole::Ranker => "ranker",
        }
    }
}

impl Bundle {
    /// The bundle's model for a role (id only).
    pub fn model(&self, role: ModelRole) -> Option<&str> {
        match role {
            ModelRole::Embedding => Some(self.embedding.0.as_str()).filter(|m| !m.is_empty()),
            ModelRole::Emotion => self.emotion.as_ref().map(|m| m.0.as_str()),
            ModelRole::Reranker => self.reranker.as_ref().map(|m| m.0.as_str()),
            ModelRole::Ranker => self.ranker.as_ref().map(|m| m.0.as_str()),
        }
    }
}

/// The active bundle's row, if any. Read as JSON, so that this library also works on the schema
/// of an earlier release until `ALTER EXTENSION songmatch UPDATE` runs (a column added since
/// reads as NULL).
pub fn read_active_bundle() -> Result<Option<Bundle>> {
    let row = super::plans::select("select to_jsonb(b) from songmatch.model_bundles b where b.is_active", &[], |mut t| match t.next() {
        Some(r) => r.get::<JsonB>(1),
        None => Ok(None),
    })
    .map_err(|e| Error::Runtime(format!("cannot read the active bundle: {e}")))?;
    Ok(row.map(|JsonB(v)| {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let pair = |a: &str, b: &str| s(a).zip(s(b));
        Bundle {
            hash: s("bundle_hash").unwrap_or_default(),
            name: s("name").unwrap_or_default(),
            embedding: pair("embedding_model", "embedding_model_version").unwrap_or_default(),
            emotion: pair("emotion_model", "emotion_model_version"),
            reranker: pair("reranker_model", "reranker_model_version"),
            ranker: pair("ranker_model", "ranker_model_version"),
        }
    }))
}

/// The active bundle; when none is active, the installed `default` bundle is registered and
/// activated.
pub fn active_bundle() -> Result<Bundle> {
    if let Some(b) = read_active_bundle()? {
        return Ok(b);
    }
    // the installed default bundle, registered by songmatch itself (the caller may be an API role)
    as_owner(|| register("default", true))?;
    read_active_bundle()?.ok_or_else(|| Error::Runtime("no active bundle after registering the default one".into()))
}

/// The model a model function uses for `role` (see the module doc).
pub fn resolve_model(model: Option<&str>, role: ModelRole) -> Result<String> {
    if let Some(m) = model {
        if m.is_empty() {
            return Err(Error::invalid("model must be NULL or a model id, not an empty string"));
        }
        return Ok(m.to_string());
    }
    let (bundle, chosen) = match read_active_bundle()? {
        Some(b) => (b.name.clone(), b.model(role).map(str::to_string)),
        None => {
            let dir = guc::model_dir();
            let chosen = with_cache(|c| {
                let b = c.registry(&dir)?.bundle("default")?;
                Ok(match role {
                    ModelRole::Embedding => Some(b.embedding.clone()),
                    ModelRole::Emotion => b.emotion.clone(),
                    ModelRole::Reranker => b.reranker.clone(),
                    ModelRole::Ranker => b.ranker.clone(),
                })
            })?;
            ("default".to_string(), chosen)
        }
    };
    chosen.ok_or_else(|| {
        Error::invalid(format!("the bundle \"{bundle}\" has no {} model; pass model => '…' or activate a bundle that has one", role.name()))
    })
}
