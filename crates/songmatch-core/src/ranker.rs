//! The learned ranker's input: one fixed-order feature vector per (playlist, candidate).
//!
//! A bundle's `ranker` model (ONNX, e.g. gradient-boosted trees) scores these vectors in stage 2.
//! Its manifest lists the feature names it was trained on; they must equal [`FEATURES`] (the
//! engine refuses a ranker whose names differ), so training (which reads the vectors through
//! `songmatch.ranker_features`) and matching always see the same numbers. Missing values are
//! encoded as numbers, never NaN: cosines and closeness 0 with a `has_*` flag, deltas −1.

use crate::catalogue;
use crate::profile::{self, AUDIO_FEATURES};
use crate::scoring::{block_dots, embedding_cosines_with, CandidateSignals, PlaylistNorms, PlaylistSignals};

/// Feature names, in the order of the vector.
pub const FEATURES: [&str; 30] = [
    "members_top1",
    "members_top3",
    "centroid",
    "query",
    "has_embedding",
    "has_query",
    "audio",
    "audio_z_danceability",
    "audio_z_energy",
    "audio_z_valence",
    "audio_z_acousticness",
    "audio_z_instrumentalness",
    "audio_z_speechiness",
    "audio_z_liveness",
    "audio_z_tempo",
    "audio_z_loudness",
    "genre",
    "artist_count",
    "artist_share",
    "album_share",
    "year_delta",
    "year_closeness",
    "year",
    "year_median",
    "year_spread",
    "popularity_delta",
    "popularity_closeness",
    "popularity",
    "popularity_median",
    "members",
];

/// The feature vector of a candidate (see [`FEATURES`]).
pub fn features(p: &PlaylistSignals, c: &CandidateSignals) -> Vec<f32> {
    features_normed(p, &PlaylistNorms::of(p), c)
}

/// [`features`] with the playlist's norms computed once for many candidates.
pub fn features_normed(p: &PlaylistSignals, n: &PlaylistNorms, c: &CandidateSignals) -> Vec<f32> {
    features_with(p, n, c, None)
}

/// [`features_normed`] with the candidate's dot products with the playlist's vectors when they
/// are computed with its block's.
fn features_with(p: &PlaylistSignals, n: &PlaylistNorms, c: &CandidateSignals, dots: Option<&[f64]>) -> Vec<f32> {
    let mut f: Vec<f64> = Vec::with_capacity(FEATURES.len());
    // embeddings
    let (mut top1, mut top3, mut cen, mut query, mut has_e, mut has_q) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    if let Some(e) = &c.embedding {
        has_e = 1.0;
        let cos = embedding_cosines_with(p, n, e, 3, dots);
        if !cos.members.is_empty() {
            top1 = cos.members[0];
            let k = cos.members.len().min(3);
            top3 = cos.members[..k].iter().sum::<f64>() / k as f64;
        }
        if let Some(x) = cos.centroid {
            cen = x;
        }
        if let Some(q) = cos.query {
            query = q;
            has_q = 1.0;
        }
    }
    f.extend([top1, top3, cen, query, has_e, has_q]);
    // audio: the similarity, then each feature's distance in the members' spread (−1: missing)
    let cs = c.signals.view();
    let audio = cs.audio();
    f.push(p.audio.similarity(&audio).unwrap_or(0.0));
    for ((x, m), s) in audio.iter().zip(&p.audio.mean).zip(&p.audio.std).take(AUDIO_FEATURES.len()) {
        f.push(match (x, m, s) {
            (Some(x), Some(m), Some(s)) => (x - m).abs() / (s + 0.1),
            _ => -1.0,
        });
    }
    f.push(profile::genre_overlap_of(&p.genres, cs.genres()).unwrap_or(0.0));
    // catalogue
    let cat = catalogue::signals_of(&p.catalogue, cs.artists(), cs.album(), cs.year(), cs.popularity());
    let (year_median, year_spread) = p.catalogue.year.unwrap_or((0.0, 0.0));
    let popularity_median = p.catalogue.popularity.map(|x| x.0).unwrap_or(-1.0);
    f.extend([
        cat.artist_count,
        cat.artist_share,
        cat.album_share,
        cat.year_delta.unwrap_or(-1.0),
        cat.year.unwrap_or(0.0),
        cs.year().unwrap_or(0.0),
        year_median,
        year_spread,
        cat.popularity_delta.unwrap_or(-1.0),
        cat.popularity.unwrap_or(0.0),
        cs.popularity().unwrap_or(-1.0),
        popularity_median,
        p.catalogue.members as f64,
    ]);
    debug_assert_eq!(f.len(), FEATURES.len());
    f.into_iter().map(|x| x as f32).collect()
}

/// [`features_normed`] of many candidates, on the worker pool when they are many (the same
/// values, in order).
pub fn features_of(p: &PlaylistSignals, n: &PlaylistNorms, cands: &[&CandidateSignals]) -> Vec<Vec<f32>> {
    // a block at a time: the block's dot products in one pass, then each candidate's features
    let block = |b: &[&CandidateSignals]| -> Vec<Vec<f32>> {
        let (dots, at) = block_dots(n, b.iter().copied());
        b.iter().zip(&at).map(|(c, a)| features_with(p, n, c, a.map(|a| &dots[a..]))).collect()
    };
    if cands.len() >= 256 {
        use rayon::prelude::*;
        crate::scoring::pool().install(|| cands.par_chunks(64).flat_map_iter(block).collect())
    } else {
        cands.chunks(64).flat_map(block).collect()
    }
}

/// The ranker's raw score mapped to (0, 1) for blending with stage 1.
pub fn squash(score: f32) -> f64 {
    1.0 / (1.0 + (-(score as f64)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{profile as cat_profile, track_of};
    use crate::signals::TrackSignals;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn vector_follows_the_names() {
        let members = vec![vec![1.0f32, 0.0], vec![0.0, 1.0], vec![0.6, 0.8]];
        let rows = [
            json!({"artist": "A", "album": "X", "release_date": "2000", "popularity": 50}),
            json!({"artist": "A", "album": "Y", "release_date": "2004", "popularity": 70}),
        ];
        let p = PlaylistSignals {
            centroid: Some(vec![1.0, 0.0]),
            members,
            query: None,
            audio: profile::audio_stats(&[profile::audio_of(&json!({"audio": {"energy": 0.5}}))]),
            genres: BTreeMap::new(),
            emotions: BTreeMap::new(),
            catalogue: cat_profile(&rows.iter().map(track_of).collect::<Vec<_>>()),
        };
        let signals = TrackSignals {
            audio: profile::audio_of(&json!({"audio": {"energy": 0.7}})),
            genres: BTreeMap::new(),
            catalogue: track_of(&json!({"artist": "A feat. B", "album": "X", "release_date": "2001", "popularity": 60})),
        };
        let c = CandidateSignals::new(1, Some(vec![1.0, 0.0].into()), &signals, BTreeMap::new());
        let f = features(&p, &c);
        assert_eq!(f.len(), FEATURES.len());
        let v = |name: &str| f[FEATURES.iter().position(|n| *n == name).unwrap()];
        assert_eq!((v("members_top1"), v("has_embedding"), v("has_query"), v("query")), (1.0, 1.0, 0.0, 0.0));
        assert!((v("members_top3") - (1.0 + 0.6 + 0.0) / 3.0).abs() < 1e-6);
        assert!((v("audio_z_energy") - 0.2 / 0.1).abs() < 1e-5); // one member: σ = 0
        assert_eq!(v("audio_z_tempo"), -1.0);
        assert_eq!((v("artist_count"), v("artist_share"), v("album_share")), (2.0, 1.0, 0.5));
        // years 2000, 2004: median 2002, MAD 2 -> spread 2.9652
        assert_eq!((v("year"), v("year_median"), v("year_delta")), (2001.0, 2002.0, 1.0));
        assert_eq!((v("popularity"), v("popularity_median"), v("popularity_delta")), (60.0, 60.0, 0.0));
        assert_eq!(v("members"), 2.0);
        assert!(f.iter().all(|x| x.is_finite()));
        // nothing known: still finite, with the documented sentinels
        let bare = CandidateSignals::new(1, None, &TrackSignals::default(), BTreeMap::new());
        let g = features(&p, &bare);
        assert!(g.iter().all(|x| x.is_finite()));
        assert_eq!((g[4], g[20], g[25]), (0.0, -1.0, -1.0));
        assert!((squash(0.0) - 0.5).abs() < 1e-12);
        // many at once (blocks of dot products, on the worker pool): the same features, in order
        let many: Vec<CandidateSignals> = (0..300)
            .map(|i| {
                let t = i as f32 * 0.05;
                let e = (i % 7 != 0).then(|| vec![t.cos(), t.sin()].into());
                CandidateSignals::new(i, e, &signals, BTreeMap::new())
            })
            .collect();
        let refs: Vec<&CandidateSignals> = many.iter().collect();
        let n = PlaylistNorms::of(&p);
        for count in [1, 5, 300] {
            let one: Vec<Vec<f32>> = refs[..count].iter().map(|c| features_normed(&p, &n, c)).collect();
            assert_eq!(features_of(&p, &n, &refs[..count]), one, "{count}");
        }
    }
}
