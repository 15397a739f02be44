//! The SQL surface of the offline evaluation (issue 7): per-list metrics, the dataset hash and
//! the resolved matching configuration. The dataset builder, the runner, the baselines and the
//! activation gate are SQL (sql/eval.sql) built on these.

use super::OrReport;
use crate::core::metrics;
use crate::core::scoring::Config;
use crate::core::Error;
use pgrx::prelude::*;
use pgrx::JsonB;

fn no_nulls(v: Vec<Option<i64>>, what: &str) -> Vec<i64> {
    let mut out = Vec::with_capacity(v.len());
    for (i, x) in v.into_iter().enumerate() {
        match x {
            Some(x) => out.push(x),
            None => super::raise(Error::NullValue(format!("{what} must not contain NULL (element {} is NULL)", i + 1))),
        }
    }
    out
}

/// `songmatch.eval_metrics(ranked, relevant, k)`: NDCG@k, Recall@k and MRR of a ranking (ids,
/// best first) against the relevant ids (binary relevance, log2 discount, ideal DCG from the
/// number of relevant ids), as `{"k", "ndcg", "recall", "mrr", "hits", "relevant", "ranked"}`.
#[pg_extern(immutable, strict, parallel_safe)]
fn eval_metrics(ranked: Vec<Option<i64>>, relevant: Vec<Option<i64>>, k: i32) -> JsonB {
    if k < 1 {
        super::raise(Error::invalid(format!("k must be at least 1, got {k}")));
    }
    let ranked = no_nulls(ranked, "ranked");
    let relevant = no_nulls(relevant, "relevant");
    JsonB(metrics::evaluate(&ranked, &relevant, k as usize).or_report().to_json())
}

/// `songmatch.eval_dataset_hash(value)`: the `ed_v1_` hash of an evaluation dataset's canonical
/// JSON (parameters and sorted item lists).
#[pg_extern(immutable, strict, parallel_safe)]
fn eval_dataset_hash(value: JsonB) -> String {
    metrics::dataset_hash(&value.0)
}

/// `songmatch.eval_resolve_config(config => NULL)`: the matching configuration with every
/// default filled in (what `content_hash('matching_config', …)` identifies); invalid keys or
/// values are errors (22023), as in score_tracks and match_playlist.
#[pg_extern(immutable, parallel_safe)]
fn eval_resolve_config(config: default!(Option<JsonB>, "NULL")) -> JsonB {
    JsonB(Config::from_json(config.as_ref().map(|j| &j.0)).or_report().to_json())
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn eval_metrics_exact() {
        let v = Spi::get_one::<pgrx::JsonB>("select songmatch.eval_metrics(array[10, 20, 30, 40, 50], array[20, 40, 99], 3)")
            .unwrap()
            .unwrap()
            .0;
        assert!((v["ndcg"].as_f64().unwrap() - 0.2960819109658652).abs() < 1e-12);
        assert_eq!(v["mrr"].as_f64().unwrap(), 0.5);
        assert_eq!(v["hits"], 1);
    }
}
