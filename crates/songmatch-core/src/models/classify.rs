//! Classifiers: `sequence-classification` (a text → logits graph, e.g. RoBERTa go_emotions) and
//! `embedding-head` (a small graph over another model's embeddings), plus the GoEmotions-style
//! post-processing: sigmoid probabilities (multi-label), thresholds, predicted labels, and
//! bucket distributions (Ekman, sentiment).
//!
//! A bucket's share is the sum of its member labels' probabilities, normalised over the buckets
//! so that a distribution sums to 1.

use crate::error::{Error, Result};
use crate::models::batch::{run_batches, runtime_error, TokenInputs};
use crate::models::embed::{plan_batches, BatchLimits};
use crate::models::engine::LoadedModel;
use crate::models::manifest::{Manifest, ModelKind};
use crate::models::tokenize::Encoded;
use ort::value::Tensor;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Read a [n, k] float output and check its shape.
fn take_2d(m: &Manifest, shape: &[i64], data: &[f32], n: usize) -> Result<Vec<Vec<f32>>> {
    if shape.len() != 2 || shape[0] as usize != n {
        return Err(Error::Runtime(format!("model \"{}\": output has shape {shape:?}, expected [{n}, labels]", m.id)));
    }
    let k = shape[1] as usize;
    if !m.labels.is_empty() && k != m.labels.len() {
        return Err(Error::DimensionMismatch { expected: m.labels.len(), actual: k });
    }
    Ok(data.chunks(k).map(|c| c.to_vec()).collect())
}

/// Logits of a sequence-classification model for `texts`, in input order.
pub fn classify_texts(m: &mut LoadedModel, texts: &[String], limits: BatchLimits, between: &mut dyn FnMut()) -> Result<Vec<Vec<f32>>> {
    if m.model.manifest.kind != ModelKind::SequenceClassification {
        return Err(Error::invalid(format!("model \"{}\" is not a sequence-classification model", m.model.manifest.id)));
    }
    let encs: Vec<Encoded> = {
        let tok = m.tok()?;
        texts.iter().map(|t| tok.encode(t)).collect::<Result<_>>()?
    };
    run_encoded(m, &encs, limits, between)
}

/// Run a text graph (classifier or cross-encoder) over encoded inputs; [n, k] outputs in order.
pub fn run_encoded(m: &mut LoadedModel, encs: &[Encoded], limits: BatchLimits, between: &mut dyn FnMut()) -> Result<Vec<Vec<f32>>> {
    let output = m.model.manifest.output.clone().unwrap_or_else(|| "logits".into());
    let manifest = m.model.manifest.clone();
    let lens: Vec<usize> = encs.iter().map(Encoded::len).collect();
    let mut result: Vec<Vec<f32>> = vec![Vec::new(); encs.len()];
    let inputs = TokenInputs::of(m, false)?;
    run_batches(
        m,
        plan_batches(&lens, limits),
        &output,
        between,
        |batch| inputs.build(encs, batch),
        |batch, _, oshape, data| {
            for (k, row) in take_2d(&manifest, oshape, data, batch.len())?.into_iter().enumerate() {
                result[batch[k]] = row;
            }
            Ok(())
        },
    )?;
    Ok(result)
}

/// Logits of an embedding-head model over `embeddings` (one batch per `max_texts`).
pub fn head_logits(m: &mut LoadedModel, embeddings: &[Vec<f32>], limits: BatchLimits, between: &mut dyn FnMut()) -> Result<Vec<Vec<f32>>> {
    let id = m.model.manifest.id.clone();
    let output = m.model.manifest.output.clone().unwrap_or_else(|| "logits".into());
    let input = m.input("embedding").unwrap_or_else(|| "embedding".into());
    let manifest = m.model.manifest.clone();
    let size = limits.max_texts.max(1);
    let batches: Vec<Vec<usize>> = (0..embeddings.len()).collect::<Vec<_>>().chunks(size).map(|c| c.to_vec()).collect();
    let mut out = vec![Vec::new(); embeddings.len()];
    run_batches(
        m,
        batches,
        &output,
        between,
        |batch| {
            let d = batch.first().map(|&i| embeddings[i].len()).unwrap_or(0);
            let flat: Vec<f32> = batch.iter().flat_map(|&i| embeddings[i].iter().copied()).collect();
            let t = Tensor::from_array((vec![batch.len() as i64, d as i64], flat)).map_err(runtime_error(&id))?;
            Ok((vec![(input.clone(), t.into_dyn())], ()))
        },
        |batch, _, oshape, data| {
            for (k, row) in take_2d(&manifest, oshape, data, batch.len())?.into_iter().enumerate() {
                out[batch[k]] = row;
            }
            Ok(())
        },
    )?;
    Ok(out)
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn buckets(groups: &BTreeMap<String, Vec<String>>, probs: &BTreeMap<&str, f64>) -> Value {
    let mut raw: Vec<(&String, f64)> =
        groups.iter().map(|(b, members)| (b, members.iter().filter_map(|l| probs.get(l.as_str())).sum::<f64>())).collect();
    let total: f64 = raw.iter().map(|(_, v)| v).sum();
    if total > 0.0 {
        raw.iter_mut().for_each(|(_, v)| *v /= total);
    }
    Value::Object(raw.into_iter().map(|(b, v)| (b.clone(), json!(round6(v)))).collect::<Map<_, _>>())
}

/// The emotions JSON of one text from its logits:
/// `{"model", "model_version", "labels": {…all…}, "predicted": [best first], "ekman": {…}, "sentiment": {…}}`.
pub fn emotions_json(m: &Manifest, logits: &[f32], top_n: Option<usize>) -> Result<Value> {
    if logits.len() != m.labels.len() {
        return Err(Error::DimensionMismatch { expected: m.labels.len(), actual: logits.len() });
    }
    let probs: BTreeMap<&str, f64> = m.labels.iter().map(String::as_str).zip(logits.iter().map(|&x| sigmoid(x) as f64)).collect();
    let mut predicted: Vec<(&str, f64)> =
        probs.iter().filter(|(l, p)| **p >= m.thresholds.get(**l).copied().unwrap_or(0.5)).map(|(l, p)| (*l, *p)).collect();
    predicted.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    if let Some(n) = top_n {
        predicted.truncate(n);
    }
    let labels: Map<String, Value> = m.labels.iter().map(|l| (l.clone(), json!(round6(probs[l.as_str()])))).collect();
    let mut out = json!({
        "model": m.id,
        "model_version": m.version,
        "labels": labels,
        "predicted": predicted.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
    });
    if !m.ekman.is_empty() {
        out["ekman"] = buckets(&m.ekman, &probs);
    }
    if !m.sentiment.is_empty() {
        out["sentiment"] = buckets(&m.sentiment, &probs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"{"id": "c", "name": "c", "version": "1", "kind": "sequence-classification",
                "files": {"model": {"path": "m.onnx", "sha256": "x"}, "tokenizer": {"path": "t.json", "sha256": "x"}},
                "labels": ["joy", "grief", "neutral"], "thresholds": {"grief": 0.2},
                "ekman": {"joy": ["joy"], "sadness": ["grief"], "neutral": ["neutral"]},
                "sentiment": {"positive": ["joy"], "negative": ["grief"], "neutral": ["neutral"]}}"#,
            Path::new("t"),
        )
        .unwrap()
    }

    #[test]
    fn emotions_thresholds_and_buckets() {
        let m = manifest();
        // sigmoid(2)=0.8808, sigmoid(-1)=0.2689, sigmoid(-3)=0.0474
        let v = emotions_json(&m, &[2.0, -1.0, -3.0], None).unwrap();
        assert_eq!(v["predicted"], json!(["joy", "grief"]));
        assert_eq!(v["labels"]["joy"], json!(0.880797));
        let total = 0.880797 + 0.268941 + 0.047426;
        assert!((v["ekman"]["joy"].as_f64().unwrap() - 0.880797 / total).abs() < 1e-5);
        assert!((v["sentiment"]["negative"].as_f64().unwrap() - 0.268941 / total).abs() < 1e-5);
        let v = emotions_json(&m, &[2.0, -1.0, -3.0], Some(1)).unwrap();
        assert_eq!(v["predicted"], json!(["joy"]));
        assert_eq!(emotions_json(&m, &[1.0], None).unwrap_err().sqlstate(), "22000");
    }
}
