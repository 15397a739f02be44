//! What stage 1 needs of a track besides its embedding, in a compact binary form.
//!
//! A track's audio features, genres and catalogue fields come from its row and analysis JSON
//! (profile.rs, catalogue.rs). Parsing that JSON for every candidate of every call is most of
//! what a large ranking costs, so songmatch keeps these signals beside the track's content hash
//! (`songmatch.track_content.signals`, written by the same trigger) and reads them as bytes.
//!
//! Layout (little-endian), version [`SIGNALS_VERSION`]:
//! `u8 version | 9 × f64 audio | f64 year | f64 popularity` (NaN: absent)
//! `| str album` (length `u32::MAX`: absent) `| u32 n, n × str artists | u32 n, n × (str genre, f64 weight)`,
//! where `str` is `u32 length` + UTF-8 bytes. Bytes of another version, or malformed bytes, are
//! an error: the caller then derives the signals from the row.

use crate::catalogue::{self, CatalogueTrack};
use crate::error::{Error, Result};
use crate::profile::{self, Audio};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Bumped whenever the layout or the derivation (catalogue.rs, profile.rs) changes.
pub const SIGNALS_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrackSignals {
    pub audio: Audio,
    pub genres: BTreeMap<String, f64>,
    pub catalogue: CatalogueTrack,
}

impl TrackSignals {
    /// The signals of a track from its row (`to_jsonb` of `songmatch.tracks`) and analysis.
    pub fn of(track: &Value, analysis: &Value) -> Self {
        TrackSignals { audio: profile::audio_of(analysis), genres: profile::genres_of(analysis), catalogue: catalogue::track_of(track) }
    }

    pub fn encode(&self) -> Vec<u8> {
        fn f(out: &mut Vec<u8>, x: Option<f64>) {
            out.extend_from_slice(&x.unwrap_or(f64::NAN).to_le_bytes());
        }
        fn s(out: &mut Vec<u8>, x: &str) {
            out.extend_from_slice(&(x.len() as u32).to_le_bytes());
            out.extend_from_slice(x.as_bytes());
        }
        let mut out = Vec::with_capacity(128);
        out.push(SIGNALS_VERSION);
        self.audio.iter().for_each(|a| f(&mut out, *a));
        f(&mut out, self.catalogue.year);
        f(&mut out, self.catalogue.popularity);
        match &self.catalogue.album {
            Some(a) => s(&mut out, a),
            None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        }
        out.extend_from_slice(&(self.catalogue.artists.len() as u32).to_le_bytes());
        self.catalogue.artists.iter().for_each(|a| s(&mut out, a));
        out.extend_from_slice(&(self.genres.len() as u32).to_le_bytes());
        for (g, w) in &self.genres {
            s(&mut out, g);
            f(&mut out, Some(*w));
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader { b: bytes, at: 0 };
        let v = r.take(1)?[0];
        if v != SIGNALS_VERSION {
            return Err(Error::data(format!("track signals of version {v}, expected {SIGNALS_VERSION}")));
        }
        let mut audio: Audio = [None; 9];
        for a in audio.iter_mut() {
            *a = r.f64()?;
        }
        let year = r.f64()?;
        let popularity = r.f64()?;
        let album = r.opt_str()?;
        let n = r.u32()? as usize;
        let mut artists = BTreeSet::new();
        for _ in 0..n {
            artists.insert(r.str()?);
        }
        let n = r.u32()? as usize;
        let mut genres = BTreeMap::new();
        for _ in 0..n {
            let g = r.str()?;
            let w = r.f64()?.ok_or_else(|| Error::data("track signals: a genre without a weight"))?;
            genres.insert(g, w);
        }
        if r.at != bytes.len() {
            return Err(Error::data("track signals: trailing bytes"));
        }
        Ok(TrackSignals { audio, genres, catalogue: CatalogueTrack { artists, album, year, popularity } })
    }
}

/// The stored signals of many tracks decoded, in order (None: none stored, or bytes that do not
/// decode, e.g. of another version); on the worker pool for large sets, which only compute.
pub fn decode_all(items: Vec<Option<Vec<u8>>>) -> Vec<Option<TrackSignals>> {
    let one = |b: Option<Vec<u8>>| b.and_then(|b| TrackSignals::decode(&b).ok());
    if items.len() >= crate::scoring::PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        crate::scoring::pool().install(|| items.into_par_iter().with_min_len(512).map(one).collect())
    } else {
        items.into_iter().map(one).collect()
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len()).ok_or_else(|| Error::data("track signals: truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f64(&mut self) -> Result<Option<f64>> {
        let b = self.take(8)?;
        let x = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        Ok((!x.is_nan()).then_some(x))
    }
    fn str(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Error::data("track signals: a string is not UTF-8"))
    }
    fn opt_str(&mut self) -> Result<Option<String>> {
        let save = self.at;
        if self.u32()? == u32::MAX {
            return Ok(None);
        }
        self.at = save;
        self.str().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_equals_the_json_derivation() {
        for (track, analysis) in [
            (
                json!({"artist": "Calvin Harris feat. Rihanna", "album": "18 Months", "release_date": "2012-10-26", "popularity": 77}),
                json!({"audio": {"energy": 0.8, "tempo": 128.0, "loudness": -4.2}, "genres": {"primary": "EDM", "secondary": ["pop", "dance pop"]}}),
            ),
            (json!({"artist": ""}), Value::Null),
            (
                json!({"artist": "Ünïcode Ørchestra", "album": null, "popularity": 0}),
                json!({"genres": ["jazz"], "audio": {"valence": 0.0}}),
            ),
        ] {
            let s = TrackSignals::of(&track, &analysis);
            let back = TrackSignals::decode(&s.encode()).unwrap();
            assert_eq!(back, s);
            assert_eq!(back.catalogue, catalogue::track_of(&track));
            assert_eq!(back.audio, profile::audio_of(&analysis));
            assert_eq!(back.genres, profile::genres_of(&analysis));
        }
    }

    #[test]
    fn decode_all_keeps_order_and_skips_what_does_not_decode_on_both_paths() {
        for n in [5, crate::scoring::PARALLEL_THRESHOLD + 7] {
            let items: Vec<Option<Vec<u8>>> = (0..n)
                .map(|i| match i % 3 {
                    0 => None,
                    1 => Some(vec![0u8, 1, 2]),
                    _ => Some(TrackSignals::of(&json!({"artist": format!("A{i}"), "popularity": i % 101}), &Value::Null).encode()),
                })
                .collect();
            let out = decode_all(items);
            assert_eq!(out.len(), n);
            for (i, s) in out.iter().enumerate() {
                match i % 3 {
                    2 => assert_eq!(s.as_ref().unwrap().catalogue.popularity, Some((i % 101) as f64), "item {i}"),
                    _ => assert!(s.is_none(), "item {i}"),
                }
            }
        }
    }

    #[test]
    fn other_versions_and_malformed_bytes_are_data_errors() {
        let good = TrackSignals::of(&json!({"artist": "A, B", "album": "X"}), &json!({"genres": "rock"})).encode();
        let mut old = good.clone();
        old[0] = 0;
        assert_eq!(TrackSignals::decode(&old).unwrap_err().sqlstate(), "22000");
        for cut in [0, 1, 9, good.len() - 1] {
            assert!(TrackSignals::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(TrackSignals::decode(&long).is_err());
        // a huge string length is an error, not an allocation
        let mut huge = vec![SIGNALS_VERSION];
        huge.extend_from_slice(&[0u8; 11 * 8]);
        huge.extend_from_slice(&(u32::MAX - 1).to_le_bytes());
        assert!(TrackSignals::decode(&huge).is_err());
    }
}
