//! Catalogue signals: what a playlist's members say about a candidate through plain metadata.
//!
//! Playlists are made of artists, albums and eras as much as of sounds: a candidate by an artist
//! several members share, from an album the playlist already draws on, released when the members
//! were, and about as popular, is likely to belong. Everything here works on the track rows
//! (`artist`, `album`, `release_date`, `popularity`) of the members the caller gives; nothing
//! reads any stored membership.
//!
//! Artists: an app that keeps several artists in one string ("A feat. B", "A, B", "A & B",
//! "A x B", "A with B") gets each of them: a candidate shares an artist with a member when any
//! of its artists is one of the member's. Names are compared trimmed and lower-cased.
//! Albums are compared by (album name, alphabetically first artist), lower-cased, so "Greatest Hits" of two
//! artists are two albums. Years and popularity use the median and a robust spread
//! (1.4826 · median absolute deviation, at least 1 year / 5 points).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the catalogue says about one track.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogueTrack {
    pub artists: BTreeSet<String>,
    pub album: Option<String>,
    pub year: Option<f64>,
    pub popularity: Option<f64>,
}

const SEPARATORS: [&str; 9] = [",", ";", " & ", " feat. ", " feat ", " ft. ", " featuring ", " x ", " with "];

/// The artists of an artist string (see the module doc). Every separator is replaced by one
/// marker and the string split once: the same parts as splitting by each separator in turn
/// (no separator contains the marker), without a vector of strings per separator.
pub fn split_artists(s: &str) -> BTreeSet<String> {
    const MARK: char = '\u{1}';
    let mut lower = s.to_lowercase();
    for sep in SEPARATORS {
        if lower.contains(sep) {
            lower = lower.replace(sep, "\u{1}");
        }
    }
    lower.split(MARK).map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|p| !p.is_empty()).collect()
}

/// A track's catalogue fields from its row as JSON (`to_jsonb(t)` of `songmatch.tracks`).
pub fn track_of(row: &Value) -> CatalogueTrack {
    let s = |k: &str| row.get(k).and_then(Value::as_str);
    track_from(s("artist"), s("album"), s("release_date"), row.get("popularity").and_then(Value::as_f64))
}

/// [`track_of`] from the row's columns (artist, album, release_date, popularity).
pub fn track_from(artist: Option<&str>, album: Option<&str>, release_date: Option<&str>, popularity: Option<f64>) -> CatalogueTrack {
    fn s(x: Option<&str>) -> Option<&str> {
        x.map(str::trim).filter(|x| !x.is_empty())
    }
    let artists = split_artists(s(artist).unwrap_or(""));
    let first = artists.iter().next().cloned().unwrap_or_default();
    let album = s(album).map(|a| format!("{}\u{1f}{first}", a.to_lowercase()));
    let year = s(release_date).and_then(|d| d.get(0..4)).and_then(|y| y.parse::<f64>().ok()).filter(|y| (1000.0..=3000.0).contains(y));
    let popularity = popularity.filter(|p| p.is_finite());
    CatalogueTrack { artists, album, year, popularity }
}

/// The members' catalogue profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogueProfile {
    pub members: usize,
    /// artist -> number of members with that artist
    pub artists: BTreeMap<String, usize>,
    /// album key -> number of members on it
    pub albums: BTreeMap<String, usize>,
    pub year: Option<(f64, f64)>,
    pub popularity: Option<(f64, f64)>,
}

fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 })
}

/// (median, robust spread ≥ floor) of the values.
fn centre(mut xs: Vec<f64>, floor: f64) -> Option<(f64, f64)> {
    let m = median(&mut xs)?;
    let mut dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev).unwrap_or(0.0);
    Some((m, (1.4826 * mad).max(floor)))
}

pub fn profile(members: &[CatalogueTrack]) -> CatalogueProfile {
    let mut p = CatalogueProfile { members: members.len(), ..Default::default() };
    for m in members {
        for a in &m.artists {
            *p.artists.entry(a.clone()).or_insert(0) += 1;
        }
        if let Some(al) = &m.album {
            *p.albums.entry(al.clone()).or_insert(0) += 1;
        }
    }
    p.year = centre(members.iter().filter_map(|m| m.year).collect(), 1.0);
    p.popularity = centre(members.iter().filter_map(|m| m.popularity).collect(), 5.0);
    p
}

/// A candidate against a catalogue profile.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CatalogueSignals {
    /// Members sharing an artist with the candidate (the best of its artists).
    pub artist_count: f64,
    /// artist_count / members, in [0, 1].
    pub artist_share: f64,
    /// Members on the candidate's album / members, in [0, 1].
    pub album_share: f64,
    /// |year − median| in years, and its closeness exp(−|Δ| / spread) in (0, 1].
    pub year_delta: Option<f64>,
    pub year: Option<f64>,
    /// |popularity − median|, and its closeness exp(−|Δ| / spread) in (0, 1].
    pub popularity_delta: Option<f64>,
    pub popularity: Option<f64>,
}

pub fn signals(p: &CatalogueProfile, c: &CatalogueTrack) -> CatalogueSignals {
    signals_of(p, c.artists.iter().map(String::as_str), c.album.as_deref(), c.year, c.popularity)
}

/// [`signals`] of a track given by its parts (its artists, album, year and popularity).
pub fn signals_of<'a>(
    p: &CatalogueProfile,
    artists: impl Iterator<Item = &'a str>,
    album: Option<&str>,
    year: Option<f64>,
    popularity: Option<f64>,
) -> CatalogueSignals {
    let n = p.members.max(1) as f64;
    let artist_count = artists.map(|a| p.artists.get(a).copied().unwrap_or(0)).max().unwrap_or(0) as f64;
    let album = album.and_then(|a| p.albums.get(a)).copied().unwrap_or(0) as f64;
    let close = |x: Option<f64>, centre: Option<(f64, f64)>| match (x, centre) {
        (Some(x), Some((m, s))) => {
            let d = (x - m).abs();
            (Some(d), Some((-d / s).exp()))
        }
        _ => (None, None),
    };
    let (year_delta, year) = close(year, p.year);
    let (popularity_delta, popularity) = close(popularity, p.popularity);
    CatalogueSignals {
        artist_count,
        artist_share: if p.members == 0 { 0.0 } else { artist_count / n },
        album_share: if p.members == 0 { 0.0 } else { album / n },
        year_delta,
        year,
        popularity_delta,
        popularity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn artists_split_on_featuring_and_lists() {
        let a: Vec<String> = split_artists("Calvin Harris feat. Rihanna, Drake & Future x  SZA with Kygo").into_iter().collect();
        assert_eq!(a, vec!["calvin harris", "drake", "future", "kygo", "rihanna", "sza"]);
        assert!(split_artists("  ").is_empty());
        assert_eq!(split_artists("Simon & Garfunkel").len(), 2); // documented: "&" separates
    }

    #[test]
    fn track_fields_and_album_key() {
        let t = track_of(&json!({"artist": "A feat. B", "album": "Hits", "release_date": "1999-05-01", "popularity": 40}));
        assert_eq!(t.year, Some(1999.0));
        assert_eq!(t.popularity, Some(40.0));
        assert_eq!(t.album.as_deref(), Some("hits\u{1f}a"));
        let other = track_of(&json!({"artist": "C", "album": "Hits"}));
        assert_ne!(t.album, other.album);
        let empty = track_of(&json!({"artist": "X", "release_date": "bad"}));
        assert_eq!((empty.year, empty.popularity, empty.album), (None, None, None));
    }

    #[test]
    fn signals_of_a_candidate() {
        let members: Vec<CatalogueTrack> = [
            json!({"artist": "A", "album": "One", "release_date": "2000", "popularity": 50}),
            json!({"artist": "A, B", "album": "One", "release_date": "2002", "popularity": 60}),
            json!({"artist": "C", "album": "Two", "release_date": "2010", "popularity": 70}),
            json!({"artist": "D", "release_date": "2001"}),
        ]
        .iter()
        .map(track_of)
        .collect();
        let p = profile(&members);
        assert_eq!(p.members, 4);
        assert_eq!(p.artists["a"], 2);
        // years 2000, 2001, 2002, 2010: median 2001.5, MAD 1 -> spread 1.4826
        let (m, s) = p.year.unwrap();
        assert!((m - 2001.5).abs() < 1e-9 && (s - 1.4826).abs() < 1e-9);
        // popularity 50, 60, 70: median 60, MAD 10 -> spread 14.826
        assert_eq!(p.popularity.unwrap().0, 60.0);
        let c = signals(&p, &track_of(&json!({"artist": "B feat. A", "album": "One", "release_date": "2001", "popularity": 60})));
        assert_eq!((c.artist_count, c.artist_share, c.album_share), (2.0, 0.5, 0.5));
        assert!((c.year_delta.unwrap() - 0.5).abs() < 1e-9);
        assert!((c.year.unwrap() - (-0.5f64 / 1.4826).exp()).abs() < 1e-9);
        assert_eq!((c.popularity_delta, c.popularity), (Some(0.0), Some(1.0)));
        // album "One" of another artist is another album; unknown year gives no year signal
        let d = signals(&p, &track_of(&json!({"artist": "Z", "album": "One"})));
        assert_eq!((d.artist_count, d.album_share, d.year, d.popularity), (0.0, 0.0, None, None));
        // no members: nothing shared, no division by zero
        let e = signals(&profile(&[]), &track_of(&json!({"artist": "A"})));
        assert_eq!((e.artist_share, e.album_share, e.year), (0.0, 0.0, None));
    }
}
