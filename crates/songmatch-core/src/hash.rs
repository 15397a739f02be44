//! Content hashes: SHA-256 over a canonical JSON form, with versioned prefixes.
//!
//! Canonical JSON (documented in the README, stable across releases):
//! * objects: keys sorted by their UTF-8 bytes, no whitespace anywhere;
//! * strings: JSON-escaped as serde_json does (`"` `\` and control characters escaped,
//!   everything else as raw UTF-8);
//! * numbers: an integral value with |x| < 2^53 is written as an integer (`1.0` → `1`,
//!   `-0.0` → `0`); any other number in its shortest round-trip form (`0.1`, `1e-7`);
//! * arrays keep their order; `null`, `true`, `false` as usual.
//!
//! The hashed bytes are `"{prefix}\n{version tag}\n{canonical json}"`, so a change of the
//! prefix, of the version the kind depends on, or of any field changes the hash. The result
//! is `{prefix}_{64 hex digits}`, e.g. `te_v1_3f…`.

use crate::error::{Error, Result};
use crate::versions;
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// The kinds of JSON content that get a content hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    TrackContent,
    /// The text a model reads (a track's document, a playlist's query): what an embedding,
    /// emotion or genre artifact is computed from, so what identifies it.
    Document,
    PlaylistProfile,
    MatchingConfig,
    ModelBundle,
    MatchContext,
}

impl ContentKind {
    pub const ALL: [ContentKind; 6] = [
        ContentKind::TrackContent,
        ContentKind::Document,
        ContentKind::PlaylistProfile,
        ContentKind::MatchingConfig,
        ContentKind::ModelBundle,
        ContentKind::MatchContext,
    ];

    pub fn parse(kind: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|k| k.name() == kind).ok_or_else(|| {
            Error::invalid(format!("unknown content kind \"{kind}\"; expected one of: {}", Self::ALL.map(|k| k.name()).join(", ")))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ContentKind::TrackContent => "track_content",
            ContentKind::Document => "document",
            ContentKind::PlaylistProfile => "playlist_profile",
            ContentKind::MatchingConfig => "matching_config",
            ContentKind::ModelBundle => "model_bundle",
            ContentKind::MatchContext => "match_context",
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            ContentKind::TrackContent => "te_v1",
            ContentKind::Document => "td_v1",
            ContentKind::PlaylistProfile => "pp_v1",
            ContentKind::MatchingConfig => "cfg_v1",
            ContentKind::ModelBundle => "mb_v1",
            ContentKind::MatchContext => "mc_v1",
        }
    }

    /// The version constant folded into every hash of this kind.
    pub fn version_tag(self) -> String {
        match self {
            ContentKind::TrackContent | ContentKind::Document => format!("extractor_version={}", versions::EXTRACTOR_VERSION),
            ContentKind::PlaylistProfile => {
                format!("playlist_profile_version={}", versions::PLAYLIST_PROFILE_VERSION)
            }
            ContentKind::MatchingConfig => {
                format!("matching_algo_version={}", versions::MATCHING_ALGO_VERSION)
            }
            ContentKind::ModelBundle => {
                format!("embedding_schema_version={}", versions::EMBEDDING_SCHEMA_VERSION)
            }
            ContentKind::MatchContext => {
                format!("matching_algo_version={}", versions::MATCHING_ALGO_VERSION)
            }
        }
    }
}

/// The kinds of id sets that get an order-independent hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSetKind {
    CandidateSet,
    PlaylistSet,
}

impl IdSetKind {
    pub fn parse(kind: &str) -> Result<Self> {
        match kind {
            "candidate_set" => Ok(IdSetKind::CandidateSet),
            "playlist_set" => Ok(IdSetKind::PlaylistSet),
            _ => Err(Error::invalid(format!("unknown id set kind \"{kind}\"; expected one of: candidate_set, playlist_set"))),
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            IdSetKind::CandidateSet => "cs_v1",
            IdSetKind::PlaylistSet => "ps_v1",
        }
    }
}

/// Write `value` in canonical form.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0; // 2^53

fn write_number(n: &Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        if f.fract() == 0.0 && f.abs() < MAX_SAFE_INTEGER {
            // -0.0 becomes 0 as well.
            out.push_str(&(f as i64).to_string());
        } else {
            // serde_json writes f64 in the shortest form that round-trips (ryu).
            out.push_str(&Value::from(f).to_string());
        }
    } else {
        out.push_str(&n.to_string());
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's string serialisation cannot fail for a &str.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn prefixed_hash(prefix: &str, tag: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prefix.as_bytes());
    hasher.update(b"\n");
    hasher.update(tag.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    let digest = hasher.finalize();
    let mut s = String::with_capacity(prefix.len() + 65);
    s.push_str(prefix);
    s.push('_');
    s.push_str(&hex(&digest));
    s
}

/// The content hash of `value` as `kind`.
pub fn content_hash(kind: ContentKind, value: &Value) -> String {
    prefixed_hash(kind.prefix(), &kind.version_tag(), &canonical_json(value))
}

/// The key of a transaction-level advisory lock on what `name` identifies (an artifact, a profile,
/// a match context): the first four bytes of its SHA-256. Two names may share a key; that costs a
/// write left to the other holder, never a wrong value.
pub fn lock_key(name: &str) -> i32 {
    let d = Sha256::digest(name.as_bytes());
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// What identifies a call of `match_playlist` (the match cache's key).
pub struct MatchContextInputs<'a> {
    pub user: &'a str,
    pub bundle: &'a str,
    pub algorithm_version: &'a str,
    pub config: &'a str,
    pub playlist_set: &'a str,
    pub candidate_set: &'a str,
    pub top_k: i32,
    pub playlist_row: &'a Value,
    pub playlist_analysis: &'a Value,
    /// (track id, content hash) of the members and of the candidates, in the caller's order.
    pub members: &'a [(i64, &'a str)],
    pub candidates: &'a [(i64, &'a str)],
}

/// The `mc_v1_` hash of a match context: byte for byte the content hash of the JSON object
/// `{"algorithm_version", "bundle", "candidate_set", "candidates": [[id, hash], ...], "config",
/// "playlist": {"analysis", "members": [[id, hash], ...], "row"}, "playlist_set", "top_k",
/// "user"}`, written straight into the canonical form (keys already in byte order) instead of
/// building that object: for 10,000 candidates this is most of what a cached call costs.
pub fn match_context_hash(i: &MatchContextInputs<'_>) -> String {
    let kind = ContentKind::MatchContext;
    let mut out = Streamed::new(kind.prefix(), &kind.version_tag());
    let mut small = String::new();
    let mut string = |s: &str, out: &mut Streamed| {
        small.clear();
        write_string(s, &mut small);
        out.push(&small);
    };
    out.push("{\"algorithm_version\":");
    string(i.algorithm_version, &mut out);
    out.push(",\"bundle\":");
    string(i.bundle, &mut out);
    out.push(",\"candidate_set\":");
    string(i.candidate_set, &mut out);
    out.push(",\"candidates\":");
    out.pairs(i.candidates);
    out.push(",\"config\":");
    string(i.config, &mut out);
    out.push(",\"playlist\":{\"analysis\":");
    let mut canonical = String::new();
    write_canonical(i.playlist_analysis, &mut canonical);
    out.push(&canonical);
    out.push(",\"members\":");
    out.pairs(i.members);
    out.push(",\"row\":");
    canonical.clear();
    write_canonical(i.playlist_row, &mut canonical);
    out.push(&canonical);
    out.push("},\"playlist_set\":");
    string(i.playlist_set, &mut out);
    out.push(",\"top_k\":");
    out.push(&i.top_k.to_string());
    out.push(",\"user\":");
    string(i.user, &mut out);
    out.push("}");
    out.finish(kind.prefix())
}

/// The bytes of a [`prefixed_hash`] written piece by piece and hashed 16 KiB at a time (a large
/// context's canonical form is never held whole).
struct Streamed {
    hasher: Sha256,
    buf: Vec<u8>,
}

impl Streamed {
    const FLUSH: usize = 16 * 1024;

    fn new(prefix: &str, tag: &str) -> Self {
        let mut s = Streamed { hasher: Sha256::new(), buf: Vec::with_capacity(Self::FLUSH + 256) };
        s.push(prefix);
        s.push("\n");
        s.push(tag);
        s.push("\n");
        s
    }

    fn push(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
        if self.buf.len() >= Self::FLUSH {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
    }

    /// `[[id,"hash"],...]`: a hash of letters, digits and `_` (every content hash) is written
    /// as it is, any other string JSON-escaped.
    fn pairs(&mut self, items: &[(i64, &str)]) {
        self.push("[");
        let mut small = String::new();
        for (n, (id, h)) in items.iter().enumerate() {
            self.push(if n > 0 { ",[" } else { "[" });
            let mut digits = [0u8; 20];
            self.push(decimal(*id, &mut digits));
            let plain = h.bytes().fold(true, |ok, b| ok & (b.is_ascii_alphanumeric() | (b == b'_')));
            if plain {
                self.push(",\"");
                self.push(h);
                self.push("\"]");
            } else {
                small.clear();
                write_string(h, &mut small);
                self.push(",");
                self.push(&small);
                self.push("]");
            }
        }
        self.push("]");
    }

    fn finish(mut self, prefix: &str) -> String {
        self.hasher.update(&self.buf);
        let mut s = String::with_capacity(prefix.len() + 65);
        s.push_str(prefix);
        s.push('_');
        s.push_str(&hex(&self.hasher.finalize()));
        s
    }
}

/// `v` in decimal (as `to_string` writes it), in `digits`.
fn decimal(v: i64, digits: &mut [u8; 20]) -> &str {
    let mut at = digits.len();
    let mut u = v.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if v < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    // (only ASCII digits and '-' were written)
    std::str::from_utf8(&digits[at..]).unwrap_or_default()
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// What a repeated `match_playlist` call is recognised by before anything is read of its inputs
/// (the match cache's fast key): the call's arguments, the active bundle and config, and the
/// generation counters that songmatch's triggers advance on every change that can change the
/// call's context (the owner's playlists, members, analyses and likes; any track's content).
/// Equal stamps mean equal inputs, so the context found under a stamp answers the call; a stamp
/// that is not found (a counter moved) falls back to the content hash ([`match_context_hash`]).
#[derive(Debug, Clone, Copy)]
pub struct MatchStampInputs<'a> {
    pub user: &'a str,
    pub playlist_id: i64,
    /// the candidate ids as given, sorted and without duplicates; None: the owner's liked tracks
    pub candidates: Option<&'a [i64]>,
    pub top_k: i32,
    pub config: &'a str,
    pub bundle: &'a str,
    pub algorithm_version: &'a str,
    /// the catalogue's generation epoch (new with every CREATE EXTENSION, so counters that start
    /// over after a restore never meet a stamp of before) and its counter
    pub epoch: &'a str,
    pub catalogue_generation: i64,
    /// the owner's counter (0 before their first change)
    pub user_generation: i64,
}

/// The `ms_v1_` stamp of a call: the content hash of the JSON object `{"algorithm_version",
/// "bundle", "candidates" (ids or null), "catalogue_generation", "config", "epoch",
/// "playlist_id", "top_k", "user", "user_generation"}`. A stored context is found by its stamp
/// on the fast path: the column that holds it is `match_contexts.fast_key` (its name since 0.4.0;
/// "stamp", "fast key" and the `ms_v1_` prefix are one thing).
pub fn match_stamp(i: &MatchStampInputs<'_>) -> String {
    let mut out = String::with_capacity(320 + i.candidates.map_or(0, |c| c.len() * 8));
    out.push_str("{\"algorithm_version\":");
    write_string(i.algorithm_version, &mut out);
    out.push_str(",\"bundle\":");
    write_string(i.bundle, &mut out);
    out.push_str(",\"candidates\":");
    match i.candidates {
        None => out.push_str("null"),
        Some(ids) => {
            out.push('[');
            for (n, id) in ids.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&id.to_string());
            }
            out.push(']');
        }
    }
    out.push_str(",\"catalogue_generation\":");
    out.push_str(&i.catalogue_generation.to_string());
    out.push_str(",\"config\":");
    write_string(i.config, &mut out);
    out.push_str(",\"epoch\":");
    write_string(i.epoch, &mut out);
    out.push_str(",\"playlist_id\":");
    out.push_str(&i.playlist_id.to_string());
    out.push_str(",\"top_k\":");
    out.push_str(&i.top_k.to_string());
    out.push_str(",\"user\":");
    write_string(i.user, &mut out);
    out.push_str(",\"user_generation\":");
    out.push_str(&i.user_generation.to_string());
    out.push('}');
    prefixed_hash("ms_v1", &format!("matching_algo_version={}", i.algorithm_version), &out)
}

/// The order- and duplicate-independent hash of a set of ids.
/// A `None` (SQL NULL) inside the set is an error.
pub fn id_set_hash(kind: IdSetKind, ids: &[Option<i64>]) -> Result<String> {
    let mut set: Vec<i64> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match id {
            Some(v) => set.push(*v),
            None => return Err(Error::NullValue(format!("id set must not contain NULL (element {} is NULL)", i + 1))),
        }
    }
    set.sort_unstable();
    set.dedup();
    let mut canonical = String::with_capacity(set.len() * 8 + 2);
    canonical.push('[');
    for (i, id) in set.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        let mut digits = [0u8; 20];
        canonical.push_str(decimal(*id, &mut digits));
    }
    canonical.push(']');
    Ok(prefixed_hash(kind.prefix(), "ids", &canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_stamp_equals_the_json_form_and_moves_with_every_input() {
        let ids = [3i64, 7, 12];
        let base = MatchStampInputs {
            user: "00000000-0000-4000-8000-000000000001",
            playlist_id: 5,
            candidates: Some(&ids),
            top_k: 20,
            config: "cfg_v1_x",
            bundle: "mb_v1_y",
            algorithm_version: "3",
            epoch: "e",
            catalogue_generation: 9,
            user_generation: 0,
        };
        let json = json!({"algorithm_version": "3", "bundle": "mb_v1_y", "candidates": [3, 7, 12],
                          "catalogue_generation": 9, "config": "cfg_v1_x", "epoch": "e", "playlist_id": 5,
                          "top_k": 20, "user": base.user, "user_generation": 0});
        let s = match_stamp(&base);
        assert_eq!(s, prefixed_hash("ms_v1", "matching_algo_version=3", &canonical_json(&json)));
        assert!(s.starts_with("ms_v1_") && s.len() == 6 + 64);
        let liked = MatchStampInputs { candidates: None, ..base };
        let mut seen = std::collections::HashSet::new();
        for v in [
            s.clone(),
            match_stamp(&liked),
            match_stamp(&MatchStampInputs { candidates: Some(&ids[..2]), ..base }),
            match_stamp(&MatchStampInputs { user_generation: 1, ..base }),
            match_stamp(&MatchStampInputs { catalogue_generation: 10, ..base }),
            match_stamp(&MatchStampInputs { epoch: "f", ..base }),
            match_stamp(&MatchStampInputs { top_k: 21, ..base }),
            match_stamp(&MatchStampInputs { playlist_id: 6, ..base }),
            match_stamp(&MatchStampInputs { config: "cfg_v1_z", ..base }),
            match_stamp(&MatchStampInputs { bundle: "mb_v1_z", ..base }),
            match_stamp(&MatchStampInputs { user: "u2", ..base }),
        ] {
            assert!(seen.insert(v), "two different calls got the same stamp");
        }
        assert_eq!(match_stamp(&liked), match_stamp(&MatchStampInputs { candidates: None, ..base }));
    }

    #[test]
    fn match_context_hash_equals_the_json_form() {
        let row = serde_json::json!({"name": "Mix \"1\"", "owner_id": "u", "n": 1.0, "z": [1, {"b": 2, "a": null}]});
        let analysis = serde_json::json!({"mood": "é\n"});
        // (and one larger than the 16 KiB it is hashed in, with every kind of id)
        let mut large: Vec<(i64, &str)> = (0..3000i64).map(|k| (k * 1_000_003 - 7, "tc_v1_0123456789abcdef")).collect();
        large.extend([(i64::MIN, "a"), (i64::MAX, "b\\"), (0, "c"), (-1, "d")]);
        for (members, cands) in [
            (vec![(1i64, "te_v1_aa"), (2, "te_v1_bb")], vec![(10i64, "te_v1_cc"), (11, ""), (12, "odd \"hash\"")]),
            (vec![], vec![]),
            (vec![(-5, "x")], large),
        ] {
            let i = MatchContextInputs {
                user: "00000000-0000-4000-8000-000000000001",
                bundle: "mb_v1_x",
                algorithm_version: "1",
                config: "cfg_v1_y",
                playlist_set: "ps_v1_z",
                candidate_set: "cs_v1_w",
                top_k: 20,
                playlist_row: &row,
                playlist_analysis: &analysis,
                members: &members,
                candidates: &cands,
            };
            let j = |v: &[(i64, &str)]| v.iter().map(|(a, b)| serde_json::json!([a, b])).collect::<Vec<_>>();
            let json = serde_json::json!({
                "user": i.user, "bundle": i.bundle, "algorithm_version": i.algorithm_version,
                "config": i.config, "playlist_set": i.playlist_set, "candidate_set": i.candidate_set, "top_k": i.top_k,
                "playlist": {"row": row, "analysis": analysis, "members": j(&members)},
                "candidates": j(&cands),
            });
            assert_eq!(match_context_hash(&i), content_hash(ContentKind::MatchContext, &json));
        }
    }
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let v: Value = serde_json::from_str(r#"{ "b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "c": "é\n"} }"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":{"c":"é\n","z":[1,2,{"x":true,"y":null}]},"b":1}"#);
    }

    #[test]
    fn canonical_numbers_are_stable() {
        let v: Value = serde_json::from_str(r#"[1, 1.0, -0.0, 0.1, 1e-7, 2.5, 1e20, 123456789012, -3]"#).unwrap();
        assert_eq!(canonical_json(&v), "[1,1,0,0.1,1e-7,2.5,1e+20,123456789012,-3]");
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"name":"x","audio":{"energy":0.5,"tempo":120},"moods":["a","b"]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"moods":["a","b"],"audio":{"tempo":120.0,"energy":0.5},"name":"x"}"#).unwrap();
        for kind in ContentKind::ALL {
            assert_eq!(content_hash(kind, &a), content_hash(kind, &b));
        }
    }

    #[test]
    fn lock_keys_are_stable_and_spread() {
        assert_eq!(lock_key("embedding/1/m/1"), lock_key("embedding/1/m/1"));
        let keys: std::collections::HashSet<i32> = (0..10_000).map(|i| lock_key(&format!("embedding/{i}/m/1"))).collect();
        assert!(keys.len() > 9_980, "{}", keys.len());
        // recorded once: the key of a name never changes between builds
        assert_eq!(lock_key(""), i32::from_be_bytes([0xe3, 0xb0, 0xc4, 0x42]));
    }

    #[test]
    fn golden_hash() {
        // Recorded once; a change here breaks every stored artifact's identity.
        let v = json!({"name": "Rain on Tin", "artist": "The Paper Boats", "popularity": 41});
        assert_eq!(canonical_json(&v), r#"{"artist":"The Paper Boats","name":"Rain on Tin","popularity":41}"#);
        assert_eq!(content_hash(ContentKind::TrackContent, &v), GOLDEN_TRACK_HASH);
        assert_eq!(id_set_hash(IdSetKind::CandidateSet, &[Some(3), Some(1), Some(2)]).unwrap(), GOLDEN_CANDIDATE_SET_HASH);
    }

    pub const GOLDEN_TRACK_HASH: &str = "te_v1_c09c57ebcd638401d9c7ab9dd69d328473b2f363687a2ed1ad44ba6d196460bc";
    pub const GOLDEN_CANDIDATE_SET_HASH: &str = "cs_v1_f214d2e7a69770d3c12acee0d82d21246daca306f7e7deae5e1b7e1fbe29ccd1";

    #[test]
    fn any_change_changes_the_hash() {
        let v = json!({"a": 1, "b": "x"});
        let h = content_hash(ContentKind::TrackContent, &v);
        assert_ne!(h, content_hash(ContentKind::TrackContent, &json!({"a": 2, "b": "x"})));
        assert_ne!(h, content_hash(ContentKind::TrackContent, &json!({"a": 1, "b": "y"})));
        assert_ne!(h, content_hash(ContentKind::TrackContent, &json!({"a": 1, "b": "x", "c": null})));
        // Same JSON under another kind: other prefix, other digest.
        let other = content_hash(ContentKind::PlaylistProfile, &v);
        assert!(other.starts_with("pp_v1_"));
        assert_ne!(h[6..], other[6..]);
        // A change of the prefix alone changes the digest.
        assert_ne!(prefixed_hash("te_v1", "t", "{}")[6..], prefixed_hash("te_v2", "t", "{}")[6..]);
        // A change of the version tag alone changes the digest.
        assert_ne!(prefixed_hash("te_v1", "extractor_version=1", "{}"), prefixed_hash("te_v1", "extractor_version=2", "{}"));
    }

    #[test]
    fn hash_shape() {
        let h = content_hash(ContentKind::ModelBundle, &json!({}));
        assert!(h.starts_with("mb_v1_"));
        assert_eq!(h.len(), 6 + 64);
        assert!(h[6..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(content_hash(ContentKind::MatchingConfig, &json!({})).starts_with("cfg_v1_"));
    }

    #[test]
    fn id_sets_ignore_order_and_duplicates() {
        let a = id_set_hash(IdSetKind::CandidateSet, &[Some(5), Some(1), Some(3)]).unwrap();
        let b = id_set_hash(IdSetKind::CandidateSet, &[Some(1), Some(3), Some(5), Some(3), Some(1)]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, id_set_hash(IdSetKind::CandidateSet, &[Some(1), Some(3)]).unwrap());
        let p = id_set_hash(IdSetKind::PlaylistSet, &[Some(5), Some(1), Some(3)]).unwrap();
        assert!(p.starts_with("ps_v1_"));
        assert_ne!(a[6..], p[6..]);
        assert!(id_set_hash(IdSetKind::CandidateSet, &[]).unwrap().starts_with("cs_v1_"));
    }

    #[test]
    fn id_set_rejects_null() {
        let e = id_set_hash(IdSetKind::CandidateSet, &[Some(1), None]).unwrap_err();
        assert_eq!(e.sqlstate(), "22004");
        assert_eq!(e.to_string(), "id set must not contain NULL (element 2 is NULL)");
    }

    #[test]
    fn unknown_kinds_are_rejected() {
        assert_eq!(ContentKind::parse("nope").unwrap_err().sqlstate(), "22023");
        assert_eq!(IdSetKind::parse("").unwrap_err().sqlstate(), "22023");
        assert_eq!(ContentKind::parse("track_content").unwrap(), ContentKind::TrackContent);
    }
}
