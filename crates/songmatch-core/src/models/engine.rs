//! The ONNX Runtime engine: loading the library, creating sessions, and a per-process cache
//! of loaded models.
//!
//! The runtime is loaded lazily, on the first inference of a process (a backend), from an
//! absolute path; never in `_PG_init`, because the postmaster forks backends. Sessions are
//! created with a small thread budget (`intra_threads`, default 1), graph optimisation on,
//! no memory-pattern planning and no CPU arena: a server runs many backends, each holding
//! its own copy, so resident memory matters more than the last percent of speed.

use crate::error::{Error, Result};
use crate::models::manifest::{InstalledModel, Registry};
use crate::models::tokenize::TextTokenizer;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static RUNTIME: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Settings that shape sessions and batches.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub library: PathBuf,
    pub intra_threads: usize,
    pub max_batch_texts: usize,
    pub max_batch_tokens: usize,
    /// "all", "extended", "basic" or "none".
    pub graph_optimization: String,
    /// Where verified file stamps are remembered between backends (None: hash every time).
    pub verify_cache: Option<PathBuf>,
}

/// Load libonnxruntime once per process. Later calls with another path keep the first
/// library (a process cannot unload it) and say so.
pub fn init_runtime(library: &Path) -> Result<()> {
    let mut guard = RUNTIME.lock().map_err(|_| Error::Runtime("runtime lock poisoned".into()))?;
    if let Some(loaded) = guard.as_ref() {
        if loaded != library {
            return Err(Error::Config(format!(
                "ONNX Runtime is already loaded from {} in this session; reconnect to use {}",
                loaded.display(),
                library.display()
            )));
        }
        return Ok(());
    }
    if !library.is_absolute() {
        return Err(Error::Config(format!("songmatch.onnxruntime_library must be an absolute path, got \"{}\"", library.display())));
    }
    if !library.exists() {
        return Err(Error::MissingFile { path: library.to_path_buf() });
    }
    let builder =
        ort::init_from(library).map_err(|e| Error::Runtime(format!("cannot load ONNX Runtime from {}: {e}", library.display())))?;
    builder.with_name("songmatch").with_telemetry(false).commit();
    *guard = Some(library.to_path_buf());
    Ok(())
}

fn ort_err(what: &str) -> impl Fn(ort::Error) -> Error + '_ {
    move |e| Error::Runtime(format!("{what}: {e}"))
}

/// Create an inference session for `model_path`.
pub fn new_session(model_path: &Path, cfg: &EngineConfig) -> Result<Session> {
    if !model_path.exists() {
        return Err(Error::MissingFile { path: model_path.to_path_buf() });
    }
    init_runtime(&cfg.library)?;
    let what = format!("cannot create a session for {}", model_path.display());
    let mut b = Session::builder().map_err(ort_err(&what))?;
    crate::sys::disable_cpu_mem_arena(&mut b);
    let level = match cfg.graph_optimization.as_str() {
        "all" => GraphOptimizationLevel::All,
        "extended" => GraphOptimizationLevel::Level2,
        "basic" => GraphOptimizationLevel::Level1,
        "none" => GraphOptimizationLevel::Disable,
        other => return Err(Error::Config(format!("songmatch.graph_optimization must be all, extended, basic or none, got \"{other}\""))),
    };
    let b = b
        .with_optimization_level(level)
        .and_then(|b| b.with_intra_threads(cfg.intra_threads.max(1)))
        .and_then(|b| b.with_inter_threads(1))
        .and_then(|b| b.with_memory_pattern(false))
        .and_then(|b| b.with_intra_op_spinning(false))
        .map_err(ort_err(&what))?;
    b.commit_from_file(model_path).map_err(ort_err(&what))
}

/// A loaded model: manifest, tokenizer, session and the graph's input names.
pub struct LoadedModel {
    pub model: InstalledModel,
    pub tokenizer: Option<TextTokenizer>,
    pub session: Session,
    pub graph_inputs: Vec<String>,
    pub graph_outputs: Vec<String>,
}

impl LoadedModel {
    /// Verify every file's sha256, then load tokenizer and session. Nothing is cached when
    /// any step fails.
    pub fn load(model: &InstalledModel, cfg: &EngineConfig) -> Result<Self> {
        model.verify_cached(cfg.verify_cache.as_deref())?;
        let tokenizer = if model.manifest.files.contains_key("tokenizer") {
            Some(TextTokenizer::load(&model.file("tokenizer")?, model.manifest.max_tokens)?)
        } else {
            None
        };
        let session = new_session(&model.file("model")?, cfg)?;
        let graph_inputs: Vec<String> = session.inputs().iter().map(|i| i.name().to_string()).collect();
        let graph_outputs: Vec<String> = session.outputs().iter().map(|o| o.name().to_string()).collect();
        for (role, name) in &model.manifest.inputs {
            if role != "token_type_ids" && !graph_inputs.iter().any(|g| g == name) {
                return Err(Error::Config(format!(
                    "model \"{}\": the graph has no input \"{name}\" (its inputs: {})",
                    model.manifest.id,
                    graph_inputs.join(", ")
                )));
            }
        }
        if let Some(out) = &model.manifest.output {
            if !graph_outputs.iter().any(|g| g == out) {
                return Err(Error::Config(format!(
                    "model \"{}\": the graph has no output \"{out}\" (its outputs: {})",
                    model.manifest.id,
                    graph_outputs.join(", ")
                )));
            }
        }
        Ok(LoadedModel { model: model.clone(), tokenizer, session, graph_inputs, graph_outputs })
    }

    /// The model's tokenizer (every kind but embedding-head has one).
    pub fn tok(&self) -> Result<&TextTokenizer> {
        self.tokenizer.as_ref().ok_or_else(|| Error::Config(format!("model \"{}\" has no tokenizer", self.model.manifest.id)))
    }

    /// The graph input name for a role, if the graph has it.
    pub fn input(&self, role: &str) -> Option<String> {
        let name = self.model.manifest.input_name(role).unwrap_or(role);
        self.graph_inputs.iter().find(|g| *g == name).cloned()
    }
}

/// Per-process cache of loaded models, keyed by model id + pinned model sha256, plus the
/// registry of the model directory.
#[derive(Default)]
pub struct ModelCache {
    registry: Option<(PathBuf, Registry)>,
    loaded: HashMap<String, LoadedModel>,
    pub loads: u64,
}

impl ModelCache {
    pub fn registry(&mut self, dir: &Path) -> Result<&Registry> {
        let stale = !matches!(&self.registry, Some((d, _)) if d == dir);
        if stale {
            let r = Registry::scan(dir)?;
            self.registry = Some((dir.to_path_buf(), r));
        }
        Ok(&self.registry.as_ref().expect("set above").1)
    }

    /// Forget the registry and every loaded model (after models were reinstalled).
    pub fn clear(&mut self) {
        self.registry = None;
        self.loaded.clear();
    }

    pub fn loaded_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.loaded.values().map(|m| m.model.manifest.id.clone()).collect();
        v.sort();
        v
    }

    /// The loaded model `id`, loading (and verifying) it on first use.
    pub fn get(&mut self, dir: &Path, id: &str, cfg: &EngineConfig) -> Result<&mut LoadedModel> {
        let installed = self.registry(dir)?.model(id)?.clone();
        let sha = installed.manifest.files.get("model").and_then(|f| f.sha256.clone()).unwrap_or_default();
        let key = format!("{id}@{sha}");
        if !self.loaded.contains_key(&key) {
            let m = LoadedModel::load(&installed, cfg)?;
            self.loads += 1;
            self.loaded.retain(|_, v| v.model.manifest.id != id);
            self.loaded.insert(key.clone(), m);
        }
        Ok(self.loaded.get_mut(&key).expect("inserted above"))
    }
}
