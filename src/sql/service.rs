//! The inference service in PostgreSQL: the supervisor background worker, the backend's
//! connection to the service, and `songmatch.inference_status()`.
//!
//! With `shared_preload_libraries = 'songmatch'`, `_PG_init` registers one background worker,
//! the supervisor. It forks the model process (`ps`: "songmatch inference model process", name
//! `songmatch-infer`), which leaves PostgreSQL behind at once (default signal handlers, shared
//! memory unmapped; see `ffi::become_plain_process`) and runs the core's
//! [`crate::core::service::server`]. A crash in model code therefore ends only that process: the
//! postmaster never sees it (it is not the postmaster's child), the supervisor reaps it and
//! starts a new one (at once, then backing off when it keeps failing), and the database stays up.
//!
//! Backends reach the service through `songmatch_inference.sock` in the data directory (mode
//! 0600: only the server's OS user). While a request is queued or running, the backend wakes
//! every few milliseconds to check for interrupts, so cancel, `statement_timeout` and
//! `pg_terminate_backend` act at once; the closed connection tells the service to drop the work.

use super::guc::{self, InferenceMode};
use super::{ffi, OrReport};
use crate::core::service::client::{CallError, Client};
use crate::core::service::server::{self, ServiceConfig};
use crate::core::service::{Op, Request, RequestConfig, Response, SOCKET_NAME};
use crate::core::{Error, Result};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::JsonB;
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set in the postmaster when songmatch is preloaded; backends inherit it through fork.
static PRELOADED: AtomicBool = AtomicBool::new(false);

/// How long a backend waits for a (re)starting service before giving up.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Called from `_PG_init`: under shared_preload_libraries, register the supervisor.
pub fn init() {
    if !ffi::loading_preload_libraries() {
        return;
    }
    PRELOADED.store(true, Ordering::SeqCst);
    BackgroundWorkerBuilder::new("songmatch inference")
        .set_type("songmatch inference")
        .set_library("songmatch")
        .set_function("songmatch_inference_supervisor")
        .set_start_time(BgWorkerStartTime::PostmasterStart)
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
    super::refresh::init();
}

/// Does this session use the service? `backend`: never; `service`: always (an error when it
/// does not run); `auto`: when songmatch is preloaded (the service then runs or is restarting).
pub fn use_service() -> bool {
    match guc::INFERENCE.get() {
        InferenceMode::Backend => false,
        InferenceMode::Service => true,
        InferenceMode::Auto => PRELOADED.load(Ordering::Relaxed),
    }
}

/// The supervisor: start the model process, restart it when it ends, stop it on shutdown.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn songmatch_inference_supervisor(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM | SignalWakeFlags::SIGCHLD);
    ffi::set_ps_display(c"supervisor");
    let threads = match guc::INFERENCE_THREADS.get() {
        n if n > 0 => n as usize,
        _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let mut child: Option<(i32, Instant)> = None;
    let (mut restarts, mut failures) = (0u64, 0u32);
    let mut last_exit: Option<String> = None;
    let mut next_start = Instant::now();
    loop {
        if child.is_none() && Instant::now() >= next_start {
            let cfg = ServiceConfig { socket: SOCKET_NAME.into(), threads, restarts, last_exit: last_exit.clone() };
            match ffi::fork() {
                Ok(None) => model_process(cfg),
                Ok(Some(pid)) => child = Some((pid, Instant::now())),
                Err(e) => {
                    pgrx::warning!("songmatch: cannot start the inference model process: {e}");
                    next_start = Instant::now() + Duration::from_secs(5);
                }
            }
        }
        if !BackgroundWorker::wait_latch(Some(Duration::from_millis(100))) {
            break;
        }
        if BackgroundWorker::sighup_received() {
            ffi::reload_config_file();
        }
        if let Some((pid, since)) = child {
            if let Some(how) = ffi::try_wait(pid) {
                child = None;
                restarts += 1;
                // a process that ran for a while restarts at once; one that keeps dying right after
                // its start (a crash loop) backs off: 0.2 s, 0.4 s, ... up to 6.4 s
                failures = if since.elapsed() > Duration::from_secs(2) { 0 } else { failures + 1 };
                let delay = if failures <= 1 { Duration::ZERO } else { Duration::from_millis(100 << failures.min(6)) };
                next_start = Instant::now() + delay;
                let msg = format!("songmatch inference model process {pid} {how}; restarting it (restart {restarts})");
                pgrx::warning!("{msg}");
                last_exit = Some(msg);
            }
        }
    }
    if let Some((pid, _)) = child {
        ffi::send_signal(pid, libc::SIGTERM);
        let until = Instant::now() + Duration::from_secs(3);
        while ffi::try_wait(pid).is_none() {
            if Instant::now() > until {
                ffi::send_signal(pid, libc::SIGKILL);
                let _ = ffi::try_wait(pid);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_file(SOCKET_NAME);
}

/// The forked model process: never returns into PostgreSQL.
fn model_process(cfg: ServiceConfig) -> ! {
    let parent = std::os::unix::process::parent_id() as i32;
    ffi::set_ps_display(c"model process");
    if !ffi::become_plain_process(c"songmatch-infer", parent) {
        ffi::exit_now(1);
    }
    let r = std::panic::catch_unwind(|| server::run(cfg));
    match r {
        Ok(Err(e)) => eprintln!("songmatch inference model process {}: {e}", ffi::my_pid()),
        Err(_) => eprintln!("songmatch inference model process {}: panic", ffi::my_pid()),
        Ok(Ok(())) => {}
    }
    ffi::exit_now(1)
}

/// This backend's connection (taken out while a request is in flight: a call that is
/// interrupted drops it, and the next call connects afresh).
static CLIENT: Mutex<Option<Client>> = Mutex::new(None);

fn interrupts() {
    pgrx::check_for_interrupts!();
}

/// Connect, waiting (with interrupts checked) up to `CONNECT_WAIT` for a starting service.
fn connect(restarted: bool) -> Result<Client> {
    let started = Instant::now();
    loop {
        match Client::connect(Path::new(SOCKET_NAME)) {
            Ok(c) => return Ok(c),
            Err(e) => {
                if !PRELOADED.load(Ordering::Relaxed) || started.elapsed() > CONNECT_WAIT {
                    let why = if PRELOADED.load(Ordering::Relaxed) {
                        format!("it did not answer within {} s ({e})", CONNECT_WAIT.as_secs())
                    } else {
                        "songmatch is not in shared_preload_libraries".to_string()
                    };
                    return Err(Error::Unavailable(if restarted {
                        format!("the songmatch inference service restarted while handling this request and is not back: {why}")
                    } else {
                        format!("the songmatch inference service is not running: {why} (set songmatch.inference = 'backend' or 'auto' to infer in this session)")
                    }));
                }
                interrupts();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// The request settings of this session.
fn request_config() -> RequestConfig {
    let cfg = super::models::engine_config();
    RequestConfig {
        library: cfg.library,
        max_batch_texts: cfg.max_batch_texts,
        max_batch_tokens: cfg.max_batch_tokens,
        graph_optimization: cfg.graph_optimization,
        verify_cache: cfg.verify_cache,
        no_reuse: !super::guc::INFERENCE_REUSE.get(),
    }
}

/// A request for `op` on model `id` in `dir` (with the model file's pinned sha256, if known).
pub fn request(op: Op, dir: &Path, id: &str, sha: Option<String>) -> Request {
    let mut r = Request::new(op);
    r.dir = dir.to_path_buf();
    r.model = id.to_string();
    r.sha = sha;
    r.cfg = request_config();
    r.batch_wait_us = guc::INFERENCE_BATCH_WAIT_US.get().max(0) as u64;
    // a refresher's work, and a backfill's (bulk_work), yields to users' requests between model runs
    r.background = ffi::is_background_worker() || BULK.with(Cell::get);
    r
}

thread_local! {
    static BULK: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` as bulk work: its requests to the service yield to users' requests between model
/// runs, as a refresher's do (`embed_tracks` and `classify_tracks`, which backfills call, compute
/// artifacts for their own sake; a match or `embed` waits on its answer).
pub fn bulk_work<T>(f: impl FnOnce() -> T) -> T {
    let before = BULK.with(|b| b.replace(true));
    // (reset on the way out, an error's unwinding included)
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BULK.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(before);
    f()
}

/// Send a request to the service and wait for its answer. A connection that breaks (the model
/// process died or restarted) is retried once on a new connection; a second break is 57P03.
pub fn call(req: &Request, payload: &[u8]) -> Result<(Response, Vec<u8>)> {
    let taken = CLIENT.lock().unwrap_or_else(|p| p.into_inner()).take();
    let mut client = match taken {
        Some(c) => c,
        None => connect(false)?,
    };
    let mut attempt = 0;
    loop {
        match client.call(req, payload, &mut interrupts) {
            Ok((resp, data)) => {
                *CLIENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
                if !resp.ok {
                    return Err(crate::core::service::decode_error(&resp.error));
                }
                return Ok((resp, data));
            }
            Err(CallError::Gone(_)) if attempt == 0 => {
                attempt += 1;
                client = connect(true)?;
            }
            Err(CallError::Gone(e)) => {
                return Err(Error::Unavailable(format!(
                    "the songmatch inference service restarted while handling this request ({e}); the request was not completed: retry it"
                )))
            }
            Err(CallError::Protocol(m)) => return Err(Error::Runtime(format!("the songmatch inference service answered badly: {m}"))),
        }
    }
}

/// The service's status (`None` when it is not reachable).
fn service_status() -> Option<serde_json::Value> {
    let mut c = Client::connect(Path::new(SOCKET_NAME)).ok()?;
    let (resp, _) = c.call(&Request::new(Op::Status), &[], &mut interrupts).ok()?;
    Some(resp.status)
}

/// The ids of the models the service holds from `dir`.
pub fn loaded_models(dir: &Path) -> Vec<String> {
    let Some(s) = service_status() else { return Vec::new() };
    s["models"]
        .as_array()
        .map(|a| a.iter().filter(|m| m["dir"].as_str() == dir.to_str()).filter_map(|m| m["id"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// Forget the service's loaded models and registries (after `reload_models()`).
pub fn reload() -> Result<()> {
    if Client::connect(Path::new(SOCKET_NAME)).is_err() {
        return Ok(());
    }
    call(&Request::new(Op::Reload), &[]).map(|_| ())
}

/// `songmatch.inference_status()`: where this session's inference runs and what the service
/// holds: pid, models with their memory, requests, batches, mean batch size, queue depth,
/// restarts, last error.
#[pg_extern(volatile)]
fn inference_status() -> JsonB {
    let setting = match guc::INFERENCE.get() {
        InferenceMode::Auto => "auto",
        InferenceMode::Service => "service",
        InferenceMode::Backend => "backend",
    };
    let service = service_status().unwrap_or_else(|| serde_json::json!({"running": false}));
    let local = super::models::with_cache(|c| Ok(c.loaded_ids())).or_report();
    JsonB(serde_json::json!({
        "mode": if use_service() { "service" } else { "backend" },
        "setting": setting,
        "preloaded": PRELOADED.load(Ordering::Relaxed),
        "service": service,
        "backend_models": local,
    }))
}
