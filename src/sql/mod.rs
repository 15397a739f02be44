//! The SQL surface: thin `#[pg_extern]` wrappers over [`crate::core`].
//!
//! Rules: convert types, call the core, map [`crate::core::Error`] to a SQLSTATE with
//! [`OrReport::or_report`]. No business logic lives here.

// no function in the SQL layer over 80 lines (threshold in clippy.toml; make lint)
#![warn(clippy::too_many_lines)]

pub mod bundle;
pub mod classify;
pub mod eval;
pub mod ffi;
pub mod flight;
pub mod guc;
pub mod hashing;
pub mod infer;
pub mod matching;
pub mod models;
pub mod plans;
pub mod privilege;
pub mod refresh;
pub mod service;
pub mod store;
pub mod vector;

#[cfg(any(test, feature = "pg_test"))]
pub mod testing;

use crate::core::Error;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// The pgrx error code for a core error: its SQLSTATE from [`Error::sqlstate`] (the one table of
/// songmatch's SQLSTATEs, in the core crate), encoded as PostgreSQL's `MAKE_SQLSTATE` does. (A
/// SQLSTATE that pgrx's `PgSqlErrorCode` does not list would become XX000: every one the core
/// names is listed.)
pub fn error_code(e: &Error) -> PgSqlErrorCode {
    PgSqlErrorCode::from(make_sqlstate(e.sqlstate()))
}

/// PostgreSQL's `MAKE_SQLSTATE` (utils/elog.h): the five characters of a SQLSTATE, six bits each.
fn make_sqlstate(code: &str) -> i32 {
    code.bytes().take(5).enumerate().fold(0, |acc, (i, c)| acc + (((i32::from(c) - i32::from(b'0')) & 0x3F) << (6 * i)))
}

/// Raise `e` as a PostgreSQL ERROR. Does not return.
#[track_caller]
pub fn raise(e: Error) -> ! {
    ErrorReport::new(error_code(&e), e.to_string(), "songmatch").report(PgLogLevel::ERROR);
    unreachable!("ERROR-level reports do not return")
}

/// `result.or_report()` turns a core error into a PostgreSQL ERROR with its SQLSTATE.
pub trait OrReport<T> {
    fn or_report(self) -> T;
}

impl<T> OrReport<T> for Result<T, Error> {
    #[track_caller]
    fn or_report(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(e),
        }
    }
}

/// `.map_err(spi_err("cannot read …"))`: an SPI error as a core error (58000, "what: error").
pub fn spi_err(what: &'static str) -> impl Fn(pgrx::spi::SpiError) -> Error {
    move |e| Error::Runtime(format!("{what}: {e}"))
}

/// A required argument: NULL is an error (22004) naming the parameter.
#[track_caller]
pub fn required<T>(v: Option<T>, name: &str) -> T {
    match v {
        Some(v) => v,
        None => raise(Error::NullValue(format!("{name} must not be NULL"))),
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::error_code;
    use crate::core::Error;
    use pgrx::prelude::*;
    use pgrx::PgSqlErrorCode as C;
    use std::path::PathBuf;

    /// Every core error reaches PostgreSQL with the SQLSTATE the core names (the one table), as
    /// the pgrx code of that name.
    #[pg_test]
    fn error_codes_are_the_core_sqlstates() {
        let path = PathBuf::from("/x");
        let cases = [
            (Error::InvalidParameter("x".into()), C::ERRCODE_INVALID_PARAMETER_VALUE),
            (Error::UnknownModel { name: "m".into(), available: vec![] }, C::ERRCODE_INVALID_PARAMETER_VALUE),
            (Error::Data("x".into()), C::ERRCODE_DATA_EXCEPTION),
            (Error::DimensionMismatch { expected: 1, actual: 2 }, C::ERRCODE_DATA_EXCEPTION),
            (Error::NullValue("x".into()), C::ERRCODE_NULL_VALUE_NOT_ALLOWED),
            (Error::LimitExceeded("x".into()), C::ERRCODE_PROGRAM_LIMIT_EXCEEDED),
            (Error::PermissionDenied("x".into()), C::ERRCODE_INSUFFICIENT_PRIVILEGE),
            (Error::MissingFile { path: path.clone() }, C::ERRCODE_UNDEFINED_FILE),
            (Error::ChecksumMismatch { path: path.clone(), expected: "a".into(), actual: "b".into() }, C::ERRCODE_DATA_CORRUPTED),
            (Error::Config("x".into()), C::ERRCODE_CONFIG_FILE_ERROR),
            (Error::Unsupported("x".into()), C::ERRCODE_FEATURE_NOT_SUPPORTED),
            (Error::Runtime("x".into()), C::ERRCODE_SYSTEM_ERROR),
            (Error::Unavailable("x".into()), C::ERRCODE_CANNOT_CONNECT_NOW),
            (Error::Io { path, source: std::io::Error::other("x") }, C::ERRCODE_IO_ERROR),
        ];
        for (e, want) in cases {
            assert_eq!(error_code(&e), want, "{e:?} ({})", e.sqlstate());
        }
    }
}
