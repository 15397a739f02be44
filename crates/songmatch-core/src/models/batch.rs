//! The one batch loop every model kind runs through.
//!
//! A call's items are split into batches ([`crate::models::embed::plan_batches`] for texts:
//! longest first under the text and padded-token limits); for each batch, the caller's
//! `between` runs first (the SQL layer checks for cancel there), the caller builds the graph's
//! inputs, the session runs once, and the caller reads the named f32 output. [`TokenInputs`]
//! builds the inputs of a text graph (ids, attention mask, token types or position ids under the
//! graph's own names, padded to the batch's longest).

use crate::error::{Error, Result};
use crate::models::embed::pad_batch;
use crate::models::engine::LoadedModel;
use crate::models::tokenize::Encoded;
use ort::value::{DynValue, Tensor};

pub type Inputs = Vec<(String, DynValue)>;

/// The error of a failed run of model `id`.
pub fn runtime_error(id: &str) -> impl Fn(ort::Error) -> Error + '_ {
    move |e| Error::Runtime(format!("inference failed for model \"{id}\": {e}"))
}

/// Run `m` once per batch (item indices): `inputs` builds a batch's graph inputs and a context
/// for `take`, which gets the batch, that context, and the `output` tensor's shape and data.
pub fn run_batches<C>(
    m: &mut LoadedModel,
    batches: Vec<Vec<usize>>,
    output: &str,
    between: &mut dyn FnMut(),
    mut inputs: impl FnMut(&[usize]) -> Result<(Inputs, C)>,
    mut take: impl FnMut(&[usize], C, &[i64], &[f32]) -> Result<()>,
) -> Result<()> {
    let id = m.model.manifest.id.clone();
    for batch in batches {
        between();
        let (ins, ctx) = inputs(&batch)?;
        let outputs = m.session.run(ins).map_err(runtime_error(&id))?;
        let value = outputs.get(output).ok_or_else(|| Error::Runtime(format!("model \"{id}\" produced no output \"{output}\"")))?;
        let (shape, data) = value.try_extract_tensor::<f32>().map_err(runtime_error(&id))?;
        take(&batch, ctx, &shape[..], data)?;
    }
    Ok(())
}

/// How a text graph takes its inputs.
pub struct TokenInputs {
    id: String,
    ids: String,
    mask: Option<String>,
    types: Option<String>,
    positions: Option<String>,
    pad: i64,
    left: bool,
}

/// A padded batch's attention mask and length (for pooling or picking the last position).
pub struct Padded {
    pub mask: Vec<i64>,
    pub seq: usize,
}

impl TokenInputs {
    /// The graph's input names; `left` pads on the left and passes position ids (causal LMs)
    /// when the graph takes them.
    pub fn of(m: &LoadedModel, left: bool) -> Result<Self> {
        Ok(TokenInputs {
            id: m.model.manifest.id.clone(),
            ids: m.input("input_ids").unwrap_or_else(|| "input_ids".into()),
            mask: m.input("attention_mask"),
            types: if left { None } else { m.input("token_type_ids") },
            positions: if left { m.input("position_ids") } else { None },
            pad: m.tok()?.pad_id as i64,
            left,
        })
    }

    /// The inputs of one batch of `encs` (indices `batch`).
    pub fn build(&self, encs: &[Encoded], batch: &[usize]) -> Result<(Inputs, Padded)> {
        let refs: Vec<&Encoded> = batch.iter().map(|&i| &encs[i]).collect();
        let (ids, mask, types, seq) = pad_batch(&refs, self.pad, self.left);
        let n = batch.len();
        let shape = vec![n as i64, seq as i64];
        let rt = runtime_error(&self.id);
        let mut inputs: Inputs = Vec::with_capacity(3);
        inputs.push((self.ids.clone(), Tensor::from_array((shape.clone(), ids)).map_err(&rt)?.into_dyn()));
        if let Some(name) = &self.mask {
            inputs.push((name.clone(), Tensor::from_array((shape.clone(), mask.clone())).map_err(&rt)?.into_dyn()));
        }
        if let Some(name) = &self.types {
            inputs.push((name.clone(), Tensor::from_array((shape.clone(), types)).map_err(&rt)?.into_dyn()));
        }
        if let Some(name) = &self.positions {
            inputs.push((name.clone(), Tensor::from_array((shape.clone(), positions(&mask, n, seq))).map_err(&rt)?.into_dyn()));
        }
        Ok((inputs, Padded { mask, seq }))
    }
}

/// Position ids that count only real tokens (0 on left padding), as Hugging Face computes them
/// for a left-padded causal LM.
pub fn positions(mask: &[i64], n: usize, seq: usize) -> Vec<i64> {
    let mut pos = vec![0i64; n * seq];
    for r in 0..n {
        let mut c = 0i64;
        for t in 0..seq {
            c += mask[r * seq + t];
            pos[r * seq + t] = (c - 1).max(0);
        }
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_skip_left_padding() {
        // row 0: two pads then three tokens; row 1: five tokens
        let mask = vec![0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(positions(&mask, 2, 5), vec![0, 0, 0, 1, 2, 0, 1, 2, 3, 4]);
    }
}
