//! Single flight for the shared, derived rows songmatch writes on a caller's behalf (artifacts,
//! playlist profiles, match contexts), and why a concurrent workload cannot deadlock on them.
//!
//! The rule: songmatch's code writes such a row only after `pg_try_advisory_xact_lock` on its key
//! ([`FLIGHT_CLASS`], `core::hash::lock_key` of what the row is), a lock that nobody ever waits
//! for. The session that gets it is the row's writer (its "leader") until its transaction ends;
//! another session that needs the row meanwhile does not write it:
//! * an embedding or emotions it needs for its own call is computed for that call and not stored
//!   (through the inference service that costs no second inference: the service answers a text it
//!   ran recently from its result, `core::service::recent`); a refresher or backfill, which needs
//!   no value, leaves the item marked for a later round (status `deferred`);
//! * a playlist profile is computed for the call and not stored (no inference: its query
//!   embedding is reused while the playlist's text is unchanged), and reported `deferred`, so that
//!   a refresher or backfill keeps its stale mark: the writer's snapshot may predate the change;
//! * a match context is awaited ([`await_context`]): the leader's commit makes it visible and the
//!   call is then a cache hit (`single_flight_waits`), so concurrent misses of one context compute
//!   it once. Only when the leader's transaction outlasts `songmatch.single_flight_wait_ms` does the
//!   call compute it too and store it with the blocking insert, i.e. wait for that transaction.
//!
//! So no songmatch statement waits on a row that another session's songmatch code locked, and no
//! row lock on those tables is held by anyone who waits for it: the waits left are the
//! application's own (catalogue rows, the stale marks and counters its triggers write, each
//! statement in one sorted order), which is what a waits-for cycle would need, and the refresher
//! and backfills take none of those locks while they run models (sql/refresh.sql).

use super::matching::Counters;
use crate::core::hash::lock_key;
use crate::core::{Error, Result};
use std::time::{Duration, Instant};

/// Advisory lock class of single flight (objid: [`lock_key`] of the row's name).
pub const FLIGHT_CLASS: i32 = 1_397_572_170;

/// Whether this transaction leads each of these rows (`names[i]` → `[i]`): tries each lock
/// once, never waits. A lock this transaction already holds is granted again.
pub fn try_lead(names: &[String]) -> Result<Vec<bool>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<i32> = names.iter().map(|n| lock_key(n)).collect();
    super::plans::select(
        "select array(select pg_catalog.pg_try_advisory_xact_lock($1, u.k) from unnest($2::int4[]) with ordinality u(k, n) order by u.n)",
        &[FLIGHT_CLASS.into(), keys.into()],
        |mut t| Ok(t.next().map(|r| r.get::<Vec<bool>>(1)).transpose()?.flatten().unwrap_or_default()),
    )
    .map_err(|e| Error::Runtime(format!("cannot take a single-flight lock: {e}")))
}

/// [`try_lead`] of one row.
pub fn try_lead_one(name: &str) -> Result<bool> {
    Ok(try_lead(&[name.to_string()])?.first().copied().unwrap_or(false))
}

/// The name of a track artifact's row (its lock).
pub fn artifact_name(kind: &str, track_id: i64, model: &(String, String)) -> String {
    format!("{kind}/{track_id}/{}/{}", model.0, model.1)
}

/// The name of a playlist profile's row.
pub fn profile_name(playlist_id: i64, bundle: &str) -> String {
    format!("profile/{playlist_id}/{bundle}")
}

/// The name of a match context's row.
pub fn context_name(owner: &str, context_hash: &str) -> String {
    format!("context/{owner}/{context_hash}")
}

/// What awaiting another session's write of a context came to.
pub enum Awaited<T> {
    /// It committed: the value `find` returned.
    Found(T),
    /// Its writer is gone without it (rolled back, or wrote another): this call leads now.
    Lead,
    /// Its writer's transaction outlasted the wait: this call computes it without leading.
    TimedOut,
}

/// Wait for the context named `name` that another session is computing: `find` (a read of the
/// table, which sees what has committed) every few milliseconds, interrupts checked, until it
/// finds it or the lock can be taken, for at most `songmatch.single_flight_wait_ms`.
pub fn await_context<T>(name: &str, counters: &mut Counters, mut find: impl FnMut() -> Result<Option<T>>) -> Result<Awaited<T>> {
    let limit = Duration::from_millis(super::guc::SINGLE_FLIGHT_WAIT_MS.get().max(0) as u64);
    let started = Instant::now();
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(v) = find()? {
            counters.add("single_flight_waits", 1.0);
            return Ok(Awaited::Found(v));
        }
        if try_lead_one(name)? {
            // (it may have committed between the read and the lock)
            return Ok(match find()? {
                Some(v) => {
                    counters.add("single_flight_waits", 1.0);
                    Awaited::Found(v)
                }
                None => Awaited::Lead,
            });
        }
        if started.elapsed() >= limit {
            counters.add("single_flight_timeouts", 1.0);
            return Ok(Awaited::TimedOut);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(10));
        pgrx::check_for_interrupts!();
    }
}
