//! The SQL surface: thin `#[pg_extern]` wrappers over [`crate::core`].
//!
//! Rules: convert types, call the core, map [`crate::core::Error`] to a SQLSTATE with
//! [`OrReport::or_report`]. No business logic lives here.

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

/// The pgrx error code for a core error.
pub fn error_code(e: &Error) -> PgSqlErrorCode {
    match e {
        Error::InvalidParameter(_) | Error::UnknownModel { .. } => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        Error::Data(_) | Error::DimensionMismatch { .. } => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        Error::NullValue(_) => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        Error::LimitExceeded(_) => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        Error::PermissionDenied(_) => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        Error::MissingFile { .. } => PgSqlErrorCode::ERRCODE_UNDEFINED_FILE,
        Error::ChecksumMismatch { .. } => PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        Error::Config(_) => PgSqlErrorCode::ERRCODE_CONFIG_FILE_ERROR,
        Error::Unsupported(_) => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        Error::Runtime(_) => PgSqlErrorCode::ERRCODE_SYSTEM_ERROR,
        Error::Unavailable(_) => PgSqlErrorCode::ERRCODE_CANNOT_CONNECT_NOW,
        Error::Io { .. } => PgSqlErrorCode::ERRCODE_IO_ERROR,
    }
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

/// A required argument: NULL is an error (22004) naming the parameter.
#[track_caller]
pub fn required<T>(v: Option<T>, name: &str) -> T {
    match v {
        Some(v) => v,
        None => raise(Error::NullValue(format!("{name} must not be NULL"))),
    }
}
