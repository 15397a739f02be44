//! The feature store of a database (core/store.rs): what a match reads of each catalogue track,
//! packed in one file per database (`<data directory>/songmatch_store/<database oid>.smstore`)
//! at one value of the catalogue's generation counter, mapped read-only by every backend that
//! matches, so that its pages are in memory once for all connections.
//!
//! * `songmatch.build_feature_store()` (management roles; the background refresher calls it once
//!   the catalogue's changes have settled) writes a new file beside the old one and renames it
//!   over it: a backend that maps the old file keeps reading it until its next call, and never
//!   sees a file being written. The file is a cache: deleting it (or `songmatch.feature_store =
//!   off`) only makes matches read the tables again. It must not be changed in place.
//! * A match uses the store only when the catalogue's counter, read by the call, is the one the
//!   store was taken at (and the store's model is the bundle's, for the vectors); a candidate the
//!   store lacks is read from the tables as before. So the answers are the same with or without it.
//! * Not on Citus (the catalogue's rows live on the workers).
//!
//! Unsafe code (each block with its `SAFETY:` note): the file's read-only mapping (`mmap`,
//! `munmap`, the slices read from it, and [`Mapped`]'s `Send`, `Sync` and `FloatSource` impls:
//! stage 1's worker threads read it in place), and reads of backend state (`DataDir`,
//! `MyDatabaseId`, `MyProcPid`, `TransactionIdIsCurrentTransactionId`).

use super::guc;
use super::matching::schema_facts::SchemaFacts;
use super::plans;
use super::privilege::as_owner;
use super::spi_err;
use super::vector::{HalfVec, Vector};
use crate::core::scoring::FloatSource;
use crate::core::store::{Store, StoreHeader, StoreWriter};
use crate::core::{Error, Result};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;
use std::cell::RefCell;
use std::ffi::CStr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Advisory lock (class, key) under which one builder writes a database's store at a time.
const BUILD_LOCK: (i32, i32) = (1_397_572_169, 1);

fn store_dir() -> PathBuf {
    // SAFETY: DataDir is set once at startup, before any backend runs songmatch's code
    let data = unsafe { CStr::from_ptr(pg_sys::DataDir) }.to_string_lossy().into_owned();
    PathBuf::from(data).join("songmatch_store")
}

fn store_path() -> PathBuf {
    // SAFETY: MyDatabaseId is set when the backend connects, before any SQL runs
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    store_dir().join(format!("{db}.smstore"))
}

/// A store file mapped read-only (unmapped on drop).
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
    ino: (u64, u64),
    pub header: StoreHeader,
    /// The embeddings section as f32s in place: (byte offset, count); (0, 0) where they cannot be.
    floats: (usize, usize),
}

// SAFETY: the mapping is read-only and lives until the last reference drops it; reading it from
// the worker pool's threads (stage 1 over shared vectors) involves nothing of PostgreSQL
unsafe impl Send for Mapped {}
// SAFETY: as above: only shared reads of immutable memory
unsafe impl Sync for Mapped {}

// SAFETY: the mapping is read-only, unmapped only on drop, and its file is never changed in place
// (a new store is a new file renamed over the path)
unsafe impl FloatSource for Mapped {
    fn floats(&self) -> &[f32] {
        let (at, n) = self.floats;
        if n == 0 {
            return &[];
        }
        // SAFETY: checked in `map` (within the mapping, aligned, the embeddings section)
        unsafe { std::slice::from_raw_parts((self.ptr as *const u8).add(at) as *const f32, n) }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for the life of self; the file is never
        // changed in place (a new store is a new file renamed over the path)
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: ptr/len are the mapping made in `map`, unmapped only here
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

impl Mapped {
    pub fn store(&self) -> Option<Store<'_>> {
        Store::open(self.bytes()).ok()
    }
}

/// Maps the database's store file, if there is a complete one.
fn map() -> Option<Mapped> {
    use std::os::unix::io::AsRawFd;
    let f = std::fs::File::open(store_path()).ok()?;
    let meta = f.metadata().ok()?;
    let len = usize::try_from(meta.len()).ok()?;
    if len < crate::core::store::HEADER_SIZE as usize {
        return None;
    }
    // SAFETY: a read-only shared mapping of a regular file of `len` bytes (never changed in
    // place: a new store is renamed over it); its bytes are checked below
    let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, f.as_raw_fd(), 0) };
    if ptr == libc::MAP_FAILED {
        return None;
    }
    // SAFETY: the mapping just made is `len` readable bytes
    let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    match Store::open(bytes) {
        Ok(store) => {
            let floats = store.floats().filter(|f| !f.is_empty()).map(|f| (f.as_ptr() as usize - ptr as usize, f.len())).unwrap_or((0, 0));
            Some(Mapped { ptr, len, ino: (meta.dev(), meta.ino()), header: store.header, floats })
        }
        Err(_) => {
            // SAFETY: the mapping just made, not referred to anywhere
            unsafe { libc::munmap(ptr, len) };
            None
        }
    }
}

thread_local! {
    static MAPPED: RefCell<Option<Arc<Mapped>>> = const { RefCell::new(None) };
}

/// The catalogue's (epoch, generation) as the caller's statement sees them; None also when this
/// transaction has changed the catalogue itself (its counter then counts changes no other
/// session sees, and that may yet roll back: no store is of it, and none is built from it).
fn generation(facts: SchemaFacts) -> Result<Option<(String, i64)>> {
    // (a schema before 0.5.0, not yet updated, has no counter: no store)
    if !facts.generation_counter {
        return Ok(None);
    }
    as_owner(|| {
        plans::select(
            "select min(epoch::text), sum(gen)::bigint, array_agg(xmin::text::bigint) from songmatch.catalogue_generation",
            &[],
            |mut t| {
                let Some(r) = t.next() else { return Ok(None) };
                let own = r.get::<Vec<i64>>(3)?.unwrap_or_default().into_iter().any(|x| {
                    // SAFETY: a plain lookup in this backend's transaction state
                    unsafe { pg_sys::TransactionIdIsCurrentTransactionId(pg_sys::TransactionId::from(x as u32)) }
                });
                Ok(if own { None } else { r.get::<String>(1)?.zip(r.get::<i64>(2)?) })
            },
        )
        .map_err(spi_err("cannot read the catalogue's generation counter"))
    })
}

/// The store, when it is on and current for this call (the catalogue's counter is the one it
/// was taken at); None otherwise (on Citus, off, none built, or the catalogue changed since).
pub fn current(facts: SchemaFacts) -> Result<Option<Arc<Mapped>>> {
    if !guc::FEATURE_STORE.get() || !facts.single_node {
        return Ok(None);
    }
    let Some((epoch, gen)) = generation(facts)? else { return Ok(None) };
    let fits = |m: &Mapped| m.header.taken_at(&epoch, gen);
    if let Some(m) = MAPPED.with(|c| c.borrow().clone()).filter(|m| fits(m)) {
        return Ok(Some(m));
    }
    // a newer file, if any (the same file stays mapped until one replaces it)
    let same_file = MAPPED.with(|c| {
        let cur = c.borrow();
        let m = cur.as_ref()?;
        let meta = std::fs::metadata(store_path()).ok()?;
        Some((meta.dev(), meta.ino()) == m.ino)
    });
    if same_file == Some(true) {
        return Ok(None);
    }
    let m = map().map(Arc::new);
    MAPPED.with(|c| *c.borrow_mut() = m.clone());
    Ok(m.filter(|m| fits(m)))
}

/// The store as [`current`] last mapped it, current or not (None: off, on Citus, or none built).
/// Its entry of a track holds what the track's content was when the store was built, with that
/// content's embedding under the store's model: an entry whose content hash is the track's
/// current one is current, whatever else changed since (a vector is the same for the same content
/// and model). A match whose catalogue changed since the build reads those from it.
pub fn last_built(facts: SchemaFacts) -> Option<Arc<Mapped>> {
    if !guc::FEATURE_STORE.get() || !facts.single_node {
        return None;
    }
    MAPPED.with(|c| c.borrow().clone())
}

/// For the background refresher: the catalogue's generation when the store is on (in the
/// refresher's settings), Citus absent, and the store is not of that generation or not of the
/// active bundle's model (None: nothing to build, or it cannot tell).
pub fn stale_generation() -> Option<i64> {
    let facts = SchemaFacts::read().ok()?;
    if !guc::FEATURE_STORE.get() || !facts.single_node {
        return None;
    }
    let (epoch, gen) = generation(facts).ok()??;
    let model = super::bundle::active_bundle().ok()?.embedding;
    match map() {
        Some(m) if m.header.taken_at(&epoch, gen) && m.header.of_model(&model) => None,
        _ => Some(gen),
    }
}

/// Removes the store files of databases that no longer exist (`DROP DATABASE` leaves them):
/// `databases`, the oid of every database. (For the launcher; a file it removes by a race with a
/// database just created is only a cache, which that database's refresher builds again.)
pub fn remove_orphans(databases: &[u32]) {
    let Ok(dir) = std::fs::read_dir(store_dir()) else { return };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some((oid, rest)) = name.to_str().and_then(|n| n.split_once('.')) else { continue };
        let Ok(oid) = oid.parse::<u32>() else { continue };
        if (rest == "smstore" || rest.starts_with("tmp")) && !databases.contains(&oid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes a half-written file unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Builds the database's store for the active bundle's embedding model at the catalogue's
/// current generation (unless the store is already of it and `force` is false). Reads the
/// catalogue in one statement (one snapshot), as songmatch_owner.
pub fn build(facts: SchemaFacts, force: bool) -> Result<serde_json::Value> {
    let t0 = Instant::now();
    let bundle = super::bundle::active_bundle()?;
    let (model, version) = bundle.embedding.clone();
    // one builder at a time per database (the lock ends with the transaction)
    Spi::run_with_args("select pg_catalog.pg_advisory_xact_lock($1, $2)", &[BUILD_LOCK.0.into(), BUILD_LOCK.1.into()])
        .map_err(spi_err("cannot lock the feature store"))?;
    let path = store_path();
    let Some((epoch, gen)) = generation(facts)? else {
        return Err(Error::Unsupported(
            "the feature store cannot be built in a transaction that has changed the catalogue (build it after COMMIT)".into(),
        ));
    };
    if let Some(m) = map().filter(|m| !force && m.header.taken_at(&epoch, gen) && m.header.of_model(&bundle.embedding)) {
        return Ok(summary(&m.header, false, t0));
    }
    std::fs::create_dir_all(store_dir()).map_err(|e| Error::Runtime(format!("cannot create {}: {e}", store_dir().display())))?;
    remove_half_written(&path);
    // SAFETY: MyProcPid is set at process start
    let tmp = path.with_extension(format!("tmp{}", unsafe { pg_sys::MyProcPid }));
    let mut guard = TempFile(Some(tmp.clone()));
    let file = std::fs::File::create(&tmp).map_err(|e| Error::Runtime(format!("cannot create {}: {e}", tmp.display())))?;
    let header = as_owner(|| {
        // the vectors' length (one model version has one)
        let dims = embedding_dims(&model, &version)?;
        write_store(file, dims, (&model, &version), (epoch, gen), facts)
    })?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::Runtime(format!("cannot rename {} to {}: {e}", tmp.display(), path.display())))?;
    guard.0 = None;
    Ok(summary(&header, true, t0))
}

/// Removes the files a builder of this database left half-written next to `path` (it was killed):
/// none is being written now.
fn remove_half_written(path: &std::path::Path) {
    let prefix = format!("{}.tmp", path.file_stem().and_then(|s| s.to_str()).unwrap_or_default());
    for entry in std::fs::read_dir(store_dir()).into_iter().flatten().flatten() {
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The length of the model version's vectors (one model version has one; 0: it has none).
fn embedding_dims(model: &str, version: &str) -> Result<usize> {
    plans::select(
        "select e.embedding, e.embedding_half from songmatch.track_embeddings e
              where e.embedding_kind = 'document' and e.model_name = $1 and e.model_version = $2 limit 1",
        &[model.into(), version.into()],
        |mut t| {
            Ok(match t.next() {
                Some(r) => match r.get::<Vector>(1)? {
                    Some(v) => v.0.len(),
                    None => r.get::<HalfVec>(2)?.map(|h| h.0.len()).unwrap_or(0),
                },
                None => 0,
            })
        },
    )
    .map_err(spi_err("cannot read the embeddings"))
}

/// Writes the store to `file`: every track's content hash and signals with its embedding under
/// the model version, read in one statement, stamped with the generation the statement saw
/// (`epoch`, `gen`: the one read before, for an empty catalogue). Returns its header.
fn write_store(
    file: std::fs::File,
    dims: usize,
    (model, version): (&str, &str),
    (epoch, gen): (String, i64),
    facts: SchemaFacts,
) -> Result<StoreHeader> {
    let mut w = StoreWriter::new(std::io::BufWriter::with_capacity(1 << 20, file), dims)?;
    let mut stamp: Option<(String, i64)> = None;
    let mut failed: Option<Error> = None;
    let mut last: Option<i64> = None;
    // (an embedding of the track's current document; of its content before 0.8.0)
    plans::select_batches(
        if facts.document_keys {
            "select c.track_id, c.content_hash, c.signals, e.embedding, e.embedding_half, g.epoch, g.gen
                   from songmatch.track_content c
                  cross join (select min(epoch::text) as epoch, sum(gen)::bigint as gen from songmatch.catalogue_generation) g
                   left join songmatch.track_embeddings e
                     on e.track_id = c.track_id and e.embedding_kind = 'document' and e.model_name = $1
                    and e.model_version = $2 and e.content_hash = c.document_hash
                  order by c.track_id"
        } else {
            "select c.track_id, c.content_hash, c.signals, e.embedding, e.embedding_half, g.epoch, g.gen
                   from songmatch.track_content c
                  cross join (select min(epoch::text) as epoch, sum(gen)::bigint as gen from songmatch.catalogue_generation) g
                   left join songmatch.track_embeddings e
                     on e.track_id = c.track_id and e.embedding_kind = 'document' and e.model_name = $1
                    and e.model_version = $2 and e.content_hash = c.content_hash
                  order by c.track_id"
        },
        &[model.into(), version.into()],
        4096,
        |t| {
            for r in t {
                if stamp.is_none() {
                    stamp = r.get::<String>(6)?.zip(r.get::<i64>(7)?);
                }
                let (Some(id), Some(hash)) = (r.get::<i64>(1)?, r.get::<&str>(2)?) else { continue };
                // (a second embedding row of a track, which the keys do not allow, is left out)
                if last == Some(id) {
                    continue;
                }
                last = Some(id);
                let signals = r.get::<&[u8]>(3)?;
                let embedding = match r.get::<Vector>(4)? {
                    Some(v) => Some(v.0),
                    None => r.get::<HalfVec>(5)?.map(|h| h.0.iter().map(|x| x.to_f32()).collect()),
                };
                if failed.is_none() {
                    failed = w.push(id, hash, signals, embedding.as_deref()).err();
                }
            }
            pgrx::check_for_interrupts!();
            Ok(())
        },
    )
    .map_err(spi_err("cannot read the catalogue"))?;
    if let Some(e) = failed {
        return Err(e);
    }
    // (an empty catalogue: the counter as read above)
    let (epoch, gen) = stamp.unwrap_or((epoch, gen));
    let (out, header) = w.finish(&epoch, gen, model, version)?;
    out.into_inner().map_err(|e| Error::Runtime(format!("cannot write the feature store: {e}")))?;
    Ok(header)
}

fn summary(h: &StoreHeader, built: bool, t0: Instant) -> serde_json::Value {
    json!({
        "built": built,
        "path": store_path().display().to_string(),
        "generation": h.generation,
        "model": h.model,
        "model_version": h.version,
        "dimensions": h.dims,
        "tracks": h.tracks,
        "with_embedding": h.with_embedding,
        "megabytes": h.megabytes(),
        "seconds": (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    })
}

/// `songmatch.build_feature_store(force => false)`: writes this database's feature store for the
/// active bundle at the catalogue's current generation, unless it is already of it (`force`
/// rebuilds it anyway). Returns what it holds: `built`, `path`, `generation`, `tracks`,
/// `with_embedding`, `megabytes`, `seconds`. Management roles; the background refresher calls it.
#[pg_extern(volatile)]
pub fn build_feature_store(force: default!(bool, false)) -> JsonB {
    use super::OrReport;
    let facts = SchemaFacts::read().or_report();
    if !facts.single_node {
        super::raise(Error::Unsupported("the feature store is not used on Citus (the catalogue lives on the workers)".into()));
    }
    JsonB(build(facts, force).or_report())
}

/// `songmatch.feature_store_status()`: whether this database's feature store is on and current
/// (`current`: of the catalogue's generation and of the active bundle's model), and what it
/// holds (`generation`, `catalogue_generation`, `tracks`, `with_embedding`, `megabytes`; `present`
/// false when there is no complete store). Management roles.
#[pg_extern(volatile)]
pub fn feature_store_status() -> JsonB {
    use super::OrReport;
    let facts = SchemaFacts::read().or_report();
    let single = facts.single_node;
    let gen = if single { generation(facts).or_report() } else { None };
    let bundle = super::bundle::active_bundle().or_report();
    let mut out = json!({
        "on": guc::FEATURE_STORE.get() && single,
        "path": store_path().display().to_string(),
        "present": false,
        "current": false,
        "catalogue_generation": gen.as_ref().map(|g| g.1),
    });
    if let Some(m) = map() {
        let h = &m.header;
        let current = gen.is_some_and(|(e, g)| h.taken_at(&e, g)) && h.of_model(&bundle.embedding);
        out["present"] = json!(true);
        out["current"] = json!(current && single);
        out["generation"] = json!(h.generation);
        out["model"] = json!(h.model);
        out["model_version"] = json!(h.version);
        out["tracks"] = json!(h.tracks);
        out["with_embedding"] = json!(h.with_embedding);
        out["megabytes"] = json!(h.megabytes());
    }
    JsonB(out)
}
