//! Most of the core's `unsafe`, each behind a safe function: the AVX2 and AVX-512 dot products, the
//! worker threads' signal mask, and one ONNX Runtime C-API call the `ort` crate does not wrap.
//!
//! The rest stays beside the code it serves, each with its `SAFETY:` note: the `FloatSource` trait
//! (`scoring.rs`: unsafe to implement, its contract is that the memory stays unchanged), reading
//! the store's embeddings as f32s in place (`store.rs`, `align_to`), and a string of a signals
//! encoding that its layout's parse checked as UTF-8 (`signals.rs`, `from_utf8_unchecked`); the
//! tests of `signals.rs` and `store.rs` have one each too.

use ort::session::builder::SessionBuilder;
use ort::AsPointer;

/// The dot product of two equally long slices in f64 with AVX2 and FMA, when the CPU has them
/// (None otherwise, or for slices of different lengths).
pub fn dot_simd(a: &[f32], b: &[f32]) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if a.len() == b.len() && std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above), which is all `dot_avx2`
            // needs; it reads only within the two slices, whose lengths are equal.
            return Some(unsafe { dot_avx2(a, b) });
        }
    }
    let _ = (a, b);
    None
}

/// A dot product with AVX2 + FMA: 8 floats a step, widened to two 4-lane f64 accumulators.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `a.len() == b.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f64 {
    use std::arch::x86_64::*;
    let n = a.len();
    let chunks = n / 8;
    // SAFETY: every load reads 8 floats at offset 8·i with i < n / 8, inside both slices
    // (unaligned loads); the intrinsics need only the features this function enables.
    unsafe {
        let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for i in 0..chunks {
            let x = _mm256_loadu_ps(a.as_ptr().add(8 * i));
            let y = _mm256_loadu_ps(b.as_ptr().add(8 * i));
            lo = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), _mm256_cvtps_pd(_mm256_castps256_ps128(y)), lo);
            hi = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1)), hi);
        }
        let mut lanes = [0f64; 4];
        _mm256_storeu_pd(lanes.as_mut_ptr(), _mm256_add_pd(lo, hi));
        let mut s = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        for i in 8 * chunks..n {
            s += *a.get_unchecked(i) as f64 * *b.get_unchecked(i) as f64;
        }
        s
    }
}

/// The dot products of `e` with each of the `out.len()` vectors stored one after another in
/// `wide` (each `e.len()` long, already widened to f64), with AVX2 and FMA; false (nothing
/// written) when the CPU lacks them or the lengths do not fit. Each product is bit for bit the
/// one [`dot_simd`] gives for `e` and that vector in f32: the same widening, the same fused
/// multiply-adds in the same lanes and the same reduction; only the widening of `e` is shared by
/// four vectors at a time, and the vectors are widened once for all candidates.
pub fn dots_wide(e: &[f32], wide: &[f64], out: &mut [f64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if wide.len() == e.len() * out.len() && std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above); `wide` holds exactly
            // out.len() vectors of e.len() values, which is all dots_wide_avx2 reads.
            unsafe { dots_wide_avx2(e, wide, out) };
            return true;
        }
    }
    let _ = (e, wide, out);
    false
}

/// [`dots_wide`]'s kernel: four vectors a pass over `e`, two 4-lane f64 accumulators each.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `wide.len() == e.len() * out.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_wide_avx2(e: &[f32], wide: &[f64], out: &mut [f64]) {
    use std::arch::x86_64::*;
    let n = e.len();
    let chunks = n / 8;
    let reduce = |lo: __m256d, hi: __m256d, v: &[f64]| -> f64 {
        let mut lanes = [0f64; 4];
        // SAFETY: stores 4 f64 into a 4-element array; AVX is enabled for this function.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), _mm256_add_pd(lo, hi)) };
        let mut s = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        for i in 8 * chunks..n {
            s += e[i] as f64 * v[i];
        }
        s
    };
    // SAFETY: every load reads 8 floats of `e` at 8·i, or 4 doubles of a vector at 8·i and
    // 8·i + 4, with i < n / 8: inside `e` and inside that vector's n values of `wide`.
    unsafe {
        let mut j = 0;
        while j + 4 <= out.len() {
            let v: [&[f64]; 4] = [
                &wide[j * n..(j + 1) * n],
                &wide[(j + 1) * n..(j + 2) * n],
                &wide[(j + 2) * n..(j + 3) * n],
                &wide[(j + 3) * n..(j + 4) * n],
            ];
            let mut lo = [_mm256_setzero_pd(); 4];
            let mut hi = [_mm256_setzero_pd(); 4];
            for i in 0..chunks {
                let x = _mm256_loadu_ps(e.as_ptr().add(8 * i));
                let xl = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
                let xh = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
                for k in 0..4 {
                    let p = v[k].as_ptr().add(8 * i);
                    lo[k] = _mm256_fmadd_pd(xl, _mm256_loadu_pd(p), lo[k]);
                    hi[k] = _mm256_fmadd_pd(xh, _mm256_loadu_pd(p.add(4)), hi[k]);
                }
            }
            for k in 0..4 {
                out[j + k] = reduce(lo[k], hi[k], v[k]);
            }
            j += 4;
        }
        while j < out.len() {
            let v = &wide[j * n..(j + 1) * n];
            let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
            for i in 0..chunks {
                let x = _mm256_loadu_ps(e.as_ptr().add(8 * i));
                let p = v.as_ptr().add(8 * i);
                lo = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), _mm256_loadu_pd(p), lo);
                hi = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), _mm256_loadu_pd(p.add(4)), hi);
            }
            out[j] = reduce(lo, hi, v);
            j += 1;
        }
    }
}

/// The dot products of each of the vectors `es` (each `dims` long) with each of the `count`
/// vectors stored one after another in `wide` (already widened to f64), into `out`: `es.len()`
/// rows of `count`, in order. Bit for bit the values of [`dots_wide`] (and so of [`dot_simd`]):
/// each product's eight lanes take the same fused multiply-adds in the same order and the same
/// reduction. With AVX-512 a block of four vectors meets four of `wide` at a time, so each value
/// loaded serves four products; with AVX2 alone each vector takes [`dots_wide`]. False (nothing
/// written) when the CPU has neither or the lengths do not fit.
pub fn dots_block(es: &[&[f32]], wide: &[f64], count: usize, out: &mut [f64]) -> bool {
    let dims = wide.len().checked_div(count).unwrap_or(0);
    if wide.len() != dims * count || out.len() != es.len() * count || es.iter().any(|e| e.len() != dims) {
        return false;
    }
    if es.is_empty() || count == 0 {
        return true;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
            // (the block's vectors widened once, for every vector of `wide` they meet)
            let mut widened = vec![0f64; 4 * dims];
            let mut at = 0;
            while at < es.len() {
                let take = (es.len() - at).min(4);
                for (k, e) in es[at..at + take].iter().enumerate() {
                    // SAFETY: the CPU has AVX-512F (checked just above)
                    unsafe { widen_avx512(e, &mut widened[k * dims..(k + 1) * dims]) };
                }
                let rows = &mut out[at * count..(at + take) * count];
                // SAFETY: the CPU has AVX-512F and FMA (checked just above); `widened` holds
                // `take` vectors of `dims` values, `wide` holds `count` of them and `rows` takes
                // take × count values: all the kernels read and write.
                unsafe {
                    if take == 4 {
                        block_avx512::<4>(&widened, wide, dims, count, rows);
                    } else {
                        for k in 0..take {
                            block_avx512::<1>(&widened[k * dims..], wide, dims, count, &mut rows[k * count..(k + 1) * count]);
                        }
                    }
                }
                at += take;
            }
            return true;
        }
    }
    es.iter().zip(out.chunks_mut(count)).all(|(e, row)| dots_wide(e, wide, row))
}

/// `src` widened to f64 into `dst` (as long), eight at a time.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn widen_avx512(src: &[f32], dst: &mut [f64]) {
    use std::arch::x86_64::*;
    let n = src.len().min(dst.len());
    let chunks = n / 8;
    // SAFETY: each load reads 8 floats and each store writes 8 doubles at 8·i with i < n / 8
    unsafe {
        for i in 0..chunks {
            _mm512_storeu_pd(dst.as_mut_ptr().add(8 * i), _mm512_cvtps_pd(_mm256_loadu_ps(src.as_ptr().add(8 * i))));
        }
    }
    for i in 8 * chunks..n {
        dst[i] = src[i] as f64;
    }
}

/// [`dots_block`]'s AVX-512 kernel for `C` vectors (widened, one after another in `xs`) against
/// all `count` of `wide`, four of `wide` at a time, then one at a time.
///
/// # Safety
/// The CPU must support AVX-512F and FMA; `xs` holds at least `C · dims` values, `wide` exactly
/// `count · dims`, and `out` exactly `C · count`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn block_avx512<const C: usize>(xs: &[f64], wide: &[f64], dims: usize, count: usize, out: &mut [f64]) {
    let mut j = 0;
    while j + 4 <= count {
        // SAFETY: as this function's (j + 4 ≤ count)
        unsafe { pairs_avx512::<C, 4>(xs, wide, dims, count, j, out) };
        j += 4;
    }
    while j < count {
        // SAFETY: as this function's (j < count)
        unsafe { pairs_avx512::<C, 1>(xs, wide, dims, count, j, out) };
        j += 1;
    }
}

/// `C` vectors of `xs` against the `M` vectors of `wide` from `j`: `C · M` accumulators of eight
/// lanes, where lanes 0–3 are [`dots_wide_avx2`]'s `lo` and 4–7 its `hi`; then its reduction.
///
/// # Safety
/// As [`block_avx512`]'s, and `j + M ≤ count`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn pairs_avx512<const C: usize, const M: usize>(xs: &[f64], wide: &[f64], dims: usize, count: usize, j: usize, out: &mut [f64]) {
    use std::arch::x86_64::*;
    let chunks = dims / 8;
    // SAFETY: every load reads 8 doubles at 8·i with i < dims / 8 inside vector c < C of `xs` or
    // vector j + m < count of `wide`; the stores write 4 doubles into a 4-element array.
    unsafe {
        let mut acc = [[_mm512_setzero_pd(); M]; C];
        for i in 0..chunks {
            let mut x = [_mm512_setzero_pd(); C];
            for (c, x) in x.iter_mut().enumerate() {
                *x = _mm512_loadu_pd(xs.as_ptr().add(c * dims + 8 * i));
            }
            for m in 0..M {
                let y = _mm512_loadu_pd(wide.as_ptr().add((j + m) * dims + 8 * i));
                for (acc, x) in acc.iter_mut().zip(&x) {
                    acc[m] = _mm512_fmadd_pd(*x, y, acc[m]);
                }
            }
        }
        for c in 0..C {
            for m in 0..M {
                let a = acc[c][m];
                let mut lanes = [0f64; 4];
                _mm256_storeu_pd(lanes.as_mut_ptr(), _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd::<1>(a)));
                let mut s = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
                let (x, y) = (&xs[c * dims..(c + 1) * dims], &wide[(j + m) * dims..(j + m + 1) * dims]);
                for i in 8 * chunks..dims {
                    s += x[i] * y[i];
                }
                out[c * count + j + m] = s;
            }
        }
    }
}

/// The dot products in f32 of each of the `rows.len() / dims` vectors of `rows` with each of the
/// `queries.len() / dims` vectors of `queries` (all `dims` long, one after another), into `out`
/// (a row of products per vector of `rows`). For finding neighbours, where f32 sums are precise
/// enough: with AVX-512 a block of four vectors meets four queries at a time; else plain loops
/// the compiler vectorises. False (nothing written) when the lengths do not fit.
pub fn dots_f32(rows: &[f32], queries: &[f32], dims: usize, out: &mut [f32]) -> bool {
    let (n, q) = (rows.len().checked_div(dims).unwrap_or(0), queries.len().checked_div(dims).unwrap_or(0));
    if dims == 0 || rows.len() != n * dims || queries.len() != q * dims || out.len() != n * q {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
            let mut r = 0;
            while r < n {
                let take = (n - r).min(4);
                let block = &rows[r * dims..(r + take) * dims];
                let o = &mut out[r * q..(r + take) * q];
                // SAFETY: the CPU has AVX-512F and FMA (checked just above); `block` holds `take`
                // vectors of `dims` values, `queries` q of them, `o` take × q values: all the
                // kernels read and write.
                unsafe {
                    if take == 4 {
                        f32_rows_avx512::<4>(block, queries, dims, q, o);
                    } else {
                        for k in 0..take {
                            f32_rows_avx512::<1>(&block[k * dims..(k + 1) * dims], queries, dims, q, &mut o[k * q..(k + 1) * q]);
                        }
                    }
                }
                r += take;
            }
            return true;
        }
    }
    for (row, o) in rows.chunks_exact(dims).zip(out.chunks_exact_mut(q)) {
        for (query, o) in queries.chunks_exact(dims).zip(o.iter_mut()) {
            let mut lanes = [0f32; 16];
            let (a, b) = (row.chunks_exact(16), query.chunks_exact(16));
            let tail: f32 = a.remainder().iter().zip(b.remainder()).map(|(x, y)| x * y).sum();
            for (x, y) in a.zip(b) {
                for i in 0..16 {
                    lanes[i] += x[i] * y[i];
                }
            }
            *o = lanes.iter().sum::<f32>() + tail;
        }
    }
    true
}

/// [`dots_f32`]'s AVX-512 kernel for `C` vectors against all `q` queries, four at a time.
///
/// # Safety
/// The CPU must support AVX-512F and FMA; `rows` holds `C · dims` values, `queries` `q · dims`,
/// `out` `C · q`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn f32_rows_avx512<const C: usize>(rows: &[f32], queries: &[f32], dims: usize, q: usize, out: &mut [f32]) {
    let mut j = 0;
    while j + 4 <= q {
        // SAFETY: as this function's (j + 4 ≤ q)
        unsafe { f32_pairs_avx512::<C, 4>(rows, queries, dims, q, j, out) };
        j += 4;
    }
    while j < q {
        // SAFETY: as this function's (j < q)
        unsafe { f32_pairs_avx512::<C, 1>(rows, queries, dims, q, j, out) };
        j += 1;
    }
}

/// `C` vectors against the `M` queries from `j`: `C · M` accumulators of 16 lanes.
///
/// # Safety
/// As [`f32_rows_avx512`]'s, and `j + M ≤ q`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn f32_pairs_avx512<const C: usize, const M: usize>(
    rows: &[f32],
    queries: &[f32],
    dims: usize,
    q: usize,
    j: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let chunks = dims / 16;
    // SAFETY: every load reads 16 floats at 16·i with i < dims / 16 inside vector c < C of
    // `rows` or query j + m < q of `queries`.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); M]; C];
        for i in 0..chunks {
            let mut x = [_mm512_setzero_ps(); C];
            for (c, x) in x.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(rows.as_ptr().add(c * dims + 16 * i));
            }
            for m in 0..M {
                let y = _mm512_loadu_ps(queries.as_ptr().add((j + m) * dims + 16 * i));
                for (acc, x) in acc.iter_mut().zip(&x) {
                    acc[m] = _mm512_fmadd_ps(*x, y, acc[m]);
                }
            }
        }
        for c in 0..C {
            for m in 0..M {
                let mut s = _mm512_reduce_add_ps(acc[c][m]);
                let (x, y) = (&rows[c * dims..(c + 1) * dims], &queries[(j + m) * dims..(j + m + 1) * dims]);
                for i in 16 * chunks..dims {
                    s += x[i] * y[i];
                }
                out[c * q + j + m] = s;
            }
        }
    }
}

/// The squared norm in f32 of each of the `rows.len() / dims` vectors of `rows` into `out` (as
/// [`dots_f32`] sums: sixteen lanes, then across). False (nothing written) when the lengths do not
/// fit.
pub fn sq_norms_f32(rows: &[f32], dims: usize, out: &mut [f32]) -> bool {
    let n = rows.len().checked_div(dims).unwrap_or(0);
    if dims == 0 || rows.len() != n * dims || out.len() != n {
        return false;
    }
    for (row, o) in rows.chunks_exact(dims).zip(out.iter_mut()) {
        *o = sq_norm_f32(row);
    }
    true
}

/// The squared norm of one vector in f32, as [`sq_norms_f32`].
pub fn sq_norm_f32(v: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above)
            return unsafe { sq_norm_avx512(v) };
        }
    }
    let mut lanes = [0f32; 16];
    let c = v.chunks_exact(16);
    let tail: f32 = c.remainder().iter().map(|x| x * x).sum();
    for c in c {
        for i in 0..16 {
            lanes[i] += c[i] * c[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// [`sq_norms_f32`] of one vector with AVX-512.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sq_norm_avx512(v: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let chunks = v.len() / 16;
    // SAFETY: every load reads 16 floats at 16·i with i < len / 16
    unsafe {
        let mut acc = _mm512_setzero_ps();
        for i in 0..chunks {
            let x = _mm512_loadu_ps(v.as_ptr().add(16 * i));
            acc = _mm512_fmadd_ps(x, x, acc);
        }
        let mut s = _mm512_reduce_add_ps(acc);
        for x in &v[16 * chunks..] {
            s += x * x;
        }
        s
    }
}

/// Block every signal on the calling thread (a worker thread of the backend: PostgreSQL's signal
/// handlers must only ever run on the backend's own thread).
pub fn block_signals() {
    // SAFETY: a zeroed sigset_t is a valid argument to sigfillset, which fills it; the mask
    // change applies to the calling thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// No CPU memory arena for sessions built by `b` (a server runs many backends: the arena keeps
/// peak memory). A failure leaves the default, which is only a memory cost.
pub fn disable_cpu_mem_arena(b: &mut SessionBuilder) {
    // SAFETY: `b` owns a valid OrtSessionOptions (the builder created it); the C API call only
    // sets an option on it and returns a status that is released exactly once.
    unsafe {
        let status = (ort::api().DisableCpuMemArena)(b.ptr_mut());
        if !status.0.is_null() {
            (ort::api().ReleaseStatus)(status.0);
        }
    }
}
