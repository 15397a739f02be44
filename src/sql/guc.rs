//! Settings (`songmatch.*`). Those that name files or libraries are PGC_SUSET: only a
//! superuser (or the server configuration) can set them, so no SQL caller can make a
//! backend load a file of its choosing.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use std::ffi::CString;
use std::path::PathBuf;

pub static MODEL_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ONNXRUNTIME_LIBRARY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static INTRA_OP_THREADS: GucSetting<i32> = GucSetting::<i32>::new(1);
pub static DISCOVERY_SCAN_MAX: GucSetting<i32> = GucSetting::<i32>::new(250_000);
pub static MAX_BATCH_TEXTS: GucSetting<i32> = GucSetting::<i32>::new(32);
pub static MAX_BATCH_TOKENS: GucSetting<i32> = GucSetting::<i32>::new(8192);
pub static MAX_TEXT_LENGTH: GucSetting<i32> = GucSetting::<i32>::new(20_000);
pub static MAX_BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1_000);
pub static MAX_CANDIDATES: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static MAX_TOP_K: GucSetting<i32> = GucSetting::<i32>::new(1_000);
/// Read by the event trigger songmatch.guard_catalogue_drop (sql/schema.sql), not by Rust.
pub static ALLOW_DROP: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static FEATURE_STORE: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static SINGLE_FLIGHT_WAIT_MS: GucSetting<i32> = GucSetting::<i32>::new(2000);
pub static INFERENCE_REUSE: GucSetting<bool> = GucSetting::<bool>::new(true);
/// ONNX Runtime's graph optimisation level: an enum setting, so a bad value is refused when set.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum GraphOptimization {
    #[name = c"all"]
    All,
    #[name = c"extended"]
    Extended,
    #[name = c"basic"]
    Basic,
    #[name = c"none"]
    Disabled,
}

pub static GRAPH_OPTIMIZATION: GucSetting<GraphOptimization> = GucSetting::<GraphOptimization>::new(GraphOptimization::All);

/// Where this session's inference runs (see `service::use_service`).
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum InferenceMode {
    #[name = c"auto"]
    Auto,
    #[name = c"service"]
    Service,
    #[name = c"backend"]
    Backend,
}

pub static INFERENCE: GucSetting<InferenceMode> = GucSetting::<InferenceMode>::new(InferenceMode::Auto);
pub static INFERENCE_THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static INFERENCE_BATCH_WAIT_US: GucSetting<i32> = GucSetting::<i32>::new(2000);
pub static AUTO_REFRESH: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static REFRESH_BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(64);
pub static REFRESH_NAPTIME_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
pub static REFRESH_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(1);

pub fn init() {
    define_limits();
    define_inference_service();
    define_refresher();
    define_call_behaviour();
    define_model_runtime();
    // songmatch.* is ours: a misspelt setting (songmatch.max_candidate) is an error, not a placeholder
    super::ffi::reserve_guc_prefix(c"songmatch");
}

/// Where models run, and the inference service's threads.
fn define_inference_service() {
    GucRegistry::define_enum_guc(
        c"songmatch.inference",
        c"Where models run: auto (the inference service when songmatch is preloaded, else this backend), service or backend (superuser only).",
        c"'service' makes a service that does not run an error (57P03); 'backend' loads the models into this session's own process.",
        &INFERENCE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.inference_threads",
        c"Threads of the inference service's model runs (0: all cores).",
        c"Read when the model process starts: reload the configuration, then restart the model process (or the server).",
        &INFERENCE_THREADS,
        0,
        1024,
        GucContext::Sighup,
        GucFlags::default(),
    );
}

/// The background refresher (per database).
fn define_refresher() {
    GucRegistry::define_bool_guc(
        c"songmatch.auto_refresh",
        c"Let the background refresher make stale artifacts current (with songmatch preloaded).",
        c"Per database with ALTER DATABASE ... SET; takes effect within songmatch.refresh_naptime, without a restart.",
        &AUTO_REFRESH,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.refresh_batch_size",
        c"Stale items per background refresh batch (one transaction).",
        c"",
        &REFRESH_BATCH_SIZE,
        1,
        10_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.refresh_naptime",
        c"How long the refresher sleeps when nothing is stale, and how often the launcher looks for databases.",
        c"",
        &REFRESH_NAPTIME_MS,
        10,
        3_600_000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"songmatch.refresh_workers",
        c"Background refreshers per database (they split the work; 0: none).",
        c"Per database with ALTER DATABASE ... SET; each takes a background worker slot (max_worker_processes).",
        &REFRESH_WORKERS,
        0,
        16,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// How a call behaves: batching and reuse of inference, the feature store, discovery, single
/// flight, and the guard on dropping the catalogue.
fn define_call_behaviour() {
    GucRegistry::define_int_guc(
        c"songmatch.inference_batch_wait_us",
        c"How long (microseconds) the inference service may wait for other sessions' requests to batch with a request (superuser only).",
        c"The wait ends early once every connected session has a request queued.",
        &INFERENCE_BATCH_WAIT_US,
        0,
        100_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"songmatch.feature_store",
        c"Let a match read its candidates from the database's feature store when the store is current (songmatch.build_feature_store).",
        c"Off: every match reads the tables. The answers are the same either way.",
        &FEATURE_STORE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.discovery_scan_max",
        c"Catalogue size (tracks in the feature store) up to which recommend_for_playlist scores every track of the feature store with stage 1 (the exact recommendations) rather than taking neighbours found through the HNSW index.",
        c"0: always the index. Larger catalogues, or no current feature store, take the index.",
        &DISCOVERY_SCAN_MAX,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"songmatch.inference_reuse",
        c"Let the inference service answer a text it ran recently (or that another request of the same batch brings) from that run's result.",
        c"The answer is the model's output for that text either way; off runs the model for every text (a benchmark of the model's throughput).",
        &INFERENCE_REUSE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.single_flight_wait_ms",
        c"How long a match waits for another session that is computing the same match context (a cache miss of the same inputs) before computing it too.",
        c"The other session's commit makes the context visible and the call is then a cache hit; 0: never wait.",
        &SINGLE_FLIGHT_WAIT_MS,
        0,
        60_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"songmatch.allow_drop",
        c"Let DROP EXTENSION songmatch (or a DROP ... CASCADE reaching it) delete a non-empty catalogue.",
        c"Off by default: the event trigger songmatch_guard_catalogue_drop refuses such a drop (55000). Set it in the session that drops, after keeping a copy.",
        &ALLOW_DROP,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// ONNX Runtime and the model files: optimisation, where models and the library are, threads and
/// batch sizes.
fn define_model_runtime() {
    GucRegistry::define_enum_guc(
        c"songmatch.graph_optimization",
        c"ONNX Runtime graph optimisation for new sessions: all, extended, basic or none (superuser only).",
        c"'all' is fastest; 'none' halves a backend's memory for int8 models and loads 4x faster, at about 30% less throughput.",
        &GRAPH_OPTIMIZATION,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"songmatch.model_dir",
        c"Directory of installed model manifests and files (superuser only).",
        c"Empty means the directory `make install` uses: $(pg_config --sharedir)/songmatch/models.",
        &MODEL_DIR,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"songmatch.onnxruntime_library",
        c"Absolute path of libonnxruntime.so (superuser only).",
        c"Empty means the library `make install` puts next to the extension: $libdir/songmatch/libonnxruntime.so.",
        &ONNXRUNTIME_LIBRARY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.intra_op_threads",
        c"ONNX Runtime intra-op threads per backend session (superuser only).",
        c"Takes effect for sessions created after the change.",
        &INTRA_OP_THREADS,
        1,
        64,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.max_batch_texts",
        c"Largest number of texts sent to one inference run (superuser only).",
        c"",
        &MAX_BATCH_TEXTS,
        1,
        4096,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"songmatch.max_batch_tokens",
        c"Largest number of padded tokens (batch x longest) sent to one inference run (superuser only).",
        c"",
        &MAX_BATCH_TOKENS,
        64,
        1_048_576,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The request limits (superuser-only settings; a DBA may set them per role with
/// `ALTER ROLE authenticated SET songmatch.max_candidates = ...`).
fn define_limit(name: &'static std::ffi::CStr, short: &'static std::ffi::CStr, setting: &'static GucSetting<i32>, max: i32) {
    GucRegistry::define_int_guc(
        name,
        short,
        c"A request over the limit fails with SQLSTATE 54000 before any work starts. Superuser only (also per role with ALTER ROLE ... SET).",
        setting,
        1,
        max,
        GucContext::Suset,
        GucFlags::default(),
    );
}

fn define_limits() {
    define_limit(
        c"songmatch.max_text_length",
        c"Most characters in one text passed to embed, emotions, rerank or tokenize.",
        &MAX_TEXT_LENGTH,
        100_000_000,
    );
    define_limit(
        c"songmatch.max_batch_size",
        c"Most elements in one batch argument (texts, documents, track ids).",
        &MAX_BATCH_SIZE,
        100_000_000,
    );
    define_limit(
        c"songmatch.max_candidates",
        c"Most candidate tracks in one match (match_playlist, match_songs_to_playlists, score_tracks).",
        &MAX_CANDIDATES,
        100_000_000,
    );
    define_limit(c"songmatch.max_top_k", c"Largest top_k of match_playlist and match_songs_to_playlists.", &MAX_TOP_K, 1_000_000);
}

/// The request limits in force.
pub fn limits() -> crate::core::limits::Limits {
    let get = |s: &GucSetting<i32>| s.get().max(1) as usize;
    crate::core::limits::Limits {
        max_text_length: get(&MAX_TEXT_LENGTH),
        max_batch_size: get(&MAX_BATCH_SIZE),
        max_candidates: get(&MAX_CANDIDATES),
        max_top_k: get(&MAX_TOP_K),
    }
}

fn string_setting(s: &GucSetting<Option<CString>>) -> Option<String> {
    s.get().and_then(|c| c.into_string().ok()).filter(|s| !s.is_empty())
}

/// The model directory in force.
pub fn model_dir() -> PathBuf {
    match string_setting(&MODEL_DIR) {
        Some(s) => PathBuf::from(s),
        None => super::ffi::share_dir().join("songmatch").join("models"),
    }
}

/// The ONNX Runtime library in force.
pub fn onnxruntime_library() -> PathBuf {
    match string_setting(&ONNXRUNTIME_LIBRARY) {
        Some(s) => PathBuf::from(s),
        None => super::ffi::pkglib_dir().join("songmatch").join("libonnxruntime.so"),
    }
}

/// The graph optimisation level in force.
pub fn graph_optimization() -> String {
    match GRAPH_OPTIMIZATION.get() {
        GraphOptimization::All => "all",
        GraphOptimization::Extended => "extended",
        GraphOptimization::Basic => "basic",
        GraphOptimization::Disabled => "none",
    }
    .to_string()
}

/// The cluster's data directory (owned by the server's OS user).
pub fn data_dir() -> PathBuf {
    super::ffi::data_dir()
}
