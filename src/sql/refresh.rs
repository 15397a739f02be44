//! The background refresh (under `shared_preload_libraries`): a launcher background worker finds
//! every database and starts refreshers in it; a refresher drains the staleness queue that the
//! triggers fill (`songmatch.stale_items`) one batch at a time through `songmatch.refresh_batch`
//! (sql/refresh.sql: the same per-item code as `CALL songmatch.backfill`), with its model work
//! going to the inference service.
//!
//! * The launcher connects to the `postgres` database and, every `songmatch.refresh_naptime`,
//!   reads `pg_database` (a shared catalog) and starts `songmatch.refresh_workers` refreshers per
//!   database that has none (a database's own `ALTER DATABASE … SET` of that setting counts).
//!   A refresher that ends within 2 s of its start (no extension there, or an old version) is
//!   tried again 10 s later, so a database created after the server started is served without
//!   any configuration.
//! * A refresher holds a session advisory lock per slot (a second one for the slot exits), checks
//!   the extension, then loops: while `songmatch.auto_refresh` is on, batches of
//!   `songmatch.refresh_batch_size` until nothing is left, then sleeps `songmatch.refresh_naptime`.
//!   Settings reload on SIGHUP; a change of the database's own settings (`ALTER DATABASE … SET`)
//!   ends the refresher, whose successor connects with them.
//! * A refresher leaves a database that another session is dropping, renaming or copying as a
//!   template (it sees the lock those commands take on the database; they wait up to 5 s for other
//!   sessions to leave), and the launcher does not start one there meanwhile.
//! * The launcher removes the feature stores of dropped databases (every 10 s).
//! * Refresher 0 also keeps the feature store current (src/sql/store.rs; while
//!   `songmatch.auto_refresh` and `songmatch.feature_store` are on): once the catalogue's
//!   generation has not moved for a nap and nothing is left to refresh, it rebuilds the store if
//!   the store is of another generation, spending at most a tenth of its time on it.
//! * Each batch is one transaction: a refresher killed mid-batch loses nothing (the marks and the
//!   artifacts roll back together) and the next one redoes the batch.

use super::guc;
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, DynamicBackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Advisory lock class of the refresher slots (objid: the slot).
const SLOT_LOCK_CLASS: i32 = 1_397_572_168;

/// Called from `_PG_init` under shared_preload_libraries (after the inference supervisor).
pub fn init() {
    BackgroundWorkerBuilder::new("songmatch refresh launcher")
        .set_type("songmatch refresh launcher")
        .set_library("songmatch")
        .set_function("songmatch_refresh_launcher")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

fn naptime() -> Duration {
    Duration::from_millis(guc::REFRESH_NAPTIME_MS.get().max(10) as u64)
}

/// The databases a refresher may serve: (oid, refreshers wanted, busy with a DROP / template copy / rename).
fn databases() -> Vec<(pg_sys::Oid, i32, bool)> {
    let default_workers = guc::REFRESH_WORKERS.get();
    BackgroundWorker::transaction(|| {
        Spi::connect(|c| {
            c.select(
                "select d.oid,
                        (select split_part(x, '=', 2)::int from pg_catalog.pg_db_role_setting s, unnest(s.setconfig) x
                          where s.setdatabase = d.oid and s.setrole = 0 and split_part(x, '=', 1) = 'songmatch.refresh_workers'),
                        exists (select 1 from pg_catalog.pg_locks l
                                 where l.locktype = 'object' and l.classid = 'pg_catalog.pg_database'::pg_catalog.regclass
                                   and l.objid = d.oid and l.mode in ('ShareLock', 'ExclusiveLock', 'AccessExclusiveLock'))
                   from pg_catalog.pg_database d
                  where d.datallowconn and not d.datistemplate
                  order by d.oid",
                None,
                &[],
            )
            .map(|rows| {
                rows.filter_map(|r| {
                    let oid = r.get::<pg_sys::Oid>(1).ok().flatten()?;
                    let n = r.get::<i32>(2).ok().flatten().unwrap_or(default_workers);
                    let busy = r.get::<bool>(3).ok().flatten().unwrap_or(false);
                    Some((oid, n.clamp(0, 16), busy))
                })
                .collect()
            })
            .unwrap_or_default()
        })
    })
}

/// The launcher: keeps refreshers running in every database.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn songmatch_refresh_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(Some("postgres"), None);
    let mut running: HashMap<(u32, i32), (DynamicBackgroundWorker, Instant)> = HashMap::new();
    let mut not_before: HashMap<u32, Instant> = HashMap::new();
    let mut warned_full = false;
    let mut next_sweep = Instant::now();
    while BackgroundWorker::wait_latch(Some(naptime())) {
        if BackgroundWorker::sighup_received() {
            super::ffi::reload_config_file();
        }
        // the feature stores of dropped databases, every 10 s
        if Instant::now() >= next_sweep {
            let all: Vec<u32> = BackgroundWorker::transaction(|| {
                Spi::connect(|c| {
                    c.select("select oid from pg_catalog.pg_database", None, &[])
                        .map(|rows| rows.filter_map(|r| r.get::<pg_sys::Oid>(1).ok().flatten().map(u32::from)).collect())
                        .unwrap_or_default()
                })
            });
            if !all.is_empty() {
                super::store::remove_orphans(&all);
            }
            next_sweep = Instant::now() + Duration::from_secs(10);
        }
        // reap the refreshers that ended; a short-lived one (no extension there) is retried later
        running.retain(|(db, _), (h, started)| match h.pid() {
            Ok(_) => true,
            Err(pgrx::bgworkers::BackgroundWorkerStatus::NotYetStarted) => true,
            Err(_) => {
                let wait = if started.elapsed() < Duration::from_secs(2) { Duration::from_secs(10) } else { naptime() };
                not_before.insert(*db, Instant::now() + wait);
                false
            }
        });
        let now = Instant::now();
        for (oid, wanted, busy) in databases() {
            let db = u32::from(oid);
            if busy || not_before.get(&db).is_some_and(|t| now < *t) {
                continue;
            }
            for slot in 0..wanted {
                if running.contains_key(&(db, slot)) {
                    continue;
                }
                let started = BackgroundWorkerBuilder::new(&format!("songmatch refresher {db}/{slot}"))
                    .set_type("songmatch refresher")
                    .set_library("songmatch")
                    .set_function("songmatch_refresher")
                    .enable_spi_access()
                    .set_argument(Some(pg_sys::Datum::from(db)))
                    .set_extra(&slot.to_string())
                    .set_notify_pid(super::ffi::my_pid())
                    .load_dynamic();
                match started {
                    Ok(h) => {
                        running.insert((db, slot), (h, Instant::now()));
                        warned_full = false;
                    }
                    Err(_) => {
                        if !warned_full {
                            pgrx::warning!(
                                "songmatch: cannot start a refresher (no free background worker slot: raise max_worker_processes)"
                            );
                            warned_full = true;
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// This database's own songmatch settings (ALTER DATABASE … SET), as one comparable string.
fn database_settings() -> String {
    Spi::get_one::<String>(
        "select coalesce(string_agg(x, ',' order by x), '')
           from pg_catalog.pg_db_role_setting s, unnest(s.setconfig) x
          where s.setdatabase = (select oid from pg_catalog.pg_database where datname = current_database())
            and s.setrole = 0 and x like 'songmatch.%'",
    )
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// Is another session dropping, renaming or copying this database?
fn database_busy() -> bool {
    Spi::get_one::<bool>(
        "select exists (select 1 from pg_catalog.pg_locks l
                         where l.locktype = 'object' and l.classid = 'pg_catalog.pg_database'::pg_catalog.regclass
                           and l.objid = (select oid from pg_catalog.pg_database where datname = current_database())
                           and l.mode in ('ShareLock', 'ExclusiveLock', 'AccessExclusiveLock')
                           and l.pid <> pg_catalog.pg_backend_pid())",
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// A refresher: one database, one slot.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn songmatch_refresher(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let db = pg_sys::Oid::from(arg.value() as u32);
    let slot: i32 = BackgroundWorker::get_extra().parse().unwrap_or(0);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    let ready = BackgroundWorker::transaction(|| {
        let has = Spi::get_one::<bool>("select pg_catalog.to_regprocedure('songmatch.refresh_batch(integer)') is not null")
            .ok()
            .flatten()
            .unwrap_or(false);
        has && Spi::get_one_with_args::<bool>("select pg_catalog.pg_try_advisory_lock($1, $2)", &[SLOT_LOCK_CLASS.into(), slot.into()])
            .ok()
            .flatten()
            .unwrap_or(false)
    });
    if !ready {
        return;
    }
    let settings = BackgroundWorker::transaction(database_settings);
    // the feature store (slot 0): rebuilt once the catalogue's generation has held for a nap with
    // nothing left to refresh, spending at most a tenth of the time on it
    let mut seen_generation: Option<i64> = None;
    let mut next_build = Instant::now();
    loop {
        let (busy, changed) = BackgroundWorker::transaction(|| (database_busy(), database_settings() != settings));
        if busy || changed {
            return;
        }
        if guc::AUTO_REFRESH.get() {
            let batch = guc::REFRESH_BATCH_SIZE.get().max(1);
            loop {
                let did = BackgroundWorker::transaction(|| {
                    Spi::get_one_with_args::<i32>("select items from songmatch.refresh_batch($1)", &[batch.into()])
                        .ok()
                        .flatten()
                        .unwrap_or(0)
                });
                if did == 0 || BackgroundWorker::sigterm_received() {
                    break;
                }
                pgrx::check_for_interrupts!();
                if BackgroundWorker::sighup_received() {
                    super::ffi::reload_config_file();
                }
            }
        }
        if slot == 0 && guc::AUTO_REFRESH.get() && !BackgroundWorker::sigterm_received() {
            let stale = BackgroundWorker::transaction(super::store::stale_generation);
            if stale.is_some() && stale == seen_generation && Instant::now() >= next_build {
                let t0 = Instant::now();
                let built =
                    BackgroundWorker::transaction(|| super::store::build(super::matching::schema_facts::SchemaFacts::read()?, false));
                if let Err(e) = built {
                    pgrx::warning!("songmatch: the feature store was not built: {e}");
                }
                next_build = Instant::now() + t0.elapsed() * 9;
            }
            seen_generation = stale;
        }
        if !BackgroundWorker::wait_latch(Some(naptime())) {
            return;
        }
        if BackgroundWorker::sighup_received() {
            super::ffi::reload_config_file();
        }
    }
}
