//! Exact nearest neighbours by cosine over vectors held in one block (the feature store's
//! embeddings): discovery's alternative to an approximate index when the catalogue's vectors are
//! at hand. Dot products in f32 (neighbours are only candidates: stage 1 scores them exactly).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// (cosine, position): ordered best first (higher cosine, then lower position).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hit(f32, usize);

impl Eq for Hit {}

impl Ord for Hit {
    /// Greater is worse, so that a max-heap's top is the worst hit kept.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Rows a task of the scan takes.
const TASK: usize = 2048;
/// Rows one call of the kernel takes (its products fit in a small buffer).
const STEP: usize = 64;

/// For each query, the positions of its `k` nearest vectors by cosine among the
/// `vectors.len() / dims` vectors of `vectors` (one after another), best first, ties by
/// position; vectors of norm 0 (none stored) are never neighbours. Queries of another length
/// than `dims`, or of norm 0, find nothing. On the worker pool for many vectors.
pub fn nearest(vectors: &[f32], dims: usize, queries: &[(&[f32], usize)]) -> Vec<Vec<usize>> {
    let n = vectors.len().checked_div(dims).unwrap_or(0);
    // the queries that can match, normalised, one after another
    let usable: Vec<usize> =
        (0..queries.len()).filter(|&i| queries[i].0.len() == dims && queries[i].1 > 0 && norm(queries[i].0) > 0.0).collect();
    let mut result = vec![Vec::new(); queries.len()];
    if n == 0 || usable.is_empty() {
        return result;
    }
    let mut qs: Vec<f32> = Vec::with_capacity(usable.len() * dims);
    for &i in &usable {
        let nq = norm(queries[i].0);
        qs.extend(queries[i].0.iter().map(|x| x / nq));
    }
    let ks: Vec<usize> = usable.iter().map(|&i| queries[i].1).collect();
    let q = usable.len();
    let scan = |from: usize, to: usize| -> Vec<BinaryHeap<Hit>> {
        let mut heaps: Vec<BinaryHeap<Hit>> = ks.iter().map(|k| BinaryHeap::with_capacity(k + 1)).collect();
        // each heap's worst cosine once full (rows come by position: one as good as the worst
        // comes after it, and is worse)
        let mut worst = vec![f32::NEG_INFINITY; q];
        let mut dots = vec![0f32; STEP * q];
        let mut at = from;
        while at < to {
            let end = (at + STEP).min(to);
            let rows = &vectors[at * dims..end * dims];
            let out = &mut dots[..(end - at) * q];
            crate::sys::dots_f32(rows, &qs, dims, out);
            for (r, row) in rows.chunks_exact(dims).enumerate() {
                let nr = norm(row);
                if nr == 0.0 {
                    continue;
                }
                for (j, heap) in heaps.iter_mut().enumerate() {
                    let c = out[r * q + j] / nr;
                    if c > worst[j] || heap.len() < ks[j] {
                        heap.push(Hit(c, at + r));
                        if heap.len() > ks[j] {
                            heap.pop();
                        }
                        if heap.len() == ks[j] {
                            worst[j] = heap.peek().map_or(f32::NEG_INFINITY, |h| h.0);
                        }
                    }
                }
            }
            at = end;
        }
        heaps
    };
    let parts: Vec<Vec<BinaryHeap<Hit>>> = if n >= 2 * TASK {
        use rayon::prelude::*;
        // (a few large tasks: each fills its heaps once)
        let task = n.div_ceil(4 * crate::scoring::pool().current_num_threads()).max(TASK);
        crate::scoring::pool().install(|| (0..n.div_ceil(task)).into_par_iter().map(|t| scan(t * task, ((t + 1) * task).min(n))).collect())
    } else {
        vec![scan(0, n)]
    };
    for (j, &i) in usable.iter().enumerate() {
        let mut all: Vec<Hit> = parts.iter().flat_map(|p| p[j].iter().copied()).collect();
        all.sort();
        all.truncate(ks[j]);
        result[i] = all.into_iter().map(|h| h.1).collect();
    }
    result
}

/// The Euclidean norm, in f32 ([`crate::sys::sq_norm_f32`]).
fn norm(v: &[f32]) -> f32 {
    crate::sys::sq_norm_f32(v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors(count: usize, dims: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..count * dims)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((x >> 33) as f64 / (1u64 << 31) as f64) as f32 - 0.5
            })
            .collect()
    }

    /// The same by sorting every cosine in f64.
    fn brute(vs: &[f32], dims: usize, q: &[f32], k: usize) -> Vec<(f64, usize)> {
        let nq = q.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let mut all: Vec<(f64, usize)> = vs
            .chunks_exact(dims)
            .enumerate()
            .filter_map(|(i, v)| {
                let nv = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                (nv > 0.0).then(|| (v.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() / (nv * nq), i))
            })
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(k);
        all
    }

    #[test]
    fn exact_neighbours_on_both_paths_with_every_shape() {
        for (n, dims) in [(10usize, 8usize), (5000, 384), (4100, 37), (3, 16)] {
            let mut vs = vectors(n, dims, n as u64);
            // a vector stored as zeros (none): never a neighbour
            vs[..dims].iter_mut().for_each(|x| *x = 0.0);
            let qv = vectors(6, dims, 5);
            let mut queries: Vec<(&[f32], usize)> = qv.chunks_exact(dims).zip([1usize, 5, 40, 7, 3, 2]).collect();
            let zero = vec![0f32; dims];
            let short = vec![1f32; dims - 1];
            queries.push((&zero, 3));
            queries.push((&short, 3));
            queries.push((&qv[..dims], 0));
            let got = nearest(&vs, dims, &queries);
            assert_eq!(got.len(), queries.len());
            for (i, (q, k)) in queries.iter().enumerate().take(6) {
                let want = brute(&vs, dims, q, *k);
                assert_eq!(got[i].len(), want.len());
                assert!(!got[i].contains(&0), "a zero vector is no neighbour");
                for (g, (c, w)) in got[i].iter().zip(&want) {
                    // the same neighbours, but for near ties (f32 sums): then as close
                    if g != w {
                        let cg = brute(&vs, dims, q, n).into_iter().find(|x| x.1 == *g).unwrap().0;
                        assert!((cg - c).abs() < 1e-5, "n {n} dims {dims} query {i}: {g} ({cg}) for {w} ({c})");
                    }
                }
            }
            assert!(got[6].is_empty() && got[7].is_empty() && got[8].is_empty());
        }
        assert!(nearest(&[], 4, &[(&[1.0, 0.0, 0.0, 0.0], 3)])[0].is_empty());
    }

    #[test]
    fn f32_products_equal_plain_sums() {
        for (n, q, dims) in [(9usize, 6usize, 384usize), (4, 4, 16), (5, 3, 21), (1, 1, 3)] {
            let (rows, queries) = (vectors(n, dims, 1), vectors(q, dims, 2));
            let mut out = vec![f32::NAN; n * q];
            assert!(crate::sys::dots_f32(&rows, &queries, dims, &mut out));
            for r in 0..n {
                for j in 0..q {
                    let want: f64 = (0..dims).map(|i| rows[r * dims + i] as f64 * queries[j * dims + i] as f64).sum();
                    assert!((out[r * q + j] as f64 - want).abs() < 1e-4, "{n} {q} {dims}");
                }
            }
        }
        assert!(!crate::sys::dots_f32(&[1.0; 5], &[1.0; 4], 4, &mut [0.0; 1]));
        // and the squared norms
        for (n, dims) in [(9usize, 384usize), (3, 21), (1, 3)] {
            let rows = vectors(n, dims, 3);
            let mut out = vec![f32::NAN; n];
            assert!(crate::sys::sq_norms_f32(&rows, dims, &mut out));
            for (r, o) in rows.chunks_exact(dims).zip(&out) {
                let want: f64 = r.iter().map(|x| (*x as f64).powi(2)).sum();
                assert!((*o as f64 - want).abs() < 1e-4 * want.max(1.0), "{n} {dims}");
            }
        }
        assert!(!crate::sys::sq_norms_f32(&[1.0; 5], 4, &mut [0.0; 1]));
    }
}
