//! Emotions (go_emotions) and reranking in SQL.

use super::bundle::ModelRole;
use super::guc;
use super::infer;
use super::OrReport;
use crate::core::models::classify;
use crate::core::models::embed::{self, Role};
use crate::core::models::manifest::ModelKind;
use crate::core::{Error, Result};
use pgrx::prelude::*;
use pgrx::JsonB;

/// The model of a bundle role ("emotion", "reranker" or "ranker"): the named one, else the
/// active bundle's, else the installed `default` bundle's.
fn resolve_role(model: Option<&str>, role: ModelRole) -> Result<String> {
    super::bundle::resolve_model(model, role)
}

fn emotions_many(texts: &[String], top_n: Option<i32>, model: Option<&str>) -> Result<Vec<serde_json::Value>> {
    if let Some(n) = top_n {
        if n < 0 {
            return Err(Error::invalid(format!("top_n must be NULL or >= 0, got {n}")));
        }
    }
    let id = resolve_role(model, ModelRole::Emotion)?;
    emotions_with_model(&id, texts, top_n)
}

/// Emotions JSON of `texts` with the emotion model `id`.
pub fn emotions_with_model(id: &str, texts: &[String], top_n: Option<i32>) -> Result<Vec<serde_json::Value>> {
    let manifest = infer::manifest(id)?;
    let logits = match manifest.kind {
        ModelKind::SequenceClassification => infer::classify(id, texts)?,
        ModelKind::EmbeddingHead => {
            let base = manifest.base_model.clone().unwrap_or_default();
            let bm = infer::manifest(&base)?;
            let formatted: Vec<String> = texts.iter().map(|t| embed::format_text(&bm, Role::Document, None, t)).collect();
            let embs = infer::embed(&base, &formatted)?;
            infer::head(id, &embs)?
        }
        other => {
            return Err(Error::invalid(format!(
                "model \"{id}\" is {} model, not an emotion classifier",
                crate::core::models::manifest::with_article(other.name())
            )))
        }
    };
    logits.iter().map(|l| classify::emotions_json(&manifest, l, top_n.map(|n| n as usize))).collect()
}

/// `songmatch.emotions(text, top_n => NULL, model => NULL)`: the 28 go_emotions probabilities
/// (sigmoid, multi-label), the labels over their thresholds (best first, cut to top_n), and
/// Ekman and sentiment bucket distributions, as jsonb. NULL text gives NULL.
#[pg_extern(stable, parallel_safe)]
fn emotions(text: Option<&str>, top_n: default!(Option<i32>, "NULL"), model: default!(Option<&str>, "NULL")) -> Option<JsonB> {
    let text = text?;
    super::models::check_inputs([Some(text)], None).or_report();
    emotions_many(&[text.to_string()], top_n, model).or_report().pop().map(JsonB)
}

/// `songmatch.emotions_batch(texts, top_n, model)`: one row per element in input order
/// (`ord` 1-based); NULL elements give NULL.
#[pg_extern(stable, parallel_safe)]
fn emotions_batch(
    texts: Option<Vec<Option<String>>>,
    top_n: default!(Option<i32>, "NULL"),
    model: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(ord, i32), name!(emotions, Option<JsonB>))> {
    let texts = texts.unwrap_or_default();
    guc::limits().check_batch("texts", texts.len()).or_report();
    super::models::check_inputs(texts.iter().map(|t| t.as_deref()), None).or_report();
    let present: Vec<String> = texts.iter().flatten().cloned().collect();
    let mut out = if present.is_empty() { Vec::new() } else { emotions_many(&present, top_n, model).or_report() }.into_iter();
    let rows: Vec<(i32, Option<JsonB>)> =
        texts.iter().enumerate().map(|(i, t)| (i as i32 + 1, t.as_ref().and_then(|_| out.next().map(JsonB)))).collect();
    TableIterator::new(rows)
}

/// `songmatch.rerank(query, documents, top_n => NULL, model => NULL, instruction => NULL)`:
/// rows (index, score), best first; `index` is the 1-based position in `documents`.
/// NULL documents are skipped. A bundle without a reranker is an error (22023).
#[pg_extern(stable, parallel_safe)]
fn rerank(
    query: Option<&str>,
    documents: Option<Vec<Option<String>>>,
    top_n: default!(Option<i32>, "NULL"),
    model: default!(Option<&str>, "NULL"),
    instruction: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(index, i32), name!(score, f64))> {
    let (Some(query), Some(documents)) = (query, documents) else {
        return TableIterator::new(Vec::new());
    };
    if let Some(n) = top_n {
        if n < 0 {
            super::raise(Error::invalid(format!("top_n must be NULL or >= 0, got {n}")));
        }
    }
    let lim = guc::limits();
    lim.check_batch("documents", documents.len()).or_report();
    lim.check_text("query", query).or_report();
    lim.check_texts("documents", documents.iter().map(|d| d.as_deref())).or_report();
    if let Some(i) = instruction {
        lim.check_text("instruction", i).or_report();
    }
    let id = resolve_role(model, ModelRole::Reranker).or_report();
    let idx: Vec<usize> = documents.iter().enumerate().filter(|(_, d)| d.is_some()).map(|(i, _)| i).collect();
    let docs: Vec<String> = documents.into_iter().flatten().collect();
    let scores = if docs.is_empty() { Vec::new() } else { infer::rerank(&id, query, &docs, instruction).or_report() };
    let mut rows: Vec<(i32, f64)> = idx.iter().zip(scores).map(|(&i, s)| (i as i32 + 1, s)).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(n) = top_n {
        rows.truncate(n as usize);
    }
    TableIterator::new(rows)
}

/// `songmatch.ranker_score(features, model => NULL)`: the learned ranker's raw score of one
/// feature vector (in the order of `songmatch.ranker_feature_names()`); the active bundle's
/// ranker by default. For parity checks and debugging; matching calls the ranker itself.
#[pg_extern(stable, parallel_safe)]
fn ranker_score(features: Option<Vec<Option<f32>>>, model: default!(Option<&str>, "NULL")) -> Option<f32> {
    let features = features?;
    let row: Vec<f32> = features
        .iter()
        .enumerate()
        .map(|(i, x)| x.ok_or_else(|| Error::NullValue(format!("features must not contain NULL (element {} is NULL)", i + 1))))
        .collect::<Result<_>>()
        .or_report();
    let id = resolve_role(model, ModelRole::Ranker).or_report();
    infer::ranker(&id, &[row]).or_report().pop()
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    use serde_json::Value;

    const ROBERTA: &str = include_str!("../../models/fixtures/fixture-roberta-goemotions/reference.json");
    const QWEN: &str = include_str!("../../models/fixtures/fixture-qwen3-reranker/reference.json");
    const CROSS: &str = include_str!("../../models/fixtures/fixture-cross-encoder/reference.json");

    use crate::sql::testing::use_fixtures;

    use crate::sql::testing::sqlstate_of;

    fn f32s(v: &Value) -> Vec<f32> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
    }

    /// The fixture RoBERTa classifier: probabilities within 1e-4 of PyTorch, in one padded
    /// batch of mixed lengths, and the same one text at a time.
    #[pg_test]
    fn fixture_classifier_matches_pytorch() {
        crate::sql::testing::in_both_modes(|| {
            use_fixtures();
            let r: Value = serde_json::from_str(ROBERTA).unwrap();
            let labels: Vec<String> = r["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();
            let items = r["items"].as_array().unwrap();
            let texts: Vec<String> = items.iter().map(|i| i["text"].as_str().unwrap().to_string()).collect();
            let rows: Vec<Value> = Spi::connect(|c| {
                c.select(
                    "select emotions from songmatch.emotions_batch($1, model => 'fixture-roberta-goemotions') order by ord",
                    None,
                    &[texts.clone().into()],
                )
                .unwrap()
                .map(|row| row.get::<pgrx::JsonB>(1).unwrap().unwrap().0)
                .collect()
            });
            assert_eq!(rows.len(), items.len());
            for (item, got) in items.iter().zip(&rows) {
                let want = f32s(&item["probabilities"]);
                for (k, l) in labels.iter().enumerate() {
                    let g = got["labels"][l].as_f64().unwrap() as f32;
                    assert!((g - want[k]).abs() <= 1e-4, "{l} of {:?}: {g} vs {}", item["text"], want[k]);
                }
                let single = Spi::get_one_with_args::<pgrx::JsonB>(
                    "select songmatch.emotions($1, model => 'fixture-roberta-goemotions')",
                    &[item["text"].as_str().unwrap().into()],
                )
                .unwrap()
                .unwrap()
                .0;
                assert_eq!(single["labels"], got["labels"]);
                // every label over 0.5 is predicted, best first
                let over: usize = want.iter().filter(|p| **p >= 0.5).count();
                assert_eq!(got["predicted"].as_array().unwrap().len(), over);
                let ek: f64 = got["ekman"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
                assert!((ek - 1.0).abs() < 1e-5);
                assert_eq!(got["model"], "fixture-roberta-goemotions");
            }
            let top = Spi::get_one::<pgrx::JsonB>("select songmatch.emotions('wow', top_n => 1, model => 'fixture-roberta-goemotions')")
                .unwrap()
                .unwrap()
                .0;
            assert!(top["predicted"].as_array().unwrap().len() <= 1);
        });
    }

    /// The fixture Qwen3 reranker: the official prompt's token ids and scores within 1e-4,
    /// left-padded in one batch of mixed lengths.
    #[pg_test]
    fn fixture_qwen3_reranker_matches_pytorch() {
        crate::sql::testing::in_both_modes(|| {
            use_fixtures();
            let r: Value = serde_json::from_str(QWEN).unwrap();
            let items = r["items"].as_array().unwrap();
            let mut queries: Vec<&str> = items.iter().map(|i| i["query"].as_str().unwrap()).collect();
            queries.dedup();
            for q in queries {
                let sel: Vec<&Value> = items.iter().filter(|i| i["query"] == q).collect();
                let docs: Vec<String> = sel.iter().map(|i| i["document"].as_str().unwrap().to_string()).collect();
                let rows: Vec<(i32, f64)> = Spi::connect(|c| {
                    c.select(
                        "select index, score from songmatch.rerank($1, $2, model => 'fixture-qwen3-reranker')",
                        None,
                        &[q.into(), docs.clone().into()],
                    )
                    .unwrap()
                    .map(|row| (row.get::<i32>(1).unwrap().unwrap(), row.get::<f64>(2).unwrap().unwrap()))
                    .collect()
                });
                assert_eq!(rows.len(), docs.len());
                assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
                for (index, score) in rows {
                    let want = sel[(index - 1) as usize]["score"].as_f64().unwrap();
                    assert!((score - want).abs() <= 1e-4, "doc {index}: {score} vs {want}");
                }
            }
        });
    }

    #[pg_test]
    fn fixture_cross_encoder_matches_pytorch() {
        crate::sql::testing::in_both_modes(|| {
            use_fixtures();
            let r: Value = serde_json::from_str(CROSS).unwrap();
            for item in r["items"].as_array().unwrap() {
                let s = Spi::get_one_with_args::<f64>(
                    "select score from songmatch.rerank($1, array[$2, 'padding partner of another length entirely, longer than the other one'], model => 'fixture-cross-encoder') where index = 1",
                    &[item["query"].as_str().unwrap().into(), item["document"].as_str().unwrap().into()],
                )
                .unwrap()
                .unwrap();
                let want = item["score"].as_f64().unwrap();
                assert!((s - want).abs() <= 1e-4, "{s} vs {want}");
            }
        });
    }

    const HEAD: &str = include_str!("../../models/emotion-head/reference.json");

    const RANKER: &str = include_str!("../../models/ranker/reference.json");

    /// The default bundle's learned ranker, run in the backend through ONNX Runtime, gives
    /// LightGBM's own raw scores on the reference vectors (≤ 1e-5), and its feature names are
    /// the ones songmatch computes.
    #[pg_test]
    fn default_ranker_matches_lightgbm() {
        crate::sql::testing::in_both_modes(|| {
            let r: Value = serde_json::from_str(RANKER).unwrap();
            let names: Vec<String> = Spi::get_one::<Vec<String>>("select songmatch.ranker_feature_names()").unwrap().unwrap();
            let want_names: Vec<String> = r["feature_names"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
            assert_eq!(names, want_names);
            let vectors = r["features"].as_array().unwrap();
            let scores = f32s(&r["scores"]);
            assert_eq!(vectors.len(), scores.len());
            assert!(vectors.len() >= 32);
            let mut worst = 0f32;
            for (v, want) in vectors.iter().zip(&scores) {
                let got = Spi::get_one_with_args::<f32>("select songmatch.ranker_score($1::real[])", &[f32s(v).into()]).unwrap().unwrap();
                worst = worst.max((got - want).abs());
            }
            assert!(worst <= 1e-5, "largest difference to LightGBM: {worst}");
            let err = sqlstate_of("select songmatch.ranker_score(array[1, 2]::real[])");
            assert!(err.starts_with("22000 dimension mismatch: expected 30"), "a vector of the wrong length: {err}");
        });
    }

    /// The default bundle's emotion head (over MiniLM embeddings) matches its PyTorch reference,
    /// and a clearly joyful and a clearly grieving sentence land in the right Ekman bucket.
    #[pg_test]
    fn default_emotion_head_matches_reference() {
        crate::sql::testing::in_both_modes(|| {
            let r: Value = serde_json::from_str(HEAD).unwrap();
            let labels: Vec<String> = r["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();
            let items = r["texts"].as_array().unwrap();
            let texts: Vec<String> = items.iter().map(|i| i["text"].as_str().unwrap().to_string()).collect();
            let rows: Vec<Value> = Spi::connect(|c| {
                c.select("select emotions from songmatch.emotions_batch($1) order by ord", None, &[texts.clone().into()])
                    .unwrap()
                    .map(|row| row.get::<pgrx::JsonB>(1).unwrap().unwrap().0)
                    .collect()
            });
            for (item, got) in items.iter().zip(&rows) {
                assert_eq!(got["model"], "minilm-goemotions-head");
                let want = f32s(&item["probabilities"]);
                for (k, l) in labels.iter().enumerate() {
                    let g = got["labels"][l].as_f64().unwrap() as f32;
                    assert!((g - want[k]).abs() <= 1e-4, "{l} of {:?}: {g} vs {}", item["text"], want[k]);
                }
                let mut want_pred: Vec<String> =
                    item["predicted"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
                let mut got_pred: Vec<String> =
                    got["predicted"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
                want_pred.sort();
                got_pred.sort();
                assert_eq!(got_pred, want_pred, "predicted labels of {:?}", item["text"]);
            }
            let top_bucket = |text: &str| -> String {
                Spi::get_one_with_args::<String>(
                    "select key from jsonb_each_text(songmatch.emotions($1) -> 'ekman') order by value::float8 desc limit 1",
                    &[text.into()],
                )
                .unwrap()
                .unwrap()
            };
            assert_eq!(top_bucket("I'm so happy, this is the best day of my life!"), "joy");
            assert_eq!(top_bucket("My grandmother passed away last night and I can't stop crying."), "sadness");
            let sentiment = Spi::get_one::<String>(
                "select key from jsonb_each_text(songmatch.emotions('I''m so happy, this is the best day of my life!') -> 'sentiment') order by value::float8 desc limit 1",
            )
            .unwrap()
            .unwrap();
            assert_eq!(sentiment, "positive");
        });
    }

    #[pg_test]
    fn rerank_and_emotions_errors() {
        use_fixtures();
        assert_eq!(
            sqlstate_of("select songmatch.rerank('q', array['d'], model => 'fixture-roberta-goemotions')"),
            "22023 model \"fixture-roberta-goemotions\" is a sequence-classification model, not a reranker"
        );
        assert_eq!(
            sqlstate_of("select songmatch.emotions('x', model => 'fixture-qwen3-reranker')"),
            "22023 model \"fixture-qwen3-reranker\" is a causal-lm-yes-no model, not an emotion classifier"
        );
        assert_eq!(
            sqlstate_of("select songmatch.emotions('x', top_n => -1, model => 'fixture-roberta-goemotions')"),
            "22023 top_n must be NULL or >= 0, got -1"
        );
        assert!(sqlstate_of("select songmatch.emotions('x', model => 'nope')")
            .starts_with("22023 unknown model \"nope\"; available models: fixture-cross-encoder"));
        let n =
            Spi::get_one::<i64>("select count(*) from songmatch.rerank('q', array[null, null]::text[], model => 'fixture-cross-encoder')")
                .unwrap()
                .unwrap();
        assert_eq!(n, 0);
        assert_eq!(Spi::get_one::<pgrx::JsonB>("select songmatch.emotions(null)").unwrap().map(|j| j.0), None);
        Spi::run("reset songmatch.model_dir").unwrap();
        Spi::run("select songmatch.reload_models()").unwrap();
        // the default bundle has no reranker
        assert_eq!(
            sqlstate_of("select songmatch.rerank('q', array['d'])"),
            "22023 the bundle \"default\" has no reranker model; pass model => '…' or activate a bundle that has one"
        );
    }
}
