//! songmatch: match songs to playlists inside PostgreSQL.
//!
//! Three layers:
//! * [`core`]: pure Rust (hashing, canonical texts, models, scoring). No pgrx in there.
//! * [`sql`]: the thin SQL surface: `#[pg_extern]` functions that convert types, call the
//!   core and map its errors to SQLSTATEs; settings (GUCs).
//! * `sql/*.sql`: schema, procedures and upgrade scripts, included into the extension script.

// every unsafe block says why it is sound (clippy, in make lint)
#![warn(clippy::undocumented_unsafe_blocks)]

use pgrx::prelude::*;

/// The pure core, a workspace crate without pgrx (`crates/songmatch-core`; `cargo test -p songmatch-core`).
pub use songmatch_core as core;
pub mod sql;

::pgrx::pg_module_magic!();

pgrx::extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
pgrx::extension_sql_file!("../sql/security.sql", name = "security");
pgrx::extension_sql_file!("../sql/backfill.sql", name = "backfill", requires = ["schema"]);
pgrx::extension_sql_file!("../sql/eval.sql", name = "eval", requires = ["schema"]);
pgrx::extension_sql_file!("../sql/refresh.sql", name = "refresh", requires = ["backfill"]);
pgrx::extension_sql_file!("../sql/cache.sql", name = "cache", requires = ["schema"]);
pgrx::extension_sql_file!("../sql/owners.sql", name = "owners", requires = ["schema", "cache"]);
pgrx::extension_sql_file!("../sql/shards.sql", name = "shards", requires = ["schema"]);
pgrx::extension_sql_file!(
    "../sql/matching.sql",
    name = "matching",
    requires = [
        "schema",
        "owners",
        sql::matching::api::match_context,
        sql::matching::api::match_user_context,
        sql::matching::api::recommend_context,
        sql::matching::api::match_songs_contexts
    ]
);
pgrx::extension_sql_file!(
    "../sql/store.sql",
    name = "store",
    requires = [sql::store::build_feature_store, sql::store::feature_store_status]
);
pgrx::extension_sql_file!("../sql/distribute.sql", name = "distribute", requires = ["matching", "owners", "shards"]);
pgrx::extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

/// Called once when the library is loaded (in the postmaster under shared_preload_libraries,
/// or in a backend). Settings are registered, and under shared_preload_libraries the inference
/// supervisor (a background worker); no ONNX Runtime and no threads here.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    sql::guc::init();
    sql::service::init();
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn versions_are_exposed() {
        let v = Spi::get_one::<pgrx::JsonB>("select songmatch.versions()").unwrap().unwrap();
        assert_eq!(v.0["extractor_version"], "1");
        assert_eq!(v.0["extension"], env!("CARGO_PKG_VERSION"));
        // the major the library was built for is the running server's
        let server_major = Spi::get_one::<i32>("select current_setting('server_version_num')::int / 10000").unwrap().unwrap();
        assert_eq!(v.0["postgresql"], server_major.to_string());
    }
}

/// This module is required by `cargo pgrx test` invocations.
/// It must be visible at the root of your extension crate.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    /// The test server preloads songmatch, so the tests run with the inference service
    /// (`songmatch.inference = auto`); the reference tests also run in backend mode.
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'songmatch'"]
    }
}
