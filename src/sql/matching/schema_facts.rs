//! What this database's schema and deployment support, asked of the catalog: columns that an
//! update adds (a database whose extension is not updated yet lacks them) and Citus. A fact that
//! only an update or `CREATE EXTENSION citus` can change is kept for the backend once it holds.

use crate::core::{Error, Result};
use crate::sql::spi_err;
use pgrx::prelude::*;

/// A fact about this database's schema that, once true, stays true for the backend (an update
/// only ever adds what it asks about): answered by `sql` (one boolean) until it is true, then
/// from `seen`.
pub(in crate::sql) fn lasting_fact(
    seen: &'static std::thread::LocalKey<std::cell::Cell<bool>>,
    sql: &'static str,
    what: &'static str,
) -> Result<bool> {
    if seen.with(|c| c.get()) {
        return Ok(true);
    }
    let yes = crate::sql::plans::select(sql, &[], |mut t| Ok(t.next().map(|r| r.get::<bool>(1)).transpose()?.flatten().unwrap_or(false)))
        .map_err(spi_err(what))?;
    if yes {
        seen.with(|c| c.set(true));
    }
    Ok(yes)
}

thread_local! {
    static TRACK_SIGNALS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static DOCUMENT_KEYS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether artifacts are keyed by their track's document (0.8.0: `track_content.document_hash`);
/// a database whose extension is not updated yet keys them by the track's content hash, and the
/// library keeps that key there until ALTER EXTENSION UPDATE re-keys them.
pub(in crate::sql) fn document_keys() -> Result<bool> {
    lasting_fact(
        &DOCUMENT_KEYS,
        "select exists (select 1 from pg_catalog.pg_attribute
                         where attrelid = 'songmatch.track_content'::pg_catalog.regclass and attname = 'document_hash' and not attisdropped)",
        "cannot read the catalog",
    )
}

/// Whether `track_content` stores the tracks' stage-1 signals (0.3.0; an earlier schema, not yet
/// updated, has none: they are derived from the rows).
pub(super) fn stored_signals() -> Result<bool> {
    lasting_fact(
        &TRACK_SIGNALS,
        "select exists (select 1 from pg_catalog.pg_attribute
                         where attrelid = 'songmatch.track_content'::pg_catalog.regclass and attname = 'signals' and not attisdropped)",
        "cannot read the catalog",
    )
}

thread_local! {
    static OWNER_COLUMNS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the per-user tables carry their user (sql/owners.sql, 0.6.0). A database not yet
/// updated has not; it is read and written without them. (Once seen, the answer is kept for the
/// backend: an update only ever adds the columns.)
pub fn owner_columns() -> Result<bool> {
    lasting_fact(
        &OWNER_COLUMNS,
        "select exists (select 1 from pg_catalog.pg_attribute
                         where attrelid = pg_catalog.to_regclass('songmatch.playlist_profiles') and attname = 'owner_id'
                           and not attisdropped)",
        "cannot read songmatch's schema",
    )
}

thread_local! {
    static SINGLE_NODE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this database has no Citus (the answer is kept for the backend once it is yes).
pub fn single_node() -> Result<bool> {
    lasting_fact(&SINGLE_NODE, "select pg_catalog.to_regclass('pg_catalog.pg_dist_partition') is null", "cannot read songmatch's schema")
}

/// On Citus, after `songmatch.distribute()`, a call that does not name its user cannot be routed
/// to the user's worker, and from the coordinator it would read the user's rows as the caller and
/// store results as songmatch_owner, which Citus refuses in one transaction: 0A000, naming the call
/// to make instead. (A backend that found no Citus does not look again.)
pub(super) fn refuse_on_cluster(call: &str, instead: &str) -> Result<()> {
    if single_node()? {
        return Ok(());
    }
    let distributed = Spi::get_one::<bool>(
        "select exists (select 1 from pg_catalog.pg_dist_partition where logicalrelid = 'songmatch.playlists'::pg_catalog.regclass)",
    )
    .map_err(spi_err("cannot read Citus's metadata"))?
    .unwrap_or(false);
    if distributed {
        return Err(Error::Unsupported(format!(
            "{call} is not routed on a distributed deployment: call {instead}, which runs on the worker that holds the user"
        )));
    }
    Ok(())
}
