//! Phase-0 contracts in SQL: content hashes, id-set hashes, versions, canonical texts.

use super::OrReport;
use crate::core::{hash, text, versions};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

/// `songmatch.content_hash(kind, value)`: SHA-256 over the canonical JSON form of `value`,
/// prefixed by kind (`te_v1_`, `pp_v1_`, `cfg_v1_`, `mb_v1_`).
#[pg_extern(immutable, parallel_safe, strict)]
fn content_hash(kind: &str, value: JsonB) -> String {
    let kind = hash::ContentKind::parse(kind).or_report();
    hash::content_hash(kind, &value.0)
}

/// `songmatch.id_set_hash(kind, ids)`: order- and duplicate-independent hash of an id set
/// (`cs_v1_` candidate set, `ps_v1_` playlist set). NULL elements are an error.
#[pg_extern(immutable, parallel_safe, strict)]
fn id_set_hash(kind: &str, ids: Vec<Option<i64>>) -> String {
    let kind = hash::IdSetKind::parse(kind).or_report();
    hash::id_set_hash(kind, &ids).or_report()
}

/// `songmatch.canonical_json(value)`: the exact text that content_hash hashes.
#[pg_extern(immutable, parallel_safe, strict)]
fn canonical_json(value: JsonB) -> String {
    hash::canonical_json(&value.0)
}

/// `songmatch.versions()`: the version constants of this build, and the PostgreSQL major it was
/// built for (`postgresql`: the server refuses a library of another major, so it is the server's).
#[pg_extern(immutable, parallel_safe)]
fn versions() -> JsonB {
    let mut map: serde_json::Map<String, Value> = versions::all().iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    map.insert("postgresql".into(), Value::from((pg_sys::PG_VERSION_NUM / 10000).to_string()));
    JsonB(Value::Object(map))
}

fn opt(v: Option<JsonB>) -> Value {
    v.map(|j| j.0).unwrap_or(Value::Null)
}

/// `songmatch.track_document(track, analysis, context)`: the canonical document text of a track
/// from its row as JSON (`to_jsonb(t)`), its analysis and an optional context.
#[pg_extern(immutable, parallel_safe)]
fn track_document(track: Option<JsonB>, analysis: Option<JsonB>, context: default!(Option<JsonB>, "NULL")) -> Option<String> {
    let track = track?;
    Some(text::track_document(&track.0, &opt(analysis), &opt(context)).or_report())
}

/// `songmatch.playlist_query(playlist, analysis)`: the canonical query text of a playlist.
#[pg_extern(immutable, parallel_safe)]
fn playlist_query(playlist: Option<JsonB>, analysis: Option<JsonB>) -> Option<String> {
    let playlist = playlist?;
    Some(text::playlist_query(&playlist.0, &opt(analysis)).or_report())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn content_hash_ignores_key_order() {
        let a = Spi::get_one::<String>(r#"select songmatch.content_hash('track_content', '{"a": 1, "b": [1, 2.0]}')"#).unwrap().unwrap();
        let b = Spi::get_one::<String>(r#"select songmatch.content_hash('track_content', '{"b": [1, 2], "a": 1.0}')"#).unwrap().unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("te_v1_"));
    }

    #[pg_test]
    #[should_panic(expected = "unknown content kind \"bogus\"")]
    fn content_hash_rejects_unknown_kind() {
        Spi::get_one::<String>("select songmatch.content_hash('bogus', '{}')").unwrap();
    }

    #[pg_test]
    fn id_set_hash_ignores_order_and_duplicates() {
        let a = Spi::get_one::<String>("select songmatch.id_set_hash('candidate_set', array[3,1,2])").unwrap().unwrap();
        let b = Spi::get_one::<String>("select songmatch.id_set_hash('candidate_set', array[1,2,3,3,1])").unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, crate::core::hash::id_set_hash(crate::core::hash::IdSetKind::CandidateSet, &[Some(1), Some(2), Some(3)]).unwrap());
    }

    #[pg_test]
    #[should_panic(expected = "id set must not contain NULL")]
    fn id_set_hash_rejects_null_elements() {
        Spi::get_one::<String>("select songmatch.id_set_hash('playlist_set', array[1,null]::bigint[])").unwrap();
    }

    #[pg_test]
    fn track_document_from_rows() {
        let doc = Spi::get_one::<String>(
            r#"select songmatch.track_document('{"name":"Song","artist":"Band","album":"LP","release_date":"2001-02-03"}',
                                                '{"moods":["calm"]}')"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(doc, "Song by Band\nAlbum: LP (2001)\nMoods: calm");
        let null = Spi::get_one::<String>("select songmatch.track_document(null, null)").unwrap();
        assert_eq!(null, None);
    }
}
