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
use crate::scoring::FloatSource;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Bumped whenever the layout or the derivation (catalogue.rs, profile.rs) changes.
pub const SIGNALS_VERSION: u8 = 1;

/// Where the year lies in an encoding's head (the version byte, then nine audio features; the
/// popularity after it).
const HEAD_YEAR: usize = 1 + 8 * 9;

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
        let (audio, year, popularity) = r.head()?;
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
/// Bytes of [`TrackSignals`]' encoding: a vector of their own, or `len` bytes from `from` of a
/// shared source (the feature store's mapping), read in place.
#[derive(Clone)]
pub enum Encoded {
    Owned(Vec<u8>),
    Shared { source: Arc<dyn FloatSource>, from: usize, len: usize },
}

impl Encoded {
    /// A view of `len` bytes from `from` of `source` (None where the source has fewer).
    pub fn shared(source: &Arc<dyn FloatSource>, from: usize, len: usize) -> Option<Self> {
        (from.checked_add(len)? <= source.bytes().len()).then(|| Encoded::Shared { source: source.clone(), from, len })
    }
}

impl std::ops::Deref for Encoded {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Encoded::Owned(v) => v,
            Encoded::Shared { source, from, len } => &source.bytes()[*from..*from + *len],
        }
    }
}

/// Where a view's values lie in its encoding: the numbers decoded, the strings' places.
#[derive(Debug, Clone, Copy, Default)]
struct Layout {
    /// (offset, length) of the album's bytes
    album: Option<(u32, u32)>,
    /// (offset of the first, count) of the artists' length-prefixed strings and of the genres'
    /// (length-prefixed string, weight) pairs
    artists: (u32, u32),
    genres: (u32, u32),
}

impl Layout {
    /// The layout of `b`, checked as [`TrackSignals::decode`] checks an encoding (the same errors).
    fn parse(b: &[u8]) -> Result<Self> {
        if b.len() > u32::MAX as usize {
            return Err(Error::data("track signals: too long"));
        }
        let mut r = Reader { b, at: 0 };
        r.skip_head()?;
        let save = r.at;
        let album = if r.u32()? == u32::MAX {
            None
        } else {
            r.at = save;
            Some(r.str_at()?)
        };
        let n = r.u32()?;
        let artists = (r.at as u32, n);
        for _ in 0..n {
            r.str_at()?;
        }
        let n = r.u32()?;
        let genres = (r.at as u32, n);
        for _ in 0..n {
            r.str_at()?;
            r.f64()?.ok_or_else(|| Error::data("track signals: a genre without a weight"))?;
        }
        if r.at != b.len() {
            return Err(Error::data("track signals: trailing bytes"));
        }
        Ok(Layout { album, artists, genres })
    }
}

/// [`TrackSignals`] read in place from an encoding they borrow: the numbers decoded, the strings
/// (album, artists, genres) where they lie, so reading them costs no allocation. Equal in every
/// value to the decoded signals: artists and genres come in the encoding's order, which is the
/// sets'. Made only by [`Signals::parse`] (or [`SignalsView::view`]), which checked the bytes.
#[derive(Clone, Copy)]
pub struct Signals<'a> {
    bytes: &'a [u8],
    layout: Layout,
}

impl<'a> Signals<'a> {
    /// The view of `bytes`, checked as [`TrackSignals::decode`] checks them (the same errors).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Ok(Signals { bytes, layout: Layout::parse(bytes)? })
    }

    /// The view of an encoding's numbers alone (its head: audio, year, popularity; checked), as
    /// if it had no album, artists or genres: what can be known of a track without its strings.
    pub fn head(bytes: &'a [u8]) -> Result<Self> {
        Reader { b: bytes, at: 0 }.skip_head()?;
        Ok(Signals { bytes, layout: Layout::default() })
    }

    /// The number at `at` of the head (None: missing, or no head: the empty encoding of
    /// [`SignalsView::of`]'s fallback).
    fn number(&self, at: usize) -> Option<f64> {
        let x = f64::from_le_bytes(self.bytes.get(at..at + 8)?.try_into().ok()?);
        (!x.is_nan()).then_some(x)
    }

    /// The audio features (decoded from the head on each call: read them once).
    pub fn audio(&self) -> Audio {
        std::array::from_fn(|i| self.number(1 + 8 * i))
    }

    pub fn year(&self) -> Option<f64> {
        self.number(HEAD_YEAR)
    }

    pub fn popularity(&self) -> Option<f64> {
        self.number(HEAD_YEAR + 8)
    }

    pub fn album(&self) -> Option<&'a str> {
        self.layout.album.map(|(at, _)| str_in(self.bytes, at as usize).0)
    }

    /// The artists, in the encoding's (the set's) order.
    pub fn artists(&self) -> impl Iterator<Item = &'a str> + Clone + 'a {
        let b = self.bytes;
        let (mut at, n) = (self.layout.artists.0 as usize, self.layout.artists.1);
        (0..n).map(move |_| {
            let (s, next) = str_in(b, at);
            at = next;
            s
        })
    }

    /// Whether there are genres (without reading them).
    pub fn has_genres(&self) -> bool {
        self.layout.genres.1 > 0
    }

    /// The genres with their weights, in the encoding's (the map's) order.
    pub fn genres(&self) -> impl Iterator<Item = (&'a str, f64)> + Clone + 'a {
        let b = self.bytes;
        let (mut at, n) = (self.layout.genres.0 as usize, self.layout.genres.1);
        (0..n).map(move |_| {
            let (s, next) = str_in(b, at);
            let w = f64::from_le_bytes(b[next..next + 8].try_into().unwrap_or([0; 8]));
            at = next + 8;
            (s, w)
        })
    }
}

/// The length-prefixed string at `at` of an encoding a [`Signals`] was parsed from, where its
/// layout says one lies, and where the next field begins.
fn str_in(b: &[u8], at: usize) -> (&str, usize) {
    let n = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
    let s = &b[at + 4..at + 4 + n];
    // SAFETY: `Layout::parse` checked these very bytes as UTF-8 (it walks the strings as the
    // accessors do; `Signals::head` has none to walk). A `Signals` is made only of the bytes its
    // layout was parsed from (by `Signals::parse`, or by `SignalsView::view` over the bytes the view parsed, which an owned
    // encoding keeps and `FloatSource`'s contract keeps unchanged for a shared one) and borrows
    // them immutably, so they are still UTF-8.
    (unsafe { std::str::from_utf8_unchecked(s) }, at + 4 + n)
}

impl std::fmt::Debug for Signals<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("audio", &self.audio())
            .field("year", &self.year())
            .field("popularity", &self.popularity())
            .field("album", &self.album())
            .field("artists", &self.artists().collect::<Vec<_>>())
            .field("genres", &self.genres().collect::<Vec<_>>())
            .finish()
    }
}

/// [`Signals`] over an encoding the view holds (owned, or shared with the feature store).
#[derive(Clone)]
pub struct SignalsView {
    bytes: Encoded,
    layout: Layout,
}

impl std::fmt::Debug for SignalsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.view().fmt(f)
    }
}

impl Default for SignalsView {
    fn default() -> Self {
        SignalsView::of(&TrackSignals::default())
    }
}

impl SignalsView {
    /// The view of `bytes`, checked as [`TrackSignals::decode`] checks them (the same errors).
    pub fn parse(bytes: Encoded) -> Result<Self> {
        let layout = Layout::parse(&bytes)?;
        Ok(SignalsView { bytes, layout })
    }

    /// The view of these signals (their encoding, owned).
    pub fn of(t: &TrackSignals) -> Self {
        // (an encoding of signals always parses: the fallback, no signals, is never taken)
        SignalsView::parse(Encoded::Owned(t.encode()))
            .unwrap_or_else(|_| SignalsView { bytes: Encoded::Owned(Vec::new()), layout: Layout::default() })
    }

    /// The signals, borrowed.
    pub fn view(&self) -> Signals<'_> {
        Signals { bytes: &self.bytes, layout: self.layout }
    }
}

/// [`SignalsView::parse`] of many (None where there are no bytes or they do not parse), on the
/// worker pool for many.
pub fn parse_all(items: Vec<Option<Encoded>>) -> Vec<Option<SignalsView>> {
    let one = |b: Option<Encoded>| b.and_then(|b| SignalsView::parse(b).ok());
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
    /// Past the version (checked), the audio features, the year and the popularity.
    fn skip_head(&mut self) -> Result<()> {
        self.version()?;
        self.take(HEAD_YEAR + 16 - 1).map(|_| ())
    }
    /// The version (checked), the audio features, the year and the popularity.
    fn head(&mut self) -> Result<(Audio, Option<f64>, Option<f64>)> {
        self.version()?;
        let mut audio: Audio = [None; 9];
        for a in audio.iter_mut() {
            *a = self.f64()?;
        }
        Ok((audio, self.f64()?, self.f64()?))
    }
    /// Past the version byte, checked.
    fn version(&mut self) -> Result<()> {
        let v = self.take(1)?[0];
        if v != SIGNALS_VERSION {
            return Err(Error::data(format!("track signals of version {v}, expected {SIGNALS_VERSION}")));
        }
        Ok(())
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
    /// A length-prefixed UTF-8 string skipped over: its (offset, length) prefix included.
    fn str_at(&mut self) -> Result<(u32, u32)> {
        let at = self.at;
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| Error::data("track signals: a string is not UTF-8"))?;
        Ok((at as u32, n as u32))
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
            // read in place: the same values, the sets' order
            let view = SignalsView::parse(Encoded::Owned(s.encode())).unwrap();
            assert_viewed(&view, &s);
            assert_viewed(&SignalsView::of(&s), &s);
        }
    }

    fn assert_viewed(view: &SignalsView, s: &TrackSignals) {
        let view = view.view();
        // (and borrowed from the bytes alone)
        assert_eq!(format!("{view:?}"), format!("{:?}", Signals::parse(view.bytes).unwrap()));
        assert_eq!(view.has_genres(), !s.genres.is_empty());
        assert_eq!(view.audio(), s.audio);
        assert_eq!((view.year(), view.popularity()), (s.catalogue.year, s.catalogue.popularity));
        assert_eq!(view.album(), s.catalogue.album.as_deref());
        assert_eq!(view.artists().collect::<Vec<_>>(), s.catalogue.artists.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(view.genres().collect::<Vec<_>>(), s.genres.iter().map(|(g, w)| (g.as_str(), *w)).collect::<Vec<_>>());
    }

    struct Bytes(Vec<u8>);
    // SAFETY: an immutable Vec, for the life of the value
    unsafe impl FloatSource for Bytes {
        fn floats(&self) -> &[f32] {
            &[]
        }
        fn bytes(&self) -> &[u8] {
            &self.0
        }
    }

    #[test]
    fn signals_are_read_in_place_from_a_shared_source() {
        let s = TrackSignals::of(&json!({"artist": "B & A", "album": "Ø"}), &json!({"genres": ["pop", "rock"], "audio": {"tempo": 99}}));
        let enc = s.encode();
        let mut all = vec![7u8; 5];
        all.extend_from_slice(&enc);
        all.extend_from_slice(&[9u8; 3]);
        let source: Arc<dyn FloatSource> = Arc::new(Bytes(all));
        let view = SignalsView::parse(Encoded::shared(&source, 5, enc.len()).unwrap()).unwrap();
        assert_viewed(&view, &s);
        assert!(Encoded::shared(&source, 5, enc.len() + 4).is_none(), "past the end");
        // the wrong bounds do not parse
        assert!(SignalsView::parse(Encoded::shared(&source, 5, enc.len() + 1).unwrap()).is_err());
    }

    #[test]
    fn parse_all_keeps_order_and_skips_what_does_not_parse_on_both_paths() {
        for n in [5, crate::scoring::PARALLEL_THRESHOLD + 7] {
            let items: Vec<Option<Encoded>> = (0..n)
                .map(|i| match i % 3 {
                    0 => None,
                    1 => Some(Encoded::Owned(vec![0u8, 1, 2])),
                    _ => Some(Encoded::Owned(
                        TrackSignals::of(&json!({"artist": format!("A{i}"), "popularity": i % 101}), &Value::Null).encode(),
                    )),
                })
                .collect();
            let out = parse_all(items);
            assert_eq!(out.len(), n);
            for (i, s) in out.iter().enumerate() {
                match i % 3 {
                    2 => {
                        let v = s.as_ref().unwrap().view();
                        assert_eq!(
                            (v.popularity(), v.artists().collect::<Vec<_>>()),
                            (Some((i % 101) as f64), vec![format!("a{i}").as_str()])
                        )
                    }
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
        // a string that is not UTF-8
        let mut bad = good.clone();
        let at = bad.len() - 1 - 8 - 1; // the last byte of the last genre's name ("rock")
        bad[at] = 0xff;
        assert!(TrackSignals::decode(&bad).is_err());
        // read in place: the same checks
        let view = |b: &[u8]| SignalsView::parse(Encoded::Owned(b.to_vec()));
        assert_eq!(view(&old).unwrap_err().sqlstate(), "22000");
        for cut in 0..good.len() {
            assert_eq!(view(&good[..cut]).is_err(), TrackSignals::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(view(&long).is_err() && view(&huge).is_err() && view(&bad).is_err());
        assert!(view(&good).is_ok());
    }
}
