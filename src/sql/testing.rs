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

/// Run a reference test in both inference modes: through the inference service (the test
/// server preloads songmatch) and in this backend. Parity with the references must hold in both.
pub fn in_both_modes(f: impl Fn()) {
    for mode in ["service", "backend"] {
        Spi::run(&format!("set songmatch.inference = '{mode}'")).unwrap();
        let s = Spi::get_one::<pgrx::JsonB>("select songmatch.inference_status()").unwrap().unwrap().0;
        assert_eq!(s["mode"], mode, "{s}");
        if mode == "service" {
            assert_eq!(s["service"]["running"], true, "the test server runs the inference service: {s}");
        }
        f();
    }
    Spi::run("reset songmatch.inference").unwrap();
}
