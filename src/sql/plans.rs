//! Prepared statements kept for the backend's lifetime (SPI_keepplan), keyed by their SQL text.
//!
//! The cached path of `match_playlist` runs a handful of small queries; parsing and planning
//! them on every call was half of its time. PostgreSQL's plan cache revalidates a kept plan when
//! a table it uses changes (ALTER, DROP, new index) and replans it for another role under
//! row-level security, so a kept plan never answers with stale semantics. Only fixed SQL texts
//! (`&'static str`) are kept, so the cache cannot grow without bound.
//!
//! Unsafe code: [`select_batches`] frees each batch's SPI tuple table itself (`SPI_tuptable`,
//! `SPI_freetuptable`; see the `SAFETY:` notes there).

use pgrx::datum::DatumWithOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiResult, SpiTupleTable};
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static PLANS: RefCell<HashMap<(&'static str, bool), OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

fn take(c: &SpiClient<'_>, sql: &'static str, args: &[DatumWithOid<'_>], mutating: bool) -> SpiResult<OwnedPreparedStatement> {
    if let Some(p) = PLANS.with(|m| m.borrow_mut().remove(&(sql, mutating))) {
        return Ok(p);
    }
    let oids: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
    let p = if mutating { c.prepare_mut(sql, &oids)? } else { c.prepare(sql, &oids)? };
    Ok(p.keep())
}

fn put_back(sql: &'static str, mutating: bool, p: OwnedPreparedStatement) {
    PLANS.with(|m| m.borrow_mut().insert((sql, mutating), p));
}

/// Run a read-only query through its kept plan; `f` reads the rows.
pub fn select<R>(sql: &'static str, args: &[DatumWithOid<'_>], f: impl FnOnce(SpiTupleTable<'_>) -> SpiResult<R>) -> SpiResult<R> {
    pgrx::spi::Spi::connect(|c| {
        let p = take(c, sql, args, false)?;
        // (taken out of the cache while it runs: a query that re-enters songmatch finds none)
        let r = c.select(&p, None, args).and_then(f);
        put_back(sql, false, p);
        r
    })
}

/// Run a read-only query through its kept plan as a cursor, `batch` rows at a time; `f` reads
/// each batch, whose rows are freed before the next is fetched. For reads of many rows (the
/// candidates of a large match): SPI otherwise holds every row of a result until the query's
/// connection ends (hundreds of MB at 100k candidates).
pub fn select_batches(
    sql: &'static str,
    args: &[DatumWithOid<'_>],
    batch: i64,
    mut f: impl FnMut(SpiTupleTable<'_>) -> SpiResult<()>,
) -> SpiResult<()> {
    pgrx::spi::Spi::connect(|c| {
        let p = take(c, sql, args, false)?;
        let r = (|| {
            let mut cursor = c.try_open_cursor(&p, args)?;
            loop {
                let t = cursor.fetch(batch)?;
                let n = t.len();
                // SAFETY: reading the global SPI sets for the table just fetched (no concurrency)
                let table = unsafe { pgrx::pg_sys::SPI_tuptable };
                f(t)?;
                if !table.is_null() {
                    // SAFETY: `table` is this connection's latest tuple table, which `f` has read
                    // and dropped (it converts rows to owned values): nothing refers to it now
                    unsafe { pgrx::pg_sys::SPI_freetuptable(table) };
                }
                if n < batch as usize {
                    return Ok(());
                }
            }
        })();
        put_back(sql, false, p);
        r
    })
}

/// Run a writing statement through its kept plan; `f` reads what it returns.
pub fn update<R>(sql: &'static str, args: &[DatumWithOid<'_>], f: impl FnOnce(SpiTupleTable<'_>) -> SpiResult<R>) -> SpiResult<R> {
    pgrx::spi::Spi::connect_mut(|c| {
        let p = take(c, sql, args, true)?;
        let r = c.update(&p, None, args).and_then(f);
        put_back(sql, true, p);
        r
    })
}

/// Run `f` with these settings (name, value; None: left as it is, for `f` to set) for the queries
/// it makes, then put back the values they had. Used to switch JIT off for songmatch's own queries (their cost estimates, thousands
/// of index probes or nearest-neighbour searches, cross `jit_above_cost`, and compiling them costs
/// ~150 ms while running them takes a few), for generic plans and for the index's search
/// parameters. PostgreSQL keeps a `set_config(..., true)` to the end of the transaction (a
/// function's SET clause restores only the settings it names), so without this the caller's later
/// statements would run with them. An error that PostgreSQL raises inside `f` aborts the
/// (sub)transaction, which restores them as well.
pub fn with_settings<R, E>(
    settings: &[(&'static str, Option<&str>)],
    err: impl Fn(pgrx::spi::SpiError) -> E,
    f: impl FnOnce() -> Result<R, E>,
) -> Result<R, E> {
    let mut before: Vec<(&'static str, Option<String>)> = Vec::with_capacity(settings.len());
    for (name, value) in settings {
        let prev = select("select pg_catalog.current_setting($1, true)", &[(*name).into()], |mut t| {
            Ok(t.next().map(|r| r.get::<String>(1)).transpose()?.flatten())
        })
        .map_err(&err)?;
        before.push((name, prev));
        if let Some(value) = value {
            select("select pg_catalog.set_config($1, $2, true)", &[(*name).into(), (*value).into()], |_| Ok(())).map_err(&err)?;
        }
    }
    let out = f();
    for (name, prev) in before.into_iter().rev() {
        let restored = match prev {
            Some(v) => select("select pg_catalog.set_config($1, $2, true)", &[name.into(), v.as_str().into()], |_| Ok(())),
            // (not defined before: a module's setting, defined when it loaded) its default
            None => pgrx::spi::Spi::run(&format!("set local {name} to default")),
        };
        restored.map_err(&err)?;
    }
    out
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn batches_return_every_row_once_in_order() {
        // 10 rows in batches of 3 (the last one short), of 4 (last short), of 5 (last full: one
        // more, empty fetch), and none
        for (batch, n) in [(3i64, 10i64), (4, 10), (5, 10), (3, 0)] {
            let mut got: Vec<i64> = Vec::new();
            let mut fetches = 0;
            super::select_batches("select g from pg_catalog.generate_series(1, $1) g order by g", &[n.into()], batch, |t| {
                fetches += 1;
                for r in t {
                    got.push(r.get::<i64>(1)?.unwrap());
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(got, (1..=n).collect::<Vec<_>>(), "batch {batch}");
            assert_eq!(fetches, n / batch + 1, "batch {batch}");
        }
    }

    #[pg_test]
    fn settings_are_put_back_after_success_and_error() {
        Spi::run("set local plan_cache_mode = auto").unwrap();
        let show = |name: &str| Spi::get_one::<String>(&format!("select pg_catalog.current_setting('{name}')")).unwrap().unwrap();
        let inside = super::with_settings(
            &[("plan_cache_mode", Some("force_generic_plan")), ("work_mem", None)],
            |e| e.to_string(),
            || {
                Spi::run("set local work_mem = '7MB'").map_err(|e| e.to_string())?;
                Ok::<_, String>((show("plan_cache_mode"), show("work_mem")))
            },
        )
        .unwrap();
        assert_eq!(inside, ("force_generic_plan".to_string(), "7MB".to_string()));
        let after_work_mem = show("work_mem");
        assert_eq!(show("plan_cache_mode"), "auto");
        assert_ne!(after_work_mem, "7MB");
        // an error of f's own (not PostgreSQL's): put back all the same
        let failed = super::with_settings(
            &[("plan_cache_mode", Some("force_custom_plan"))],
            |e| e.to_string(),
            || {
                assert_eq!(show("plan_cache_mode"), "force_custom_plan");
                Err::<(), _>("no".to_string())
            },
        );
        assert_eq!(failed, Err("no".to_string()));
        assert_eq!(show("plan_cache_mode"), "auto");
    }
}
