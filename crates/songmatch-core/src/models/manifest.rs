//! Model and bundle manifests (JSON files in `models/`), the registry of installed models,
//! and sha256 verification of model files.

use crate::error::{Error, Result};
use crate::hash;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Embedding,
    SequenceClassification,
    EmbeddingHead,
    CausalLmYesNo,
    CrossEncoder,
    /// A learned ranker over stage-1 feature vectors (core::ranker::FEATURES).
    Ranker,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Embedding => "embedding",
            ModelKind::SequenceClassification => "sequence-classification",
            ModelKind::EmbeddingHead => "embedding-head",
            ModelKind::CausalLmYesNo => "causal-lm-yes-no",
            ModelKind::CrossEncoder => "cross-encoder",
            ModelKind::Ranker => "ranker",
        }
    }
}

/// "an embedding", "a cross-encoder": the kind name with its article, for messages.
pub fn with_article(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {kind}")
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: Option<String>,
    #[serde(default)]
    pub source: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Templates {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub document: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    /// The model_version recorded with every artifact; a manifest without one cannot be loaded.
    #[serde(default)]
    pub version: Option<String>,
    pub kind: ModelKind,
    pub files: BTreeMap<String, FileEntry>,
    #[serde(default)]
    pub dims: Option<usize>,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    #[serde(default)]
    pub pooling: Option<String>,
    #[serde(default)]
    pub normalize: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub inputs: BTreeMap<String, String>,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub templates: Templates,
    #[serde(default)]
    pub default_instruction: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub thresholds: BTreeMap<String, f64>,
    /// Label groupings of a classifier (GoEmotions: `ekman`, `sentiment`): bucket → labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ekman: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sentiment: BTreeMap<String, Vec<String>>,
    /// An embedding-head model runs on the embeddings of this model.
    #[serde(default)]
    pub base_model: Option<String>,
    /// Reranker prompt (causal-lm-yes-no).
    #[serde(default)]
    pub template: Option<PromptTemplate>,
    #[serde(default)]
    pub yes_token: Option<String>,
    #[serde(default)]
    pub no_token: Option<String>,
    /// Cross-encoder score activation: "none" (raw logit, default) or "sigmoid".
    #[serde(default)]
    pub activation: Option<String>,
    /// A ranker's input feature names, in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub features: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PromptTemplate {
    pub prefix: String,
    pub body: String,
    pub suffix: String,
}

/// `null` in a manifest means "not given", like an absent field.
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn default_max_tokens() -> usize {
    512
}

/// How embeddings of a model are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Vector,
    HalfVec,
}

impl Manifest {
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let m: Manifest =
            serde_json::from_str(text).map_err(|e| Error::Config(format!("invalid model manifest {}: {e}", origin.display())))?;
        m.validate(origin)?;
        Ok(m)
    }

    fn validate(&self, origin: &Path) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(format!("invalid model manifest {}: {msg}", origin.display())));
        if self.id.is_empty() || !self.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return bad(format!("id \"{}\" must match [a-z0-9-]+", self.id));
        }
        let roles: &[&str] =
            if matches!(self.kind, ModelKind::EmbeddingHead | ModelKind::Ranker) { &["model"] } else { &["model", "tokenizer"] };
        for role in roles {
            if !self.files.contains_key(*role) {
                return bad(format!("files.{role} is missing"));
            }
        }
        for (role, f) in &self.files {
            if f.path.is_empty() || f.path.starts_with('/') || f.path.split('/').any(|p| p == "..") {
                return bad(format!("files.{role}.path \"{}\" must be a relative path inside the model directory", f.path));
            }
        }
        if self.max_tokens == 0 {
            return bad("max_tokens must be positive".into());
        }
        if self.kind == ModelKind::Embedding {
            match self.dims {
                Some(d) if d > 0 && d <= 16000 => {}
                _ => return bad("an embedding model needs dims between 1 and 16000".into()),
            }
            if let Some(p) = &self.pooling {
                if p != "mean" && p != "cls" {
                    return bad(format!("pooling \"{p}\" is not supported (mean, cls)"));
                }
            }
        }
        if self.kind == ModelKind::EmbeddingHead && self.base_model.is_none() {
            return bad("an embedding-head model needs base_model".into());
        }
        if matches!(self.kind, ModelKind::SequenceClassification | ModelKind::EmbeddingHead) && self.labels.is_empty() {
            return bad("a classifier needs its labels".into());
        }
        if self.kind == ModelKind::Ranker && self.features.is_empty() {
            return bad("a ranker needs its feature names".into());
        }
        if self.kind == ModelKind::CausalLmYesNo && self.template.is_none() {
            return bad("a causal-lm-yes-no reranker needs a prompt template".into());
        }
        if let Some(s) = &self.storage {
            if s != "vector" && s != "halfvec" {
                return bad(format!("storage \"{s}\" must be vector or halfvec"));
            }
        }
        Ok(())
    }

    pub fn storage(&self) -> Storage {
        match self.storage.as_deref() {
            Some("halfvec") => Storage::HalfVec,
            _ => Storage::Vector,
        }
    }

    pub fn input_name(&self, role: &str) -> Option<&str> {
        self.inputs.get(role).map(String::as_str)
    }

    /// The JSON that identifies this model inside a bundle hash: id, version and file hashes.
    pub fn identity(&self) -> Value {
        let files: serde_json::Map<String, Value> = self.files.iter().map(|(k, f)| (k.clone(), Value::from(f.sha256.clone()))).collect();
        serde_json::json!({"id": self.id, "version": self.version, "kind": self.kind.name(), "files": files})
    }

    /// The pinned version; an unpinned manifest is a configuration error.
    pub fn version(&self) -> Result<&str> {
        self.version
            .as_deref()
            .ok_or_else(|| Error::Config(format!("model \"{}\" has no pinned version in its manifest, refusing to load it", self.id)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct BundleManifest {
    pub name: String,
    pub embedding: String,
    #[serde(default)]
    pub emotion: Option<String>,
    #[serde(default)]
    pub reranker: Option<String>,
    #[serde(default)]
    pub ranker: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// An installed model: its manifest and the directory holding its files.
#[derive(Debug, Clone)]
pub struct InstalledModel {
    pub manifest: Manifest,
    pub dir: PathBuf,
}

impl InstalledModel {
    pub fn file(&self, role: &str) -> Result<PathBuf> {
        let f = self
            .manifest
            .files
            .get(role)
            .ok_or_else(|| Error::Config(format!("model \"{}\" has no {role} file in its manifest", self.manifest.id)))?;
        Ok(self.dir.join(&f.path))
    }

    /// Check every file against its pinned sha256. A missing file is 58P01, a mismatch XX001.
    pub fn verify(&self) -> Result<()> {
        self.verify_cached(None)
    }

    /// [`verify`](Self::verify), skipping the hashing of a file whose (path, size, mtime, inode)
    /// is recorded in `cache` (a JSON file the server owns) with the same sha256. A file that
    /// changes in any of those is hashed again. A cache that cannot be read or written is ignored.
    pub fn verify_cached(&self, cache: Option<&Path>) -> Result<()> {
        self.manifest.version()?;
        let mut known: serde_json::Map<String, Value> =
            cache.and_then(|c| std::fs::read_to_string(c).ok()).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        let mut changed = false;
        for (role, f) in &self.manifest.files {
            let path = self.dir.join(&f.path);
            let expected = f.sha256.as_deref().ok_or_else(|| {
                Error::Config(format!("model \"{}\": files.{role} has no pinned sha256, refusing to load it", self.manifest.id))
            })?;
            let stamp = file_stamp(&path)?;
            let key = path.display().to_string();
            if known
                .get(&key)
                .is_some_and(|v| v["stamp"] == stamp && v["sha256"].as_str().is_some_and(|h| h.eq_ignore_ascii_case(expected)))
            {
                continue;
            }
            let actual = sha256_file(&path)?;
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(Error::ChecksumMismatch { path, expected: expected.to_string(), actual });
            }
            known.insert(key, serde_json::json!({"stamp": stamp, "sha256": actual}));
            changed = true;
        }
        if let (Some(c), true) = (cache, changed) {
            let tmp = c.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, Value::Object(known).to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, c);
            }
        }
        Ok(())
    }
}

/// Size, modification time (ns) and inode of a file: what must not change for a recorded
/// verification to stand.
fn file_stamp(path: &Path) -> Result<Value> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(serde_json::json!([m.len(), m.mtime(), m.mtime_nsec(), m.ino(), m.dev()]))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The models and bundles installed in a model directory:
/// `<dir>/<model id>/manifest.json` (+ files) and `<dir>/bundles/<name>.json`.
#[derive(Debug, Clone)]
pub struct Registry {
    pub dir: PathBuf,
    pub models: BTreeMap<String, InstalledModel>,
    pub bundles: BTreeMap<String, BundleManifest>,
}

impl Registry {
    pub fn scan(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut models = BTreeMap::new();
        let mut bundles = BTreeMap::new();
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            if path.file_name().is_some_and(|n| n == "bundles") {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                files.sort();
                for f in files {
                    let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                    let b: BundleManifest =
                        serde_json::from_str(&text).map_err(|e| Error::Config(format!("invalid bundle manifest {}: {e}", f.display())))?;
                    bundles.insert(b.name.clone(), b);
                }
                continue;
            }
            let mf = path.join("manifest.json");
            if !mf.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&mf).map_err(|e| Error::io(&mf, e))?;
            let manifest = Manifest::parse(&text, &mf)?;
            models.insert(manifest.id.clone(), InstalledModel { manifest, dir: path });
        }
        Ok(Registry { dir: dir.to_path_buf(), models, bundles })
    }

    pub fn model(&self, id: &str) -> Result<&InstalledModel> {
        self.models.get(id).ok_or_else(|| Error::UnknownModel { name: id.to_string(), available: self.models.keys().cloned().collect() })
    }

    pub fn bundle(&self, name: &str) -> Result<&BundleManifest> {
        self.bundles.get(name).ok_or_else(|| {
            Error::invalid(format!(
                "unknown bundle \"{name}\"; installed bundles: {}",
                if self.bundles.is_empty() { "(none)".to_string() } else { self.bundles.keys().cloned().collect::<Vec<_>>().join(", ") }
            ))
        })
    }

    /// The identity JSON of a bundle and its `mb_v1_` hash. Every model it names must be installed.
    pub fn bundle_identity(&self, name: &str, algorithm_version: &str) -> Result<(Value, String)> {
        let b = self.bundle(name)?;
        let ident = |id: &Option<String>| -> Result<Value> {
            match id {
                None => Ok(Value::Null),
                Some(id) => Ok(self.model(id)?.manifest.identity()),
            }
        };
        let mut v = serde_json::json!({
            "embedding": self.model(&b.embedding)?.manifest.identity(),
            "emotion": ident(&b.emotion)?,
            "reranker": ident(&b.reranker)?,
            "algorithm_version": algorithm_version,
        });
        // (only when present: the hashes of bundles without a ranker stay what they were)
        if b.ranker.is_some() {
            v["ranker"] = ident(&b.ranker)?;
        }
        let h = hash::content_hash(hash::ContentKind::ModelBundle, &v);
        Ok((v, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("songmatch-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const MANIFEST: &str = r#"{"id": "toy", "name": "x/toy", "version": "1", "kind": "embedding",
        "files": {"model": {"path": "model.onnx", "sha256": "SHA"}, "tokenizer": {"path": "tokenizer.json", "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
        "dims": 4, "max_tokens": 8, "inputs": {"input_ids": "input_ids"}, "output": "last_hidden_state"}"#;

    fn install(dir: &Path, model_bytes: &[u8]) {
        let m = dir.join("toy");
        std::fs::create_dir_all(&m).unwrap();
        let sha: String = Sha256::digest(b"model").iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(m.join("manifest.json"), MANIFEST.replace("SHA", &sha)).unwrap();
        std::fs::write(m.join("model.onnx"), model_bytes).unwrap();
        std::fs::write(m.join("tokenizer.json"), b"").unwrap();
        std::fs::create_dir_all(dir.join("bundles")).unwrap();
        std::fs::write(dir.join("bundles/toyb.json"), r#"{"name": "toyb", "embedding": "toy"}"#).unwrap();
    }

    #[test]
    fn registry_scans_and_verifies() {
        let d = tmpdir("ok");
        install(&d, b"model");
        let r = Registry::scan(&d).unwrap();
        assert_eq!(r.models.keys().collect::<Vec<_>>(), vec!["toy"]);
        r.model("toy").unwrap().verify().unwrap();
        let (_, h) = r.bundle_identity("toyb", "1").unwrap();
        assert!(h.starts_with("mb_v1_"));
        let (_, h2) = r.bundle_identity("toyb", "2").unwrap();
        assert_ne!(h, h2);
        let e = r.model("nope").unwrap_err();
        assert_eq!(e.to_string(), "unknown model \"nope\"; available models: toy");
        assert_eq!(r.bundle("nope").unwrap_err().sqlstate(), "22023");
    }

    #[test]
    fn sha_mismatch_and_missing_files() {
        let d = tmpdir("bad");
        install(&d, b"tampered");
        let r = Registry::scan(&d).unwrap();
        let e = r.model("toy").unwrap().verify().unwrap_err();
        assert_eq!(e.sqlstate(), "XX001");
        assert!(e.to_string().starts_with("sha256 mismatch for "), "{e}");
        std::fs::remove_file(d.join("toy/model.onnx")).unwrap();
        let e = r.model("toy").unwrap().verify().unwrap_err();
        assert_eq!(e.sqlstate(), "58P01");
        let e = Registry::scan(&d.join("nope")).unwrap_err();
        assert_eq!(e.sqlstate(), "58P01");
    }

    #[test]
    fn verification_cache_skips_unchanged_files_only() {
        let d = tmpdir("cache");
        install(&d, b"model");
        let r = Registry::scan(&d).unwrap();
        let m = r.model("toy").unwrap();
        let cache = d.join("verified.json");
        m.verify_cached(Some(&cache)).unwrap();
        let recorded = std::fs::read_to_string(&cache).unwrap();
        assert!(recorded.contains("model.onnx"));
        m.verify_cached(Some(&cache)).unwrap();
        // a tampered file (other size) is hashed again and refused, cache or not
        std::fs::write(d.join("toy/model.onnx"), b"tampered!").unwrap();
        assert_eq!(m.verify_cached(Some(&cache)).unwrap_err().sqlstate(), "XX001");
        // a forged cache entry does not help a file whose stamp differs
        assert_eq!(m.verify_cached(Some(&cache)).unwrap_err().sqlstate(), "XX001");
    }

    #[test]
    fn manifest_validation() {
        let p = Path::new("m.json");
        let e = Manifest::parse(&MANIFEST.replace("\"toy\"", "\"Bad Id\""), p).unwrap_err();
        assert!(e.to_string().contains("must match [a-z0-9-]+"), "{e}");
        let e = Manifest::parse(&MANIFEST.replace("\"dims\": 4", "\"dims\": 0"), p).unwrap_err();
        assert!(e.to_string().contains("needs dims"), "{e}");
        let e = Manifest::parse(&MANIFEST.replace("model.onnx", "../../etc/passwd"), p).unwrap_err();
        assert!(e.to_string().contains("relative path"), "{e}");
        assert_eq!(e.sqlstate(), "F0000");
        // the repository's own manifests parse
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/manifests");
        let mut n = 0;
        for f in std::fs::read_dir(root).unwrap() {
            let f = f.unwrap().path();
            Manifest::parse(&std::fs::read_to_string(&f).unwrap(), &f).unwrap();
            n += 1;
        }
        assert!(n >= 4);
    }
}
