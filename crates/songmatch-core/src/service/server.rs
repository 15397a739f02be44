//! The inference service's process: it listens on a Unix socket, reads requests from every
//! connection on a thread per connection, and runs them on executor threads that own the loaded
//! models and use all the cores they are given (ONNX Runtime's intra-op threads). Two lanes: one
//! executor runs the text models (embeddings, classifiers, rerankers) and the heads, a second the
//! learned rankers, whose runs are short (a match's stage 2) and so never queue behind a text
//! model's run.
//!
//! Dynamic batching: when the executor takes a batchable request (embed, classify, head,
//! ranker), it waits up to the request's `batch_wait_us` for other connections' requests for the
//! same model under the same settings (it stops waiting as soon as every connected client has a
//! request queued), then runs them together: the model's own longest-first packing under the
//! token/text limits applies to the union. A union that fails is retried request by request, so
//! one request's bad input never fails another's. A request whose connection closed (its caller
//! was cancelled or terminated) is dropped before it runs, and a run whose callers all left
//! stops at the next batch boundary.
//!
//! Single flight: a text that several requests of a batch bring runs once, and a text the model
//! ran recently is answered from its result ([`super::recent`], `RECENT_BYTES`): the response
//! says how many rows were shared, and the callers count only the others as inferences.
//!
//! Nothing here knows PostgreSQL: the process runs no PostgreSQL code and holds no shared
//! memory, so a crash in model code costs only the requests in flight.

use super::recent::{self, Recent};
use super::{f32_bytes, f32_rows, read_frame, write_frame, Op, Request, Response, PROTOCOL_VERSION};
use crate::error::{Error, Result};
use crate::models::embed::{self, BatchLimits};
use crate::models::engine::{EngineConfig, LoadedModel, ModelCache};
use crate::models::{classify, ranker, rerank};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How the process was started.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The socket (a relative path is relative to the working directory: the data directory).
    pub socket: PathBuf,
    /// ONNX Runtime intra-op threads of every session.
    pub threads: usize,
    /// How many times the supervisor restarted the service before this start.
    pub restarts: u64,
    /// Why the previous service process ended, if it did.
    pub last_exit: Option<String>,
}

struct Conn {
    writer: Mutex<UnixStream>,
    gone: AtomicBool,
}

impl Conn {
    fn reply(&self, header: &Response, payload: &[u8]) {
        if self.gone.load(Ordering::Relaxed) {
            return;
        }
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if write_frame(&mut *w, header, payload).is_err() {
            self.gone.store(true, Ordering::Relaxed);
        }
    }
}

struct Job {
    conn: Arc<Conn>,
    req: Request,
    payload: Vec<u8>,
    arrived: Instant,
    /// A bulk job's progress: its texts longest first, how many are done, the results so far.
    progress: Option<Progress>,
}

struct Progress {
    order: Vec<usize>,
    next: usize,
    out: Vec<Vec<f32>>,
    /// Rows answered without a model run so far.
    shared: usize,
}

impl Job {
    /// A bulk job (a background worker's request, or more texts than one model run takes) runs one
    /// model run at a time, and interactive requests go first between its runs: a user's request
    /// never waits behind more than one run of bulk work.
    fn bulk(&self) -> bool {
        matches!(self.req.op, Some(Op::Embed) | Some(Op::Classify))
            && (self.req.background || self.req.items() > self.req.cfg.max_batch_texts.max(1))
    }

    fn same_batch(&self, other: &Job) -> bool {
        let (a, b) = (&self.req, &other.req);
        a.op == b.op && a.dir == b.dir && a.model == b.model && a.cfg == b.cfg && a.cols == b.cols
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    batches: AtomicU64,
    items: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
}

struct Shared {
    cfg: ServiceConfig,
    started: SystemTime,
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    connections: AtomicUsize,
    counters: Counters,
    /// Loaded models: "dir/id" → {id, dir, memory_mb, loaded_at}.
    models: Mutex<BTreeMap<String, Value>>,
    last_error: Mutex<Option<String>>,
    /// When an interactive request was last taken (ms since `epoch`): bulk work runs in small
    /// steps while users are active, in full model runs otherwise.
    last_interactive_ms: AtomicU64,
    epoch: Instant,
    /// Reloads so far: each executor forgets its models when it sees a new one.
    reloads: AtomicU64,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn users_active(&self) -> bool {
        let last = self.last_interactive_ms.load(Ordering::Relaxed);
        last != 0 && self.now_ms().saturating_sub(last) < 1000
    }
}

/// The bytes of recent results kept for single flight (about 40k 384-d embeddings).
const RECENT_BYTES: usize = 64 << 20;

/// What an executor owns: the loaded models, the recent results, and the reloads it has seen.
struct Executor {
    caches: HashMap<PathBuf, ModelCache>,
    recent: Recent,
    reloads: u64,
}

/// The requests an executor runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    /// Every operation but the learned ranker's.
    Models,
    /// The learned rankers (small tree ensembles over feature rows).
    Rankers,
}

impl Lane {
    fn takes(self, j: &Job) -> bool {
        (j.req.op == Some(Op::Ranker)) == (self == Lane::Rankers)
    }
}

/// The cancellation marker a run unwinds with when all its callers left.
struct Cancelled;

/// Run the service: bind the socket, then serve until the process is killed. Returns only if
/// the socket cannot be set up.
pub fn run(cfg: ServiceConfig) -> Result<()> {
    let listener = bind(&cfg.socket)?;
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Cancelled>().is_none() {
            default_hook(info);
        }
    }));
    let shared = Arc::new(Shared {
        last_error: Mutex::new(cfg.last_exit.clone()),
        cfg,
        started: SystemTime::now(),
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
        connections: AtomicUsize::new(0),
        counters: Counters::default(),
        models: Mutex::new(BTreeMap::new()),
        last_interactive_ms: AtomicU64::new(0),
        epoch: Instant::now(),
        reloads: AtomicU64::new(0),
    });
    for (lane, name) in [(Lane::Models, "songmatch-exec"), (Lane::Rankers, "songmatch-rank")] {
        let exec = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || executor(&exec, lane))
            .map_err(|e| Error::Runtime(format!("cannot start the inference executor: {e}")))?;
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let s = Arc::clone(&shared);
        let _ =
            std::thread::Builder::new().name("songmatch-conn".into()).stack_size(256 * 1024).spawn(move || serve_connection(&s, stream));
    }
    Ok(())
}

/// Bind `socket` atomically: a fresh socket under a temporary name, mode 0600, renamed over
/// whatever an earlier process left.
fn bind(socket: &Path) -> Result<UnixListener> {
    let tmp = PathBuf::from(format!("{}.{}", socket.display(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let l = UnixListener::bind(&tmp).map_err(|e| Error::io(&tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, socket).map_err(|e| Error::io(socket, e))?;
    Ok(l)
}

fn serve_connection(shared: &Arc<Shared>, mut stream: UnixStream) {
    let Ok(writer) = stream.try_clone() else { return };
    let conn = Arc::new(Conn { writer: Mutex::new(writer), gone: AtomicBool::new(false) });
    shared.connections.fetch_add(1, Ordering::SeqCst);
    while let Ok(Some((h, payload))) = read_frame(&mut stream) {
        let req: Request = match serde_json::from_slice(&h) {
            Ok(r) => r,
            Err(e) => {
                conn.reply(&Response::failed(&Error::Runtime(format!("unreadable inference request: {e}"))), &[]);
                continue;
            }
        };
        if req.v != PROTOCOL_VERSION {
            let e = Error::Config(format!(
                "the songmatch inference service speaks protocol {PROTOCOL_VERSION}, this backend {}: restart the server after installing a new songmatch",
                req.v
            ));
            conn.reply(&Response::failed(&e), &[]);
            continue;
        }
        match req.op {
            Some(Op::Status) => {
                let r = Response { ok: true, status: status(shared), ..Default::default() };
                conn.reply(&r, &[]);
            }
            Some(_) => {
                let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
                q.push_back(Job { conn: Arc::clone(&conn), req, payload, arrived: Instant::now(), progress: None });
                shared.ready.notify_all();
            }
            None => conn.reply(&Response::failed(&Error::Runtime("inference request without an operation".into())), &[]),
        }
    }
    conn.gone.store(true, Ordering::SeqCst);
    shared.connections.fetch_sub(1, Ordering::SeqCst);
    shared.ready.notify_all();
}

fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn status(shared: &Shared) -> Value {
    let c = &shared.counters;
    let (batches, items, requests) =
        (c.batches.load(Ordering::Relaxed), c.items.load(Ordering::Relaxed), c.requests.load(Ordering::Relaxed));
    let depth = shared.queue.lock().map(|q| q.len()).unwrap_or(0);
    let models: Vec<Value> = shared.models.lock().map(|m| m.values().cloned().collect()).unwrap_or_default();
    let unix = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    json!({
        "running": true,
        "pid": std::process::id(),
        "supervisor_pid": std::os::unix::process::parent_id(),
        "started_at": unix(shared.started),
        "uptime_s": shared.started.elapsed().map(|d| d.as_secs_f64()).unwrap_or(0.0),
        "restarts": shared.cfg.restarts,
        "threads": shared.cfg.threads,
        "resident_mb": (resident_mb() * 10.0).round() / 10.0,
        "models": models,
        "requests": requests,
        "batches": batches,
        "items": items,
        "mean_batch_size": if batches == 0 { 0.0 } else { ((items as f64 / batches as f64) * 100.0).round() / 100.0 },
        "mean_requests_per_batch": if batches == 0 { 0.0 } else { ((requests as f64 / batches as f64) * 100.0).round() / 100.0 },
        "queue_depth": depth,
        "connections": shared.connections.load(Ordering::Relaxed),
        "dropped": c.dropped.load(Ordering::Relaxed),
        "errors": c.errors.load(Ordering::Relaxed),
        "last_error": shared.last_error.lock().ok().and_then(|e| e.clone()),
    })
}

/// The next requests to run together (blocks until there is one).
fn next_group(shared: &Shared, lane: Lane) -> Vec<Job> {
    let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        while !q.iter().any(|j| lane.takes(j)) {
            q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        // interactive requests first; bulk work when there is nothing else
        let at = q.iter().position(|j| lane.takes(j) && !j.bulk()).or_else(|| q.iter().position(|j| lane.takes(j)));
        let first = q.remove(at.expect("one is there")).expect("in range");
        if first.conn.gone.load(Ordering::Relaxed) {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if !first.bulk() {
            shared.last_interactive_ms.store(shared.now_ms().max(1), Ordering::Relaxed);
        }
        if first.bulk() || !first.req.op.is_some_and(Op::batchable) {
            return vec![first];
        }
        // the longest union worth waiting for: a few model runs' worth of items
        let cap = first.req.cfg.max_batch_texts.max(1) * 4;
        let deadline = first.arrived + Duration::from_micros(first.req.batch_wait_us.min(100_000));
        loop {
            let matching: Vec<&Job> =
                q.iter().filter(|j| first.same_batch(j) && !j.bulk() && !j.conn.gone.load(Ordering::Relaxed)).collect();
            let items: usize = first.req.items() + matching.iter().map(|j| j.req.items()).sum::<usize>();
            let now = Instant::now();
            if matching.len() + 1 >= shared.connections.load(Ordering::SeqCst) || items >= cap || now >= deadline {
                break;
            }
            q = shared.ready.wait_timeout(q, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        let mut group = vec![first];
        let mut items = group[0].req.items();
        let mut rest = VecDeque::with_capacity(q.len());
        for j in q.drain(..) {
            if j.conn.gone.load(Ordering::Relaxed) {
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            } else if group[0].same_batch(&j) && !j.bulk() && items + j.req.items() <= cap.max(items + 1) {
                items += j.req.items();
                group.push(j);
            } else {
                rest.push_back(j);
            }
        }
        *q = rest;
        return group;
    }
}

fn executor(shared: &Arc<Shared>, lane: Lane) {
    // (the rankers' lane reuses no results: their rows differ from call to call)
    let recent = if lane == Lane::Models { RECENT_BYTES } else { 0 };
    let mut ex = Executor { caches: HashMap::new(), recent: Recent::new(recent), reloads: 0 };
    loop {
        let mut group = next_group(shared, lane);
        let reloads = shared.reloads.load(Ordering::SeqCst);
        if reloads != ex.reloads {
            ex.caches.clear();
            ex.recent.clear();
            ex.reloads = reloads;
        }
        let c = &shared.counters;
        if group.len() == 1 && group[0].bulk() {
            let job = group.pop().expect("one");
            run_bulk_step(shared, &mut ex, job);
            continue;
        }
        c.requests.fetch_add(group.len() as u64, Ordering::Relaxed);
        c.batches.fetch_add(1, Ordering::Relaxed);
        c.items.fetch_add(group.iter().map(|j| j.req.items() as u64).sum(), Ordering::Relaxed);
        let op = group[0].req.op.expect("queued requests have an operation");
        if op.batchable() && group.len() > 1 {
            match run_union(shared, &mut ex, &group) {
                Ok(Some((rows, from_recent))) => {
                    let mut rows = rows.into_iter();
                    let mut from_recent = from_recent.into_iter();
                    for j in &group {
                        let mine: Vec<Vec<f32>> = rows.by_ref().take(j.req.items()).collect();
                        let n_shared = from_recent.by_ref().take(j.req.items()).filter(|s| *s).count();
                        reply_rows(&j.conn, &mine, n_shared);
                    }
                    continue;
                }
                Ok(None) => continue,
                // one request's input may be what fails: run them one by one
                Err(_) => {}
            }
        }
        for j in &group {
            if j.conn.gone.load(Ordering::Relaxed) {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match run_one(shared, &mut ex, j) {
                Ok(Some((header, payload))) => j.conn.reply(&header, &payload),
                Ok(None) => {}
                Err(e) => {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut le) = shared.last_error.lock() {
                        *le = Some(e.to_string());
                    }
                    j.conn.reply(&Response::failed(&e), &[]);
                }
            }
        }
    }
}

/// One model run of a bulk job (its longest remaining texts: max_batch_texts of them, a quarter of
/// that while users are active); the job goes back to the front of the queue until it is done, then
/// it is answered.
fn run_bulk_step(shared: &Shared, ex: &mut Executor, mut job: Job) {
    let c = &shared.counters;
    let n = job.req.texts.len();
    if job.progress.is_none() {
        c.requests.fetch_add(1, Ordering::Relaxed);
        let mut order: Vec<usize> = (0..n).collect();
        let texts = &job.req.texts;
        order.sort_by(|&a, &b| texts[b].len().cmp(&texts[a].len()).then(a.cmp(&b)));
        job.progress = Some(Progress { order, next: 0, out: vec![Vec::new(); n], shared: 0 });
    }
    let (idx, take) = {
        let p = job.progress.as_ref().expect("set above");
        // while users are active (a request in the last second), a quarter of a full run: a user's
        // request then waits for at most that much bulk work; otherwise full runs
        let full = job.req.cfg.max_batch_texts.max(1);
        let step = if shared.users_active() { (full / 4).max(1) } else { full };
        let take = step.min(n - p.next);
        (p.order[p.next..p.next + take].to_vec(), take)
    };
    let mut step = Request { texts: idx.iter().map(|&i| job.req.texts[i].clone()).collect(), ..job.req.clone() };
    step.background = false;
    c.batches.fetch_add(1, Ordering::Relaxed);
    c.items.fetch_add(take as u64, Ordering::Relaxed);
    let piece = Job { conn: Arc::clone(&job.conn), req: step, payload: Vec::new(), arrived: job.arrived, progress: None };
    match run_union(shared, ex, std::slice::from_ref(&piece)) {
        Ok(Some((rows, from_recent))) if rows.len() == take => {
            let done = {
                let p = job.progress.as_mut().expect("set above");
                p.shared += from_recent.iter().filter(|s| **s).count();
                for (i, row) in idx.into_iter().zip(rows) {
                    p.out[i] = row;
                }
                p.next += take;
                p.next >= n
            };
            if done {
                let p = job.progress.as_ref().expect("set above");
                reply_rows(&job.conn, &p.out, p.shared);
            } else {
                let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
                q.push_front(job);
            }
        }
        Ok(Some((rows, _))) => {
            job.conn.reply(&Response::failed(&Error::Runtime(format!("inference returned {} rows for {take} texts", rows.len()))), &[])
        }
        Ok(None) => {
            c.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            c.errors.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut le) = shared.last_error.lock() {
                *le = Some(e.to_string());
            }
            job.conn.reply(&Response::failed(&e), &[]);
        }
    }
}

fn reply_rows(conn: &Conn, rows: &[Vec<f32>], shared: usize) {
    let cols = rows.first().map(|r| r.len()).unwrap_or(0);
    conn.reply(&Response { shared, ..Response::matrix(rows.len(), cols) }, &f32_bytes(rows));
}

fn engine_config(shared: &Shared, req: &Request) -> EngineConfig {
    EngineConfig {
        library: req.cfg.library.clone(),
        intra_threads: shared.cfg.threads.max(1),
        max_batch_texts: req.cfg.max_batch_texts.max(1),
        max_batch_tokens: req.cfg.max_batch_tokens.max(1),
        graph_optimization: req.cfg.graph_optimization.clone(),
        verify_cache: req.cfg.verify_cache.clone(),
    }
}

fn limits(req: &Request) -> BatchLimits {
    BatchLimits { max_texts: req.cfg.max_batch_texts.max(1), max_tokens: req.cfg.max_batch_tokens.max(1) }
}

/// The loaded model a request names, loading it on first use (and rescanning the directory
/// when the caller's registry knows another version of the model file).
fn model<'a>(shared: &Shared, caches: &'a mut HashMap<PathBuf, ModelCache>, req: &Request) -> Result<&'a mut LoadedModel> {
    let cache = caches.entry(req.dir.clone()).or_default();
    let known = cache
        .registry(&req.dir)
        .ok()
        .and_then(|r| r.model(&req.model).ok().map(|m| m.manifest.files.get("model").and_then(|f| f.sha256.clone())));
    let stale = match (&known, &req.sha) {
        (None, _) => true,
        (Some(have), Some(want)) => have.as_deref() != Some(want.as_str()),
        (Some(_), None) => false,
    };
    if stale {
        cache.clear();
        if let Ok(mut m) = shared.models.lock() {
            let prefix = format!("{}/", req.dir.display());
            m.retain(|k, _| !k.starts_with(&prefix));
        }
    }
    let cfg = engine_config(shared, req);
    let (loads, before) = (cache.loads, resident_mb());
    cache.get(&req.dir, &req.model, &cfg)?;
    if cache.loads != loads {
        let mb = ((resident_mb() - before).max(0.0) * 10.0).round() / 10.0;
        let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        if let Ok(mut m) = shared.models.lock() {
            m.insert(
                format!("{}/{}", req.dir.display(), req.model),
                json!({"id": req.model, "dir": req.dir, "memory_mb": mb, "loaded_at": unix}),
            );
        }
    }
    cache.get(&req.dir, &req.model, &cfg)
}

/// A `between` callback that abandons the run when every caller has left.
fn abandon_when_gone(conns: Vec<Arc<Conn>>) -> impl FnMut() {
    move || {
        if conns.iter().all(|c| c.gone.load(Ordering::Relaxed)) {
            std::panic::panic_any(Cancelled);
        }
    }
}

/// Run `f`, turning the cancellation unwind into `Ok(None)` and any other panic into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map(Some),
        Err(p) if p.downcast_ref::<Cancelled>().is_some() => Ok(None),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            Err(Error::Runtime(format!("inference failed: {msg}")))
        }
    }
}

fn payload_rows(j: &Job) -> Result<Vec<Vec<f32>>> {
    f32_rows(&j.payload, j.req.rows, j.req.cols)
}

/// The rows of a run, in order, and which of them were shared (not run now: [`Recent::answer`]).
type Rows = (Vec<Vec<f32>>, Vec<bool>);

/// Several requests of one batchable operation as one run: `Ok(None)` when all callers left.
fn run_union(shared: &Shared, ex: &mut Executor, group: &[Job]) -> Result<Option<Rows>> {
    let req = &group[0].req;
    let mut between = abandon_when_gone(group.iter().map(|j| Arc::clone(&j.conn)).collect());
    let op = req.op.expect("checked");
    let Executor { caches, recent, .. } = ex;
    guarded(|| {
        if recent::keeps(op) {
            let texts: Vec<String> = group.iter().flat_map(|j| j.req.texts.iter().cloned()).collect();
            if req.cfg.no_reuse {
                let rows = run_texts(op, model(shared, caches, req)?, &texts, limits(req), &mut between)?;
                let none = vec![false; rows.len()];
                return Ok((rows, none));
            }
            return recent
                .answer(recent::scope(req), &texts, |todo| run_texts(op, model(shared, caches, req)?, todo, limits(req), &mut between));
        }
        let m = model(shared, caches, req)?;
        let rows = match op {
            Op::Head | Op::Ranker => {
                let mut rows = Vec::new();
                for j in group {
                    rows.extend(payload_rows(j)?);
                }
                if op == Op::Head {
                    classify::head_logits(m, &rows, limits(req), &mut between)
                } else {
                    Ok(ranker::score(m, &rows, &mut between)?.into_iter().map(|s| vec![s]).collect())
                }
            }
            _ => Err(Error::Runtime(format!("{op:?} requests are not batched"))),
        }?;
        let none = vec![false; rows.len()];
        Ok((rows, none))
    })
}

/// A text model's rows for `texts` (embeddings or classification logits), in order.
fn run_texts(op: Op, m: &mut LoadedModel, texts: &[String], lim: BatchLimits, between: &mut dyn FnMut()) -> Result<Vec<Vec<f32>>> {
    if op == Op::Embed {
        embed::embed_texts(m, texts, lim, between)
    } else {
        classify::classify_texts(m, texts, lim, between)
    }
}

/// One request: the response to send (`Ok(None)` when its caller left).
fn run_one(shared: &Shared, ex: &mut Executor, j: &Job) -> Result<Option<(Response, Vec<u8>)>> {
    let req = &j.req;
    let op = req.op.expect("checked");
    if op == Op::Reload {
        ex.caches.clear();
        ex.recent.clear();
        // (the other lane forgets its models before its next run)
        ex.reloads = shared.reloads.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut m) = shared.models.lock() {
            m.clear();
        }
        return Ok(Some((Response { ok: true, ..Default::default() }, Vec::new())));
    }
    if op.batchable() {
        return Ok(run_union(shared, ex, std::slice::from_ref(j))?.map(|(rows, from_recent)| {
            let cols = rows.first().map(|r| r.len()).unwrap_or(0);
            let payload = f32_bytes(&rows);
            (Response { shared: from_recent.iter().filter(|s| **s).count(), ..Response::matrix(rows.len(), cols) }, payload)
        }));
    }
    let mut between = abandon_when_gone(vec![Arc::clone(&j.conn)]);
    guarded(|| {
        let m = model(shared, &mut ex.caches, req)?;
        match op {
            Op::Rerank => {
                let query = req.query.as_deref().unwrap_or_default();
                let scores = rerank::rerank(m, query, &req.texts, req.instruction.as_deref(), limits(req), &mut between)?;
                Ok((Response { ok: true, scores, ..Default::default() }, Vec::new()))
            }
            Op::Tokenize => {
                let text = req.texts.first().map(String::as_str).unwrap_or_default();
                let ids = m.tok()?.encode(text)?.ids;
                Ok((Response { ok: true, ids, ..Default::default() }, Vec::new()))
            }
            other => Err(Error::Runtime(format!("unexpected {other:?} request"))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(connections: usize) -> Shared {
        Shared {
            cfg: ServiceConfig { socket: "x".into(), threads: 1, restarts: 0, last_exit: None },
            started: SystemTime::now(),
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            connections: AtomicUsize::new(connections),
            counters: Counters::default(),
            models: Mutex::new(BTreeMap::new()),
            last_error: Mutex::new(None),
            last_interactive_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            reloads: AtomicU64::new(0),
        }
    }

    fn job(op: Op, model: &str, texts: usize, gone: bool, wait_us: u64) -> Job {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut req = Request::new(op);
        req.model = model.into();
        req.texts = (0..texts).map(|i| format!("t{i}")).collect();
        req.cfg.max_batch_texts = 32;
        req.batch_wait_us = wait_us;
        Job {
            conn: Arc::new(Conn { writer: Mutex::new(a), gone: AtomicBool::new(gone) }),
            req,
            payload: Vec::new(),
            arrived: Instant::now(),
            progress: None,
        }
    }

    #[test]
    fn requests_of_one_model_are_batched_and_others_wait_their_turn() {
        let s = shared(5);
        // (before the jobs are made: each job's batch window starts at its creation, so the lower
        // bound below holds on any machine, however loaded: it is an order of events, not a speed)
        let t0 = Instant::now();
        {
            let mut q = s.queue.lock().unwrap();
            q.push_back(job(Op::Embed, "a", 1, false, 50_000));
            q.push_back(job(Op::Embed, "b", 1, false, 50_000));
            q.push_back(job(Op::Embed, "a", 2, true, 50_000)); // its caller left
            q.push_back(job(Op::Embed, "a", 3, false, 50_000));
            q.push_back(job(Op::Tokenize, "a", 1, false, 50_000));
            q.push_back(job(Op::Embed, "a", 4, false, 50_000));
        }
        let g = next_group(&s, Lane::Models);
        // 3 live requests for "a" queued of 5 connections: it waited for more until the first
        // one's 50 ms window ended
        assert!(t0.elapsed() >= Duration::from_millis(50), "{:?}", t0.elapsed());
        assert_eq!(g.iter().map(|j| j.req.texts.len()).collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(s.counters.dropped.load(Ordering::Relaxed), 1);
        let rest: Vec<(Option<Op>, String)> = s.queue.lock().unwrap().iter().map(|j| (j.req.op, j.req.model.clone())).collect();
        assert_eq!(rest, vec![(Some(Op::Embed), "b".to_string()), (Some(Op::Tokenize), "a".to_string())]);
        // a lone caller (every connection has its request queued) does not wait. An order of
        // events, not a speed bound: its request "arrived" an hour from now, so its batch window
        // ends an hour from now; the group comes back before that only if it did not wait (the
        // 10-minute receive timeout only turns a regression into a failure instead of a hang)
        let s = Arc::new(shared(1));
        let mut lone = job(Op::Embed, "a", 1, false, 50_000);
        lone.arrived = Instant::now() + Duration::from_secs(3600);
        s.queue.lock().unwrap().push_back(lone);
        let (tx, rx) = std::sync::mpsc::channel();
        let s2 = Arc::clone(&s);
        std::thread::spawn(move || {
            let _ = tx.send(next_group(&s2, Lane::Models).len());
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(600)), Ok(1), "a lone caller waited for its batch window");
        // unbatchable requests run alone
        let s = shared(3);
        {
            let mut q = s.queue.lock().unwrap();
            q.push_back(job(Op::Rerank, "r", 2, false, 50_000));
            q.push_back(job(Op::Rerank, "r", 2, false, 50_000));
        }
        assert_eq!(next_group(&s, Lane::Models).len(), 1);
    }

    #[test]
    fn interactive_requests_go_before_bulk_work() {
        let s = shared(3);
        {
            let mut q = s.queue.lock().unwrap();
            q.push_back(job(Op::Embed, "a", 100, false, 0)); // more texts than one run: bulk
            let mut bg = job(Op::Embed, "a", 2, false, 0);
            bg.req.background = true; // a refresher's: bulk
            q.push_back(bg);
            q.push_back(job(Op::Embed, "a", 1, false, 0));
            q.push_back(job(Op::Embed, "a", 2, false, 0));
        }
        let g = next_group(&s, Lane::Models);
        assert_eq!(g.iter().map(|j| j.req.texts.len()).collect::<Vec<_>>(), vec![1, 2], "the two small requests, batched");
        let g = next_group(&s, Lane::Models);
        assert_eq!((g.len(), g[0].req.texts.len()), (1, 100), "then the bulk job, alone");
        assert!(g[0].bulk());
    }

    #[test]
    fn learned_rankers_have_a_lane_of_their_own() {
        let s = shared(3);
        {
            let mut q = s.queue.lock().unwrap();
            q.push_back(job(Op::Embed, "a", 100, false, 0));
            q.push_back(job(Op::Embed, "a", 1, false, 0));
            q.push_back(job(Op::Ranker, "k", 1, false, 0));
        }
        // the rankers' executor takes the ranker's request, which queued behind a text model's
        let g = next_group(&s, Lane::Rankers);
        assert_eq!(g.iter().map(|j| j.req.op).collect::<Vec<_>>(), vec![Some(Op::Ranker)]);
        // the models' executor never takes one
        s.queue.lock().unwrap().push_back(job(Op::Ranker, "k", 1, false, 0));
        let ops = |g: Vec<Job>| g.iter().map(|j| (j.req.op, j.req.texts.len())).collect::<Vec<_>>();
        assert_eq!(ops(next_group(&s, Lane::Models)), vec![(Some(Op::Embed), 1)]);
        assert_eq!(ops(next_group(&s, Lane::Models)), vec![(Some(Op::Embed), 100)]);
        let left: Vec<Option<Op>> = s.queue.lock().unwrap().iter().map(|j| j.req.op).collect();
        assert_eq!(left, vec![Some(Op::Ranker)]);
    }

    #[test]
    fn a_union_is_capped_at_a_few_model_runs() {
        let s = shared(100);
        {
            let mut q = s.queue.lock().unwrap();
            for _ in 0..10 {
                q.push_back(job(Op::Embed, "a", 30, false, 0));
            }
        }
        let g = next_group(&s, Lane::Models);
        // cap: 4 × max_batch_texts (32) = 128 texts → 4 requests of 30
        assert_eq!(g.len(), 4);
        assert_eq!(s.queue.lock().unwrap().len(), 6);
    }
}
