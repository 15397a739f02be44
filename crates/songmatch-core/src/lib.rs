//! The pure Rust core of songmatch: no pgrx imports in this module tree.
//!
//! Everything here is plain Rust, unit-tested with `#[test]`, and usable from
//! tools and benchmarks without a running PostgreSQL.

#![warn(clippy::undocumented_unsafe_blocks)]

pub mod catalogue;
pub mod error;
pub mod hash;
pub mod limits;
pub mod metrics;
pub mod models;
pub mod nearest;
pub mod pipeline;
pub mod profile;
pub mod ranker;
pub mod scoring;
pub mod screen;
pub mod service;
pub mod signals;
pub mod store;
pub mod sys;
pub mod text;
pub mod versions;

pub use error::{Error, Result};
