//! What this database's schema and deployment support, asked of the catalog once per call
//! ([`SchemaFacts::read`]) and passed along: columns and tables that an update adds (a database
//! whose extension is not updated yet lacks them) and Citus.

use crate::core::{Error, Result};
use crate::sql::spi_err;
use pgrx::prelude::*;

/// What the installed schema and the deployment support, read once at the start of a call (one
/// catalogue query) and passed along to whatever depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaFacts {
    /// Artifacts are keyed by their track's document (0.8.0: `track_content.document_hash`); a
    /// database whose extension is not updated yet keys them by the track's content hash, and the
    /// library keeps that key there until ALTER EXTENSION UPDATE re-keys them.
    pub document_keys: bool,
    /// `track_content` stores the tracks' stage-1 signals (0.3.0; before, they are derived from
    /// the rows).
    pub stored_signals: bool,
    /// The per-user tables carry their user (sql/owners.sql, 0.6.0); before, they are read and
    /// written without them.
    pub owner_columns: bool,
    /// The catalogue has a generation counter (0.5.0; before, there is no feature store).
    pub generation_counter: bool,
    /// This database has no Citus.
    pub single_node: bool,
}

thread_local! {
    /// The facts once every one of them holds: an update only ever adds what they ask about, and
    /// Citus arrives only through shared_preload_libraries (a restart, so new backends).
    static ALL_HOLD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl SchemaFacts {
    /// A schema and deployment of this release: every fact holds.
    pub const CURRENT: SchemaFacts =
        SchemaFacts { document_keys: true, stored_signals: true, owner_columns: true, generation_counter: true, single_node: true };

    /// The facts of this database, for one call (a backend that found them all true does not
    /// ask again).
    pub fn read() -> Result<SchemaFacts> {
        if ALL_HOLD.with(|c| c.get()) {
            return Ok(SchemaFacts::CURRENT);
        }
        let facts = crate::sql::plans::select(
            "select exists (select 1 from pg_catalog.pg_attribute
                             where attrelid = 'songmatch.track_content'::pg_catalog.regclass and attname = 'document_hash' and not attisdropped),
                    exists (select 1 from pg_catalog.pg_attribute
                             where attrelid = 'songmatch.track_content'::pg_catalog.regclass and attname = 'signals' and not attisdropped),
                    exists (select 1 from pg_catalog.pg_attribute
                             where attrelid = pg_catalog.to_regclass('songmatch.playlist_profiles') and attname = 'owner_id'
                               and not attisdropped),
                    pg_catalog.to_regclass('songmatch.catalogue_generation') is not null,
                    pg_catalog.to_regclass('pg_catalog.pg_dist_partition') is null",
            &[],
            |mut t| {
                let Some(r) = t.next() else { return Ok(None) };
                let at = |i: usize| -> std::result::Result<bool, pgrx::spi::SpiError> { Ok(r.get::<bool>(i)?.unwrap_or(false)) };
                Ok(Some(SchemaFacts {
                    document_keys: at(1)?,
                    stored_signals: at(2)?,
                    owner_columns: at(3)?,
                    generation_counter: at(4)?,
                    single_node: at(5)?,
                }))
            },
        )
        .map_err(spi_err("cannot read songmatch's schema"))?
        .ok_or_else(|| Error::Runtime("cannot read songmatch's schema: no row".into()))?;
        if facts == SchemaFacts::CURRENT {
            ALL_HOLD.with(|c| c.set(true));
        }
        Ok(facts)
    }
}

/// On Citus, after `songmatch.distribute()`, a call that does not name its user cannot be routed
/// to the user's worker, and from the coordinator it would read the user's rows as the caller and
/// store results as songmatch_owner, which Citus refuses in one transaction: 0A000, naming the call
/// to make instead.
pub(super) fn refuse_on_cluster(facts: SchemaFacts, call: &str, instead: &str) -> Result<()> {
    if facts.single_node {
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
