//! Version constants. Every persisted artifact records the versions that produced it;
//! bumping one of these changes the content hashes that depend on it.

/// Version of the canonical-text extractor (`track_document`, `playlist_query`).
pub const EXTRACTOR_VERSION: &str = "1";
/// Version of the matching algorithm (stage-1 scoring and stage-2 blending).
pub const MATCHING_ALGO_VERSION: &str = "1";
/// Version of the layout of stored embeddings (pooling, normalisation, storage type).
pub const EMBEDDING_SCHEMA_VERSION: &str = "1";
/// Version of the playlist-profile computation.
pub const PLAYLIST_PROFILE_VERSION: &str = "1";
/// Version of the extension itself (the SQL schema).
pub const EXTENSION_VERSION: &str = env!("CARGO_PKG_VERSION");

/// All version constants as (name, value) pairs, in a stable order.
pub fn all() -> [(&'static str, &'static str); 5] {
    [
        ("extension", EXTENSION_VERSION),
        ("extractor_version", EXTRACTOR_VERSION),
        ("matching_algo_version", MATCHING_ALGO_VERSION),
        ("embedding_schema_version", EMBEDDING_SCHEMA_VERSION),
        ("playlist_profile_version", PLAYLIST_PROFILE_VERSION),
    ]
}
