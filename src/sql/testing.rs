//! Helpers shared by the `#[pg_test]` modules.

use pgrx::prelude::*;

/// Run `sql` and return "00000" or "<SQLSTATE> <message>" of the error it raised.
pub fn sqlstate_of(sql: &str) -> String {
    Spi::run(
        "create or replace function pg_temp.sqlstate_of(q text) returns text language plpgsql as $f$
         begin execute q; return '00000'; exception when others then return sqlstate || ' ' || sqlerrm; end $f$",
    )
    .unwrap();
    Spi::get_one_with_args::<String>("select pg_temp.sqlstate_of($1)", &[sql.into()]).unwrap().unwrap()
}

/// Point this session at the committed fixture bundle (installed by `make install-fixtures`).
pub fn use_fixtures() {
    let dir = crate::sql::guc::model_dir().parent().unwrap().join("fixtures");
    Spi::run(&format!("set songmatch.model_dir = '{}'", dir.display())).unwrap();
    Spi::run("select songmatch.reload_models()").unwrap();
}
