//! The core's error type. The SQL surface maps every variant to a SQLSTATE
//! (see [`Error::sqlstate`]); nothing in the core panics on user input.

use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter the caller passed is not acceptable (SQLSTATE 22023).
    #[error("{0}")]
    InvalidParameter(String),

    /// The data the caller stored or passed is malformed (SQLSTATE 22000).
    #[error("{0}")]
    Data(String),

    /// A NULL where a value is required, e.g. a NULL inside an id array (SQLSTATE 22004).
    #[error("{0}")]
    NullValue(String),

    /// The caller may not do this (SQLSTATE 42501).
    #[error("{0}")]
    PermissionDenied(String),

    /// A request larger than a configured limit, e.g. songmatch.max_candidates (SQLSTATE 54000).
    #[error("{0}")]
    LimitExceeded(String),

    /// A model name that the registry does not know (SQLSTATE 22023).
    #[error("unknown model \"{name}\"; available models: {}", if .available.is_empty() { "(none installed)".to_string() } else { .available.join(", ") })]
    UnknownModel { name: String, available: Vec<String> },

    /// A vector of the wrong dimension (SQLSTATE 22000).
    #[error("dimension mismatch: expected {expected} dimensions, got {actual}")]
    DimensionMismatch { expected: usize, actual: usize },

    /// A file the configuration names is not there (SQLSTATE 58P01).
    #[error("file not found: {}", .path.display())]
    MissingFile { path: PathBuf },

    /// A file whose content does not match its pinned sha256 (SQLSTATE XX001).
    #[error("sha256 mismatch for {}: expected {expected}, got {actual}", .path.display())]
    ChecksumMismatch { path: PathBuf, expected: String, actual: String },

    /// A feature this setup does not support, e.g. discovery over halfvec storage (SQLSTATE 0A000).
    #[error("{0}")]
    Unsupported(String),

    /// A manifest or setting that cannot be used (SQLSTATE F0000).
    #[error("{0}")]
    Config(String),

    /// The inference runtime failed (SQLSTATE 58000).
    #[error("{0}")]
    Runtime(String),

    /// The inference service cannot be reached or restarted while handling the request
    /// (SQLSTATE 57P03, "cannot connect now": retry the call).
    #[error("{0}")]
    Unavailable(String),

    /// An I/O error other than a missing file (SQLSTATE 58030).
    #[error("I/O error on {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl Error {
    /// The SQLSTATE that the SQL surface raises for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::InvalidParameter(_) | Error::UnknownModel { .. } => "22023",
            Error::Data(_) | Error::DimensionMismatch { .. } => "22000",
            Error::NullValue(_) => "22004",
            Error::LimitExceeded(_) => "54000",
            Error::PermissionDenied(_) => "42501",
            Error::MissingFile { .. } => "58P01",
            Error::ChecksumMismatch { .. } => "XX001",
            Error::Config(_) => "F0000",
            Error::Unsupported(_) => "0A000",
            Error::Runtime(_) => "58000",
            Error::Unavailable(_) => "57P03",
            Error::Io { .. } => "58030",
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidParameter(msg.into())
    }

    pub fn data(msg: impl Into<String>) -> Self {
        Error::Data(msg.into())
    }

    /// Wrap an I/O error, turning "not found" into [`Error::MissingFile`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile { path }
        } else {
            Error::Io { path, source }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_stable() {
        assert_eq!(Error::invalid("x").sqlstate(), "22023");
        assert_eq!(Error::data("x").sqlstate(), "22000");
        assert_eq!(Error::DimensionMismatch { expected: 3, actual: 4 }.sqlstate(), "22000");
        let nf = Error::io("/nope", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(nf.sqlstate(), "58P01");
        assert_eq!(nf.to_string(), "file not found: /nope");
        assert_eq!(Error::LimitExceeded("x".into()).sqlstate(), "54000");
        assert_eq!(Error::PermissionDenied("x".into()).sqlstate(), "42501");
    }

    #[test]
    fn unknown_model_names_the_available_ones() {
        let e = Error::UnknownModel { name: "foo".into(), available: vec!["a".into(), "b".into()] };
        assert_eq!(e.to_string(), "unknown model \"foo\"; available models: a, b");
        assert_eq!(e.sqlstate(), "22023");
    }
}
