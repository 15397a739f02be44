//! Offline evaluation metrics (binary relevance) and the evaluation dataset hash.
//!
//! A ranking is a list of ids, best first; `relevant` is the set of held-out positives.
//! * NDCG@K  = DCG@K / IDCG@K with DCG@K = Σ_{i ≤ K, item i relevant} 1 / log2(i + 1) (ranks
//!   from 1) and IDCG@K the DCG of an ideal ranking: min(K, |relevant|) relevant items on top.
//!   The ideal counts every held-out positive, also those missing from the ranking.
//! * Recall@K = |top K ∩ relevant| / |relevant|.
//! * MRR      = 1 / rank of the first relevant item anywhere in the list, 0 when none is.
//!
//! A repeated id in the ranking counts at its first position only; with no relevant items
//! every metric is 0. K must be at least 1.

use crate::error::{Error, Result};
use crate::hash::{canonical_json, sha256_hex};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::hash::Hash;

/// The version of the dataset builder's protocol, folded into the dataset hash.
pub const EVAL_DATASET_VERSION: &str = "1";
pub const EVAL_DATASET_PREFIX: &str = "ed_v1";

/// Per-list metrics at one cut-off.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub k: usize,
    pub ndcg: f64,
    pub recall: f64,
    pub mrr: f64,
    /// Relevant items within the top K.
    pub hits: usize,
    /// Number of relevant items (held-out positives).
    pub relevant: usize,
    /// Length of the ranking after removing repeats.
    pub ranked: usize,
}

impl Metrics {
    pub fn to_json(&self) -> Value {
        json!({"k": self.k, "ndcg": self.ndcg, "recall": self.recall, "mrr": self.mrr,
               "hits": self.hits, "relevant": self.relevant, "ranked": self.ranked})
    }
}

fn discount(rank0: usize) -> f64 {
    // rank0 = 0 for the first position: 1 / log2(2) = 1
    1.0 / ((rank0 + 2) as f64).log2()
}

/// The ranking without repeats, first occurrence kept.
fn dedup_first<T: Eq + Hash + Copy>(ranked: &[T]) -> Vec<T> {
    let mut seen = HashSet::with_capacity(ranked.len());
    ranked.iter().copied().filter(|x| seen.insert(*x)).collect()
}

/// All three metrics of `ranked` against `relevant` at cut-off `k`.
pub fn evaluate<T: Eq + Hash + Copy>(ranked: &[T], relevant: &[T], k: usize) -> Result<Metrics> {
    if k == 0 {
        return Err(Error::invalid("k must be at least 1"));
    }
    let rel: HashSet<T> = relevant.iter().copied().collect();
    let list = dedup_first(ranked);
    let mut m = Metrics { k, ndcg: 0.0, recall: 0.0, mrr: 0.0, hits: 0, relevant: rel.len(), ranked: list.len() };
    if rel.is_empty() {
        return Ok(m);
    }
    let mut dcg = 0.0;
    for (i, x) in list.iter().enumerate() {
        if rel.contains(x) {
            if m.mrr == 0.0 {
                m.mrr = 1.0 / (i + 1) as f64;
            }
            if i < k {
                dcg += discount(i);
                m.hits += 1;
            }
        }
    }
    let idcg: f64 = (0..k.min(rel.len())).map(discount).sum();
    m.ndcg = dcg / idcg;
    m.recall = m.hits as f64 / rel.len() as f64;
    Ok(m)
}

pub fn ndcg_at_k<T: Eq + Hash + Copy>(ranked: &[T], relevant: &[T], k: usize) -> Result<f64> {
    evaluate(ranked, relevant, k).map(|m| m.ndcg)
}

pub fn recall_at_k<T: Eq + Hash + Copy>(ranked: &[T], relevant: &[T], k: usize) -> Result<f64> {
    evaluate(ranked, relevant, k).map(|m| m.recall)
}

pub fn mrr<T: Eq + Hash + Copy>(ranked: &[T], relevant: &[T]) -> f64 {
    evaluate(ranked, relevant, usize::MAX).map(|m| m.mrr).unwrap_or(0.0)
}

/// The arithmetic mean (0 for an empty slice).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// `ed_v1_{sha256}` of an evaluation dataset's canonical JSON (its parameters and sorted item
/// lists), built like the other content hashes: sha256 over "{prefix}\n{version tag}\n{canonical}".
pub fn dataset_hash(value: &Value) -> String {
    let text = format!("{EVAL_DATASET_PREFIX}\neval_dataset_version={EVAL_DATASET_VERSION}\n{}", canonical_json(value));
    format!("{EVAL_DATASET_PREFIX}_{}", sha256_hex(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const L2_3: f64 = 1.584962500721156; // log2(3)
    const L2_5: f64 = 2.321928094887362; // log2(5)

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn perfect_and_empty() {
        let m = evaluate(&[1, 2, 3, 4], &[1, 2], 2).unwrap();
        assert_eq!((m.ndcg, m.recall, m.mrr, m.hits), (1.0, 1.0, 1.0, 2));
        let none = evaluate(&[1, 2, 3], &[9], 3).unwrap();
        assert_eq!((none.ndcg, none.recall, none.mrr, none.hits), (0.0, 0.0, 0.0, 0));
        let no_rel = evaluate::<i64>(&[1, 2], &[], 2).unwrap();
        assert_eq!((no_rel.ndcg, no_rel.recall, no_rel.mrr), (0.0, 0.0, 0.0));
        assert_eq!(evaluate::<i64>(&[], &[1], 5).unwrap().ndcg, 0.0);
        assert_eq!(evaluate(&[1], &[1], 0).unwrap_err().sqlstate(), "22023");
    }

    #[test]
    fn hand_computed() {
        // ranked 10, 20, 30, 40, 50; relevant {20, 40, 99}; K = 3
        // DCG@3 = 1/log2(3) (20 at rank 2); IDCG@3 = 1 + 1/log2(3) + 1/2 (3 relevant)
        let m = evaluate(&[10, 20, 30, 40, 50], &[20, 40, 99], 3).unwrap();
        close(m.ndcg, (1.0 / L2_3) / (1.0 + 1.0 / L2_3 + 0.5));
        close(m.ndcg, 0.2960819109658652);
        close(m.recall, 1.0 / 3.0);
        close(m.mrr, 0.5);
        assert_eq!((m.hits, m.relevant, m.ranked), (1, 3, 5));
        // K = 5: DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/2
        let m5 = evaluate(&[10, 20, 30, 40, 50], &[20, 40, 99], 5).unwrap();
        close(m5.ndcg, (1.0 / L2_3 + 1.0 / L2_5) / (1.0 + 1.0 / L2_3 + 0.5));
        close(m5.recall, 2.0 / 3.0);
        // K larger than the relevant set: the ideal has only |relevant| terms
        // ranked 7, 1; relevant {1}; DCG = 1/log2(3), IDCG = 1
        let m = evaluate(&[7, 1], &[1], 10).unwrap();
        close(m.ndcg, 1.0 / L2_3);
        close(m.ndcg, 0.6309297535714575);
        close(m.recall, 1.0);
        close(m.mrr, 0.5);
    }

    #[test]
    fn mrr_beyond_k_and_repeats() {
        // first relevant at rank 4, outside K = 2: NDCG and recall 0, MRR 1/4
        let m = evaluate(&[1, 2, 3, 4], &[4], 2).unwrap();
        assert_eq!((m.ndcg, m.recall, m.mrr), (0.0, 0.0, 0.25));
        assert_eq!(mrr(&[1, 2, 3, 4], &[4]), 0.25);
        // a repeated id counts once, at its first position: 5, 5, 6 → 5, 6
        let m = evaluate(&[5, 5, 6], &[6], 2).unwrap();
        close(m.ndcg, 1.0 / L2_3);
        assert_eq!((m.mrr, m.ranked), (0.5, 2));
        // a repeated relevant id does not count twice
        let m = evaluate(&[6, 6, 1], &[6], 3).unwrap();
        assert_eq!((m.ndcg, m.recall, m.hits), (1.0, 1.0, 1));
        close(ndcg_at_k(&[3, 1, 2], &[1, 2], 2).unwrap(), (1.0 / L2_3) / (1.0 + 1.0 / L2_3));
        close(recall_at_k(&[3, 1, 2], &[1, 2], 2).unwrap(), 0.5);
        close(mean(&[0.5, 1.0, 0.0]), 0.5);
        assert_eq!(mean(&[]), 0.0);
    }

    #[test]
    fn dataset_hash_is_canonical() {
        let a = dataset_hash(&json!({"params": {"seed": 42, "holdout": 0.2}, "items": [[1, [2, 3]]]}));
        let b = dataset_hash(&json!({"items": [[1, [2, 3]]], "params": {"holdout": 0.2, "seed": 42.0}}));
        assert_eq!(a, b);
        assert!(a.starts_with("ed_v1_") && a.len() == 6 + 64, "{a}");
        assert_ne!(a, dataset_hash(&json!({"params": {"seed": 43, "holdout": 0.2}, "items": [[1, [2, 3]]]})));
    }
}
