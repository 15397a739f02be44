//! Discovery's screen: stage 1 over every track of the feature store, to find the candidates of
//! a recommendation without missing any that the exact ranking over the whole catalogue keeps.
//!
//! Nearest neighbours of a playlist's vectors are candidates by one signal only; stage 1 also
//! weighs audio, year, popularity, genres and shared artists and albums, so the tracks it ranks
//! first are often nobody's nearest neighbour. The screen scores every track the store has (its
//! vector and signals read in place) with stage 1 itself, the dot products summed in f32 rather
//! than f64 (half the memory traffic, twice the lanes). Each such cosine is within
//! [`cosine_error`] of the exact one, so each score is within it too (the embedding signals'
//! weights are a share of the weights summed); keeping every track whose screened score is within
//! twice that of the `keep`-th best keeps every track of the exact `keep` best. Stage 1 then
//! ranks the kept tracks exactly: the recommendations are those of `match_playlist` over every
//! track of the catalogue.

use crate::scoring::{self, Cand, Config, PlaylistNorms, PlaylistSignals};
use crate::signals::Signals;
use crate::store::Store;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

/// A score ordered by `total_cmp`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f64);

impl Eq for Score {}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What the screen kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Screened {
    /// The store positions of the candidates, ascending (the ids' order).
    pub positions: Vec<usize>,
    /// Tracks scored.
    pub scored: usize,
    /// Tracks left out unscored: what their numbers score, plus the most their strings could
    /// add, is below the `keep` best by more than the margin.
    pub bounded: usize,
    /// Tracks kept without a score: their stored signals do not read (stage 1 reads them from
    /// their rows).
    pub unscored: usize,
}

/// The largest error of a cosine of two `dims`-long f32 vectors whose dot product and the
/// candidate's norm are summed in f32 in any order (the playlist's norms in f64): γ(dims + 2) with
/// f32's unit roundoff for the dot product (the products' rounding included), as much again for
/// the norm (its square's error halved, and the division's), with a margin.
pub fn cosine_error(dims: usize) -> f64 {
    let u = f32::EPSILON as f64 / 2.0;
    let n = (dims + 2) as f64;
    2.0 * 1.01 * n * u / (1.0 - n * u) + 1e-12
}

/// Rows a task of the screen takes at least, and rows a call of the kernel takes.
const TASK: usize = 1024;
const STEP: usize = 64;

/// The tracks a screen goes over.
#[derive(Clone, Copy)]
pub enum Over<'a> {
    /// Every track of the store with an embedding, but those the function says (by id):
    /// discovery's candidates.
    AllBut(&'a (dyn Fn(i64) -> bool + Sync)),
    /// The tracks at these positions of the store (ascending, distinct): a match's candidates.
    /// One the screen cannot score (no embedding or signals there) is kept.
    Positions(&'a [usize]),
}

/// Which of a match's candidates the screen keeps for stage 2's `window`: those at `positions`
/// of the store (None: not in the store, always kept) that may rank among stage 1's best
/// `window`, and the screen's account. None when the screen is not worth it (at most twice the
/// window's candidates) or cannot stand for stage 1 (see [`screen`]); then every candidate stays.
pub fn kept(
    p: &PlaylistSignals,
    cfg: &Config,
    store: &Store<'_>,
    floats: &[f32],
    dims: usize,
    positions: &[Option<usize>],
    window: usize,
) -> Option<(Vec<bool>, Screened)> {
    if positions.len() <= 2 * (window + 1) {
        return None;
    }
    // (position, candidate) ascending by position
    let mut at: Vec<(usize, usize)> = positions.iter().enumerate().filter_map(|(i, p)| p.map(|p| (p, i))).collect();
    at.sort_unstable();
    let given: Vec<usize> = at.iter().map(|(p, _)| *p).collect();
    let s = screen(p, cfg, store, floats, dims, Over::Positions(&given), window + 1)?;
    let mut kept: Vec<bool> = positions.iter().map(Option::is_none).collect();
    for p in &s.positions {
        if let Ok(j) = given.binary_search(p) {
            kept[at[j].1] = true;
        }
    }
    Some((kept, s))
}

/// The tracks of `store` (its embeddings `floats`, `dims` apiece) that stage 1 under `cfg` may
/// rank among the `keep` best for playlist `p`, of those `over` names. None when the screen cannot
/// stand for stage 1: the playlist's vectors are not all `dims` long, or emotions are weighed (the
/// store has none), or a position is not the store's.
pub fn screen(
    p: &PlaylistSignals,
    cfg: &Config,
    store: &Store<'_>,
    floats: &[f32],
    dims: usize,
    over: Over<'_>,
    keep: usize,
) -> Option<Screened> {
    let tracks = store.header.tracks as usize;
    let vectors: Vec<&Vec<f32>> = p.members.iter().chain(p.centroid.as_ref()).chain(p.query.as_ref()).collect();
    let emotions = cfg.weights.get("emotion").copied().unwrap_or(0.0) > 0.0;
    if dims == 0 || floats.len() != tracks * dims || vectors.iter().any(|v| v.len() != dims) || emotions {
        return None;
    }
    // slot i of the screen is position i of the store, or the i-th position given
    let (n, given) = match over {
        Over::AllBut(_) => (tracks, None),
        Over::Positions(at) => {
            if at.windows(2).any(|w| w[0] >= w[1]) || at.last().is_some_and(|l| *l >= tracks) {
                return None;
            }
            (at.len(), Some(at))
        }
    };
    let position = |slot: usize| given.map_or(slot, |at| at[slot]);
    let q = vectors.len();
    let queries: Vec<f32> = vectors.iter().flat_map(|v| v.iter().copied()).collect();
    let norms = PlaylistNorms::of(p);
    // 1 / each vector's norm (0 for a zero vector: its cosines are 0, as stage 1 has them)
    let inv = |x: f64| if x == 0.0 { 0.0 } else { 1.0 / x };
    let inverse: Vec<f64> = norms.members.iter().map(|x| inv(*x)).collect();
    let k = p.members.len();
    let vs = Vectors {
        k,
        top: cfg.members_top_k.min(k),
        centroid: p.centroid.as_ref().map(|_| (k, inv(norms.centroid))),
        query: p.query.as_ref().map(|_| (k + p.centroid.is_some() as usize, inv(norms.query))),
        inverse,
    };
    let w = scoring::signal_weights(cfg);
    let none = BTreeMap::new();
    let margin = 2.0 * cosine_error(dims);
    // what the strings (shared artists and album, genres) can add to a score at most: the
    // largest share of the members an artist or an album has, and a full genre overlap
    let largest = |m: &BTreeMap<String, usize>| m.values().max().copied().unwrap_or(0) as f64 / p.catalogue.members.max(1) as f64;
    let strings = if p.catalogue.members > 0 { w[6] * largest(&p.catalogue.artists) + w[7] * largest(&p.catalogue.albums) } else { 0.0 };
    let genres = (!p.genres.is_empty()).then_some(w[4]);
    // one task: (score, position) of each track scored, the positions kept unscored, and how
    // many tracks were left out by their bound
    type Part = (Vec<(f64, usize)>, Vec<usize>, usize);
    let task = |from: usize, to: usize| -> Part {
        let mut scored = Vec::with_capacity(to - from);
        let mut unscored = Vec::new();
        let mut bounded = 0usize;
        // the task's `keep` best scores so far (a min-heap): a track whose bound is below the
        // worst of them by more than the margin is not among the `keep` best of all
        let mut kept: BinaryHeap<Reverse<Score>> = BinaryHeap::with_capacity(keep + 1);
        let mut dots = vec![0f32; STEP * q];
        let mut sq = vec![0f32; STEP];
        let mut best: Vec<f64> = Vec::with_capacity(vs.top + 1);
        // (the rows of positions apart, copied together)
        let mut gathered: Vec<f32> = Vec::new();
        let mut at = from;
        while at < to {
            let end = (at + STEP).min(to);
            let (first, last) = (position(at), position(end - 1));
            let rows: &[f32] = if last - first == end - 1 - at {
                &floats[first * dims..(last + 1) * dims]
            } else {
                gathered.clear();
                for slot in at..end {
                    let pos = position(slot);
                    gathered.extend_from_slice(&floats[pos * dims..(pos + 1) * dims]);
                }
                &gathered
            };
            let out = &mut dots[..(end - at) * q];
            if q > 0 {
                crate::sys::dots_f32(rows, &queries, dims, out);
            }
            crate::sys::sq_norms_f32(rows, dims, &mut sq[..end - at]);
            for (r, e) in rows.chunks_exact(dims).enumerate() {
                let pos = position(at + r);
                let stored = store.stored_at(pos);
                let (bytes, id) = match (over, stored) {
                    (Over::AllBut(skip), Some((bytes, true))) => {
                        let id = store.id_at(pos);
                        if skip(id) {
                            continue;
                        }
                        (bytes, id)
                    }
                    (Over::AllBut(_), _) => continue,
                    (Over::Positions(_), Some((bytes, true))) => (bytes, store.id_at(pos)),
                    (Over::Positions(_), _) => {
                        unscored.push(pos);
                        continue;
                    }
                };
                let Some(head) = bytes.and_then(|b| Signals::head(b).ok()) else {
                    unscored.push(pos);
                    continue;
                };
                let emb = vs.signals(&out[r * q..(r + 1) * q], sq[r], e, &mut best);
                let floor = if kept.len() == keep { kept.peek().map_or(f64::NEG_INFINITY, |s| s.0 .0) - margin } else { f64::NEG_INFINITY };
                // the score without the strings, and the most they could add
                let mut l = scoring::numbers(p, Cand { track_id: id, embedding: Some(e), signals: head, emotions: &none }, Some(emb));
                l.finish(&w);
                let sum: f64 = (0..w.len()).filter(|i| l.present & (1 << i) != 0).map(|i| w[i] * l.values[i]).sum();
                let bound = |extra: f64, weight: f64| if l.wsum + weight > 0.0 { (sum + strings + extra) / (l.wsum + weight) } else { 0.0 };
                // (with genres, or without: the head does not say)
                let upper = match genres {
                    Some(g) => bound(0.0, 0.0).max(bound(g, g)),
                    None => bound(0.0, 0.0),
                };
                if upper < floor {
                    bounded += 1;
                    continue;
                }
                let Some(signals) = bytes.and_then(|b| Signals::parse(b).ok()) else {
                    unscored.push(pos);
                    continue;
                };
                scoring::strings(p, &mut l, signals);
                l.finish(&w);
                let s = l.stage1;
                scored.push((s, pos));
                if keep > 0 {
                    kept.push(Reverse(Score(s)));
                    if kept.len() > keep {
                        kept.pop();
                    }
                }
            }
            at = end;
        }
        (scored, unscored, bounded)
    };
    let parts: Vec<Part> = if n >= 2 * TASK {
        use rayon::prelude::*;
        let size = n.div_ceil(4 * scoring::pool().current_num_threads()).max(TASK);
        scoring::pool().install(|| (0..n.div_ceil(size)).into_par_iter().map(|t| task(t * size, ((t + 1) * size).min(n))).collect())
    } else {
        vec![task(0, n)]
    };
    let mut all: Vec<(f64, usize)> = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
    let mut positions: Vec<usize> = Vec::new();
    let mut bounded = 0;
    for (s, u, b) in parts {
        all.extend(s);
        positions.extend(u);
        bounded += b;
    }
    let (scored, unscored) = (all.len(), positions.len());
    if keep > 0 && keep < all.len() {
        all.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
        let floor = all[keep - 1].0 - margin;
        positions.extend(all.iter().filter(|(s, _)| *s >= floor).map(|(_, at)| *at));
    } else if keep > 0 {
        positions.extend(all.iter().map(|(_, at)| *at));
    }
    positions.sort_unstable();
    Some(Screened { positions, scored, bounded, unscored })
}

/// The playlist's vectors as the screen meets them: `k` members, the best `top` of which count,
/// then the centroid and the query where there are ((index among the products, 1 / norm)); the
/// members' norms' inverses (0 for a zero vector: its cosines are 0, as stage 1 has them).
struct Vectors {
    k: usize,
    top: usize,
    centroid: Option<(usize, f64)>,
    query: Option<(usize, f64)>,
    inverse: Vec<f64>,
}

impl Vectors {
    /// A candidate's embedding signals from its f32 dot products with the playlist's vectors;
    /// `best`: scratch space.
    fn signals(&self, dots: &[f32], sq: f32, e: &[f32], best: &mut Vec<f64>) -> scoring::EmbeddingSignals {
        let mut ne = (sq as f64).sqrt();
        if ne < 1e-18 {
            // (a vector so small that f32 squares lose it: its norm in f64)
            ne = crate::profile::norm(e);
        }
        let scale = if ne == 0.0 { 0.0 } else { 1.0 / ne };
        // the best member products (each times its norm's inverse): the largest in four
        // independent lanes (members_top_k 1, the default), else the best few kept sorted
        best.clear();
        let (d, inv) = (&dots[..self.k], &self.inverse[..self.k]);
        if self.top == 1 {
            let mut lanes = [f64::NEG_INFINITY; 4];
            let (dc, ic) = (d.chunks_exact(4), inv.chunks_exact(4));
            let tail = dc.remainder().iter().zip(ic.remainder()).map(|(d, i)| *d as f64 * i);
            for (d, i) in dc.zip(ic) {
                for l in 0..4 {
                    let c = d[l] as f64 * i[l];
                    lanes[l] = if c > lanes[l] { c } else { lanes[l] };
                }
            }
            let m = lanes.into_iter().chain(tail).fold(f64::NEG_INFINITY, |a, b| if b > a { b } else { a });
            if self.k > 0 {
                best.push(m);
            }
        } else {
            for c in d.iter().zip(inv).map(|(d, i)| *d as f64 * i) {
                if best.len() < self.top || best.last().is_some_and(|l| c > *l) {
                    let at = best.partition_point(|x| *x >= c);
                    best.insert(at, c);
                    best.truncate(self.top);
                }
            }
        }
        let cos = |(j, inv): (usize, f64)| dots[j] as f64 * inv * scale;
        scoring::EmbeddingSignals {
            members: (!best.is_empty()).then(|| best.iter().sum::<f64>() * scale / best.len() as f64),
            centroid: self.centroid.map(cos),
            query: self.query.map(cos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::profile;
    use crate::scoring::CandidateSignals;
    use crate::signals::TrackSignals;
    use crate::store::StoreWriter;
    use serde_json::json;
    use std::io::Cursor;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() * n as f64) as usize % n
        }
    }

    /// A catalogue of `n` tracks of `dims`-long vectors; every 7th a copy of the one before it
    /// (vector and signals: exact ties), every 11th without an embedding, every 13th without
    /// signals.
    fn catalogue(n: usize, dims: usize, seed: u64) -> (Vec<u8>, Vec<(i64, Option<Vec<f32>>, Option<TrackSignals>)>) {
        let mut rng = Rng(seed);
        let mut rows: Vec<(i64, Option<Vec<f32>>, Option<TrackSignals>)> = Vec::new();
        for i in 0..n {
            let id = 10 + 3 * i as i64;
            if i % 7 == 6 {
                let (_, e, s) = rows[i - 1].clone();
                rows.push((id, e, s));
                continue;
            }
            let e = (i % 11 != 5).then(|| (0..dims).map(|_| rng.next() as f32 - 0.5).collect::<Vec<f32>>());
            let track = json!({"artist": format!("artist {}", rng.below(40)), "album": format!("album {}", rng.below(90)),
                               "release_date": format!("{}-01-01", 1960 + rng.below(60)), "popularity": rng.below(100)});
            let genres = ["pop", "rock", "jazz", "folk", "soul"];
            let analysis = json!({"genres": [genres[rng.below(5)], genres[rng.below(5)]],
                                  "audio": {"energy": rng.next(), "valence": rng.next(), "tempo": 60.0 + 120.0 * rng.next()}});
            let s = (i % 13 != 4).then(|| TrackSignals::of(&track, &analysis));
            rows.push((id, e, s));
        }
        let mut w = StoreWriter::new(Cursor::new(Vec::new()), dims).unwrap();
        for (id, e, s) in &rows {
            w.push(*id, &format!("hash-{id}"), s.as_ref().map(|s| s.encode()).as_deref(), e.as_deref()).unwrap();
        }
        (w.finish("epoch", 1, "m", "v").unwrap().0.into_inner(), rows)
    }

    fn playlist(rows: &[(i64, Option<Vec<f32>>, Option<TrackSignals>)], members: &[usize], query: Option<Vec<f32>>) -> PlaylistSignals {
        let vs: Vec<Vec<f32>> = members.iter().filter_map(|&i| rows[i].1.clone()).collect();
        let refs: Vec<&[f32]> = vs.iter().map(|v| v.as_slice()).collect();
        let sig: Vec<TrackSignals> = members.iter().filter_map(|&i| rows[i].2.clone()).collect();
        PlaylistSignals {
            centroid: profile::centroid(&refs),
            members: vs.clone(),
            query,
            audio: profile::audio_stats(&sig.iter().map(|s| s.audio).collect::<Vec<_>>()),
            genres: profile::genre_distribution(&sig.iter().map(|s| s.genres.clone()).collect::<Vec<_>>()),
            emotions: BTreeMap::new(),
            catalogue: catalogue::profile(&sig.iter().map(|s| s.catalogue.clone()).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn the_screen_keeps_every_track_of_the_exact_best_on_both_paths() {
        for (n, dims, keep, top) in [(300usize, 24usize, 20usize, 1usize), (5000, 384, 60, 1), (4500, 40, 200, 3), (50, 8, 500, 1)] {
            let (bytes, rows) = catalogue(n, dims, n as u64);
            let store = Store::open(&bytes).unwrap();
            let floats = store.floats().unwrap();
            let members = [3usize, 17, 18, 40, 41];
            let query: Vec<f32> = (0..dims).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut p = playlist(&rows, &members, Some(query));
            if top == 3 {
                // (a query and no centroid: the products' places)
                p.centroid = None;
            }
            let mut cfg = Config { members_top_k: top, ..Config::default() };
            cfg.weights.insert("centroid".into(), 0.05);
            let member_ids: Vec<i64> = members.iter().map(|&i| rows[i].0).collect();
            let skip = |id: i64| member_ids.contains(&id);
            let got = screen(&p, &cfg, &store, floats, dims, Over::AllBut(&skip), keep).unwrap();
            // the exact ranking of every track with an embedding, but the members
            let cands: Vec<CandidateSignals> = rows
                .iter()
                .filter(|(id, e, _)| e.is_some() && !skip(*id))
                .map(|(id, e, s)| CandidateSignals::new(*id, e.clone().map(Into::into), &s.clone().unwrap_or_default(), BTreeMap::new()))
                .collect();
            let with_signals = rows.iter().filter(|(id, e, s)| e.is_some() && s.is_some() && !skip(*id)).count();
            assert_eq!(got.scored + got.bounded, with_signals, "n {n}");
            eprintln!("n {n}: bounded {}", got.bounded);
            assert_eq!(got.unscored, cands.len() - with_signals);
            let kept: Vec<i64> = got.positions.iter().map(|&at| store.id_at(at)).collect();
            assert!(kept.windows(2).all(|w| w[0] < w[1]), "ascending, once each");
            assert!(kept.iter().all(|id| !skip(*id)), "members are left out");
            for (id, _, s) in &rows {
                if s.is_none() && !skip(*id) && rows.iter().any(|r| r.0 == *id && r.1.is_some()) {
                    assert!(kept.contains(id), "a track without signals is kept for stage 1");
                }
            }
            let scored: Vec<CandidateSignals> =
                cands.iter().filter(|c| rows.iter().any(|r| r.0 == c.track_id && r.2.is_some())).cloned().collect();
            let exact = scoring::stage1_best(&p, &scored, &cfg, keep);
            for s in &exact {
                assert!(kept.contains(&s.track_id), "n {n}: {} (stage 1 {}) was screened out", s.track_id, s.stage1);
            }
            // stage 1 over what the screen kept ranks the kept tracks as over everything
            let narrowed: Vec<CandidateSignals> = scored.iter().filter(|c| kept.contains(&c.track_id)).cloned().collect();
            assert_eq!(scoring::stage1_best(&p, &narrowed, &cfg, keep), exact);
            if keep < with_signals {
                assert!(got.positions.len() - got.unscored < with_signals / 2, "n {n}: the screen narrows");
                // ties at the edge (copies) are kept together
                assert!(got.positions.len() - got.unscored >= keep);
            }
        }
    }

    #[test]
    fn the_screen_of_given_positions_keeps_every_track_of_their_exact_best() {
        for (n, dims, keep, every) in [(3000usize, 384usize, 40usize, 3usize), (2000, 24, 100, 1), (600, 16, 30, 5)] {
            let (bytes, rows) = catalogue(n, dims, 7 + n as u64);
            let store = Store::open(&bytes).unwrap();
            let floats = store.floats().unwrap();
            assert!((0..n).all(|i| store.id_at(i) == rows[i].0), "the store holds the rows in their order");
            let p = playlist(&rows, &[3, 17, 18, 40], Some((0..dims).map(|i| (i as f32 * 0.11).cos()).collect()));
            let cfg = Config::default();
            // a match's candidates: every `every`-th track and runs of neighbours (both paths of
            // the rows' reads), members among them, tracks without embedding or signals too
            let given: Vec<usize> = (0..n).filter(|i| i % every == 0 || (i / 100) % 4 == 1).collect();
            let got = screen(&p, &cfg, &store, floats, dims, Over::Positions(&given), keep).unwrap();
            assert!(got.positions.windows(2).all(|w| w[0] < w[1]));
            assert!(got.positions.iter().all(|at| given.binary_search(at).is_ok()), "only given tracks are kept");
            let unreadable: Vec<usize> = given.iter().copied().filter(|&i| rows[i].1.is_none() || rows[i].2.is_none()).collect();
            assert_eq!(got.unscored, unreadable.len());
            assert!(unreadable.iter().all(|at| got.positions.contains(at)), "what the screen cannot score is kept");
            assert_eq!(got.scored + got.bounded, given.len() - unreadable.len());
            let cands: Vec<CandidateSignals> = given
                .iter()
                .filter(|&&i| rows[i].1.is_some() && rows[i].2.is_some())
                .map(|&i| CandidateSignals::new(rows[i].0, rows[i].1.clone().map(Into::into), rows[i].2.as_ref().unwrap(), BTreeMap::new()))
                .collect();
            let exact = scoring::stage1_best(&p, &cands, &cfg, keep);
            let kept: Vec<i64> = got.positions.iter().map(|&at| rows[at].0).collect();
            for s in &exact {
                assert!(kept.contains(&s.track_id), "n {n}: {} (stage 1 {}) was screened out", s.track_id, s.stage1);
            }
            let narrowed: Vec<CandidateSignals> = cands.iter().filter(|c| kept.contains(&c.track_id)).cloned().collect();
            assert_eq!(scoring::stage1_best(&p, &narrowed, &cfg, keep), exact);
            assert!(got.positions.len() - got.unscored < cands.len() / 2, "n {n}: the screen narrows");
        }
        // positions out of order, repeated or beyond the store: no screen
        let (bytes, rows) = catalogue(40, 8, 3);
        let store = Store::open(&bytes).unwrap();
        let floats = store.floats().unwrap();
        let p = playlist(&rows, &[1, 2], None);
        let cfg = Config::default();
        assert!(screen(&p, &cfg, &store, floats, 8, Over::Positions(&[1, 5, 9]), 2).is_some());
        for bad in [&[5usize, 1][..], &[3, 3], &[1, 40]] {
            assert!(screen(&p, &cfg, &store, floats, 8, Over::Positions(bad), 2).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_screen_stands_aside_where_it_cannot_stand_for_stage_one() {
        let (bytes, rows) = catalogue(40, 8, 1);
        let store = Store::open(&bytes).unwrap();
        let floats = store.floats().unwrap();
        let p = playlist(&rows, &[1, 2], None);
        let cfg = Config::default();
        let none = |_: i64| false;
        assert!(screen(&p, &cfg, &store, floats, 8, Over::AllBut(&none), 5).is_some());
        // vectors of another length, a wrong slice, emotions that count
        let mut other = p.clone();
        other.query = Some(vec![1.0; 9]);
        assert!(screen(&other, &cfg, &store, floats, 8, Over::AllBut(&none), 5).is_none());
        assert!(screen(&p, &cfg, &store, &floats[8..], 8, Over::AllBut(&none), 5).is_none());
        let mut weighs = cfg.clone();
        weighs.weights.insert("emotion".into(), 0.2);
        assert!(screen(&p, &weighs, &store, floats, 8, Over::AllBut(&none), 5).is_none());
        // keep 0: nothing scored is kept
        let z = screen(&p, &cfg, &store, floats, 8, Over::AllBut(&none), 0).unwrap();
        assert_eq!(z.positions.len(), z.unscored);
        assert!(cosine_error(384) > 4.4e-5 && cosine_error(384) < 5e-5);
    }
}
