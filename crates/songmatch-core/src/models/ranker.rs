//! The `ranker` model kind: an ONNX graph (e.g. gradient-boosted trees exported from LightGBM)
//! that maps feature vectors [n, F] to one score each ([n] or [n, 1]). Its manifest's `features`
//! must be exactly [`crate::ranker::FEATURES`].

use super::engine::LoadedModel;
use super::manifest::ModelKind;
use crate::error::{Error, Result};
use crate::ranker::FEATURES;
use ort::value::Tensor;

/// Rows per run: trees are cheap, so a batch is large; interrupts are checked between batches.
const ROWS_PER_RUN: usize = 4096;

/// Check that a loaded model is a ranker over songmatch's features.
pub fn check(m: &LoadedModel) -> Result<()> {
    let man = &m.model.manifest;
    if man.kind != ModelKind::Ranker {
        return Err(Error::invalid(format!("model \"{}\" is {}, not a ranker", man.id, super::manifest::with_article(man.kind.name()))));
    }
    if man.features.iter().map(String::as_str).ne(FEATURES.iter().copied()) {
        return Err(Error::Config(format!(
            "ranker \"{}\" was trained on other features than this songmatch computes ({} vs {}): retrain it",
            man.id,
            man.features.len(),
            FEATURES.len()
        )));
    }
    Ok(())
}

/// Scores of the feature vectors, in input order.
pub fn score(m: &mut LoadedModel, rows: &[Vec<f32>], between: &mut dyn FnMut()) -> Result<Vec<f32>> {
    check(m)?;
    let id = m.model.manifest.id.clone();
    let rt = |e: ort::Error| Error::Runtime(format!("model \"{id}\": {e}"));
    let input = m.input("features").unwrap_or_else(|| "features".into());
    let output = m.model.manifest.output.clone().unwrap_or_else(|| "score".into());
    let f = FEATURES.len();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_RUN) {
        between();
        if let Some(bad) = chunk.iter().find(|r| r.len() != f) {
            return Err(Error::DimensionMismatch { expected: f, actual: bad.len() });
        }
        let flat: Vec<f32> = chunk.iter().flat_map(|r| r.iter().copied()).collect();
        let t = Tensor::from_array((vec![chunk.len() as i64, f as i64], flat)).map_err(rt)?;
        let outputs = m.session.run(vec![(input.clone(), t.into_dyn())]).map_err(rt)?;
        let value =
            outputs.get(output.as_str()).ok_or_else(|| Error::Runtime(format!("model \"{id}\" produced no output \"{output}\"")))?;
        let (shape, data) = value.try_extract_tensor::<f32>().map_err(rt)?;
        let ok = match shape.len() {
            1 => shape[0] as usize == chunk.len(),
            2 => shape[0] as usize == chunk.len() && shape[1] == 1,
            _ => false,
        };
        if !ok {
            return Err(Error::Runtime(format!(
                "model \"{id}\": output has shape {shape:?}, expected [{}] or [{}, 1]",
                chunk.len(),
                chunk.len()
            )));
        }
        out.extend_from_slice(data);
    }
    Ok(out)
}
