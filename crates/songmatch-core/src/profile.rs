//! Profile maths: normalised centroids, audio-feature statistics, genre and emotion-bucket
//! distributions. A playlist profile is built from its member tracks' artifacts; a track's
//! audio features and genres come from its analysis JSON.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Audio features used for similarity, with the scale that maps each to roughly [0, 1].
pub const AUDIO_FEATURES: [(&str, f64, f64); 9] = [
    // (name, offset, divisor): scaled = (x - offset) / divisor
    ("danceability", 0.0, 1.0),
    ("energy", 0.0, 1.0),
    ("valence", 0.0, 1.0),
    ("acousticness", 0.0, 1.0),
    ("instrumentalness", 0.0, 1.0),
    ("speechiness", 0.0, 1.0),
    ("liveness", 0.0, 1.0),
    ("tempo", 40.0, 180.0),
    ("loudness", -40.0, 40.0),
];

/// A track's scaled audio features (None where the analysis lacks one).
pub type Audio = [Option<f64>; 9];

pub fn audio_of(analysis: &Value) -> Audio {
    let mut out: Audio = [None; 9];
    if let Some(a) = analysis.get("audio").and_then(Value::as_object) {
        for (i, (name, off, div)) in AUDIO_FEATURES.iter().enumerate() {
            out[i] = a.get(*name).and_then(Value::as_f64).filter(|x| x.is_finite()).map(|x| ((x - off) / div).clamp(-0.5, 1.5));
        }
    }
    out
}

/// Mean and standard deviation per feature over the tracks that have it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AudioStats {
    pub mean: [Option<f64>; 9],
    pub std: [Option<f64>; 9],
}

pub fn audio_stats(tracks: &[Audio]) -> AudioStats {
    let mut s = AudioStats::default();
    for i in 0..9 {
        let xs: Vec<f64> = tracks.iter().filter_map(|t| t[i]).collect();
        if xs.is_empty() {
            continue;
        }
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64;
        s.mean[i] = Some(m);
        s.std[i] = Some(v.sqrt());
    }
    s
}

impl AudioStats {
    pub fn to_json(&self) -> (Value, Value) {
        let mut mean = Map::new();
        let mut std = Map::new();
        for (i, (name, _, _)) in AUDIO_FEATURES.iter().enumerate() {
            if let (Some(m), Some(s)) = (self.mean[i], self.std[i]) {
                mean.insert(name.to_string(), json!(round6(m)));
                std.insert(name.to_string(), json!(round6(s)));
            }
        }
        (Value::Object(mean), Value::Object(std))
    }

    /// Similarity in (0, 1] of a track's features to this distribution:
    /// exp(-½ · mean over shared features of ((x − μ) / (σ + 0.1))²); None without shared features.
    pub fn similarity(&self, a: &Audio) -> Option<f64> {
        let mut sum = 0.0;
        let mut n = 0usize;
        for ((x, m), s) in a.iter().zip(&self.mean).zip(&self.std) {
            if let (Some(x), Some(m), Some(s)) = (x, m, s) {
                let z = (x - m) / (s + 0.1);
                sum += z * z;
                n += 1;
            }
        }
        (n > 0).then(|| (-0.5 * sum / n as f64).exp())
    }
}

pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Genre weights of one track from its analysis: primary 1.0, each secondary 0.5
/// (lower-cased, trimmed). Accepts `{"primary", "secondary"}`, a list, or a string.
pub fn genres_of(analysis: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut add = |g: &str, w: f64| {
        let g = g.trim().to_lowercase();
        if !g.is_empty() {
            let e = out.entry(g).or_insert(0.0f64);
            *e = e.max(w);
        }
    };
    match analysis.get("genres") {
        Some(Value::Object(o)) => {
            if let Some(p) = o.get("primary").and_then(Value::as_str) {
                add(p, 1.0);
            }
            if let Some(Value::Array(sec)) = o.get("secondary") {
                sec.iter().filter_map(Value::as_str).for_each(|g| add(g, 0.5));
            }
        }
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).for_each(|g| add(g, 1.0)),
        Some(Value::String(s)) => add(s, 1.0),
        _ => {}
    }
    out
}

/// The Ekman-bucket distribution of an emotions JSON (`emotions_json`'s `ekman` object).
pub fn ekman_of(v: &Value) -> BTreeMap<String, f64> {
    v.get("ekman")
        .and_then(Value::as_object)
        .map(|o| o.iter().filter_map(|(k, x)| x.as_f64().map(|f| (k.clone(), f))).collect())
        .unwrap_or_default()
}

/// The mean of bucket distributions (a bucket missing from one counts 0 there), rounded to 6
/// decimals: a playlist's emotion profile from its members'.
pub fn mean_buckets(items: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    for d in items {
        for (k, v) in d {
            *m.entry(k.clone()).or_insert(0.0) += v;
        }
    }
    let n = items.len().max(1) as f64;
    m.values_mut().for_each(|v| *v = round6(*v / n));
    m
}

/// A playlist's genre distribution: member weights summed and normalised to 1.
pub fn genre_distribution(tracks: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let mut d: BTreeMap<String, f64> = BTreeMap::new();
    for t in tracks {
        for (g, w) in t {
            *d.entry(g.clone()).or_insert(0.0) += w;
        }
    }
    normalise(d)
}

pub fn normalise(mut d: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let total: f64 = d.values().sum();
    if total > 0.0 {
        d.values_mut().for_each(|v| *v = round6(*v / total));
    }
    d
}

/// How much of a playlist's genre distribution a track's genres cover, in [0, 1]:
/// Σ over the track's genres of the playlist share, each weighted by the track's weight.
pub fn genre_overlap(playlist: &BTreeMap<String, f64>, track: &BTreeMap<String, f64>) -> Option<f64> {
    genre_overlap_of(playlist, track.iter().map(|(g, w)| (g.as_str(), *w)))
}

/// [`genre_overlap`] of a track's genres given in the map's order.
pub fn genre_overlap_of<'a>(playlist: &BTreeMap<String, f64>, track: impl Iterator<Item = (&'a str, f64)> + Clone) -> Option<f64> {
    if playlist.is_empty() || track.clone().next().is_none() {
        return None;
    }
    let max_w: f64 = track.clone().map(|(_, w)| w).fold(0.0, f64::max);
    let s: f64 = track.map(|(g, w)| playlist.get(g).copied().unwrap_or(0.0) * w / max_w).sum();
    Some(s.min(1.0))
}

/// The mean of unit vectors, normalised to unit length (None for no vectors).
pub fn centroid(vectors: &[&[f32]]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    let mut c = vec![0f32; first.len()];
    for v in vectors {
        for (a, b) in c.iter_mut().zip(v.iter()) {
            *a += *b;
        }
    }
    let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        c.iter_mut().for_each(|x| *x /= norm);
    }
    Some(c)
}

/// Dot product in f64 (f32 inputs widened), the hot loop of stage 1: with AVX2 and FMA (checked
/// at run time) four lanes at a time, else eight independent lanes the compiler vectorises.
/// Equal to a sequential f64 sum to ~1e-15.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    crate::sys::dot_simd(a, b).unwrap_or_else(|| dot_lanes(a, b))
}

fn dot_lanes(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] as f64 * y[i] as f64;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += *x as f64 * *y as f64;
    }
    s
}

/// Euclidean norm in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Cosine of two vectors whose norms are known; 0 when either is a zero vector.
pub fn cosine_normed(a: &[f32], na: f64, b: &[f32], nb: f64) -> f64 {
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot(a, b) / (na * nb)
    }
}

/// Cosine similarity (inputs need not be normalised); 0 for a zero vector.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    cosine_normed(a, norm(&a[..n]), b, norm(&b[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_scaling_and_stats() {
        let a = audio_of(&json!({"audio": {"energy": 0.5, "tempo": 130.0, "loudness": -10.0, "key": 3}}));
        assert_eq!(a[1], Some(0.5));
        assert_eq!(a[7], Some(0.5));
        assert_eq!(a[8], Some(0.75));
        assert_eq!(a[0], None);
        let b = audio_of(&json!({"audio": {"energy": 0.7}}));
        let s = audio_stats(&[a, b]);
        assert!((s.mean[1].unwrap() - 0.6).abs() < 1e-12);
        assert!((s.std[1].unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(s.mean[7], Some(0.5));
        assert_eq!(s.std[7], Some(0.0));
        // identical features give similarity 1; far ones less
        assert_eq!(s.similarity(&audio_of(&json!({"audio": {"energy": 0.6, "tempo": 130.0}}))), Some(1.0));
        let far = s.similarity(&audio_of(&json!({"audio": {"energy": 0.0}}))).unwrap();
        assert!((far - (-0.5f64 * 9.0).exp()).abs() < 1e-9, "{far}");
        assert_eq!(s.similarity(&[None; 9]), None);
    }

    #[test]
    fn emotion_buckets() {
        let a = ekman_of(&json!({"ekman": {"joy": 0.6, "sadness": 0.2, "bad": "x"}}));
        assert_eq!(a, BTreeMap::from([("joy".into(), 0.6), ("sadness".into(), 0.2)]));
        assert!(ekman_of(&json!({"labels": {}})).is_empty());
        let b = BTreeMap::from([("joy".to_string(), 0.2), ("anger".to_string(), 0.4)]);
        // joy (0.6 + 0.2) / 2, sadness 0.2 / 2, anger 0.4 / 2
        assert_eq!(mean_buckets(&[a, b]), BTreeMap::from([("anger".into(), 0.2), ("joy".into(), 0.4), ("sadness".into(), 0.1)]));
        assert!(mean_buckets(&[]).is_empty());
    }

    #[test]
    fn genres() {
        let g = genres_of(&json!({"genres": {"primary": "Indie Folk", "secondary": ["acoustic", "indie folk"]}}));
        assert_eq!(g, BTreeMap::from([("acoustic".into(), 0.5), ("indie folk".into(), 1.0)]));
        let d = genre_distribution(&[g.clone(), genres_of(&json!({"genres": ["acoustic"]}))]);
        // acoustic 0.5 + 1.0, indie folk 1.0 → 0.6 / 0.4
        assert_eq!(d, BTreeMap::from([("acoustic".into(), 0.6), ("indie folk".into(), 0.4)]));
        // 0.6 · 0.5/1.0 + 0.4 · 1.0/1.0
        assert!((genre_overlap(&d, &g).unwrap() - 0.7).abs() < 1e-12);
        assert_eq!(genre_overlap(&d, &BTreeMap::new()), None);
    }

    #[test]
    fn centroid_and_cosine() {
        let c = centroid(&[&[1.0, 0.0], &[0.0, 1.0]]).unwrap();
        assert!((c[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!((cosine(&c, &[1.0, 1.0]) - 1.0).abs() < 1e-9);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!(centroid(&[]).is_none());
    }

    #[test]
    fn lane_dot_equals_the_sequential_sum() {
        for n in [0usize, 1, 7, 8, 9, 384, 1023] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 53 % 89) as f32 - 44.0) / 13.0).collect();
            let seq: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) - seq).abs() <= 1e-12 * (1.0 + seq.abs()), "n={n}");
            let (na, nb) =
                (a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt(), b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt());
            if n > 0 {
                assert!((cosine(&a, &b) - seq / (na * nb)).abs() < 1e-12, "n={n}");
            }
        }
        // shorter of the two, like zip
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
        // the portable lanes and the SIMD path agree
        let a: Vec<f32> = (0..389).map(|i| ((i * 31 % 97) as f32 - 48.0) / 7.0).collect();
        let b: Vec<f32> = (0..389).map(|i| ((i * 17 % 83) as f32 - 41.0) / 5.0).collect();
        assert!((dot(&a, &b) - dot_lanes(&a, &b)).abs() < 1e-9 * (1.0 + dot_lanes(&a, &b).abs()));
    }
}
