//! Text embeddings: template formatting (E5-instruct, E5 prefixes, plain), batching by length
//! with batch-longest padding, one ONNX Runtime run per batch, attention-mask mean pooling
//! (or CLS) and L2 normalisation. Output order is input order.

use crate::error::{Error, Result};
use crate::models::batch::{run_batches, TokenInputs};
use crate::models::engine::LoadedModel;
use crate::models::manifest::{Manifest, ModelKind};
use crate::models::tokenize::Encoded;

/// Which side of retrieval a text is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Query,
    Document,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "query" => Ok(Role::Query),
            "document" => Ok(Role::Document),
            _ => Err(Error::invalid(format!("kind must be 'document' or 'query', got '{s}'"))),
        }
    }
}

/// Fill `{text}` and `{instruction}` in one pass (a placeholder inside the text stays as is).
pub fn fill_template(template: &str, text: &str, instruction: &str) -> String {
    let mut out = String::with_capacity(template.len() + text.len() + instruction.len());
    let mut rest = template;
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(t) = tail.strip_prefix("{text}") {
            out.push_str(text);
            rest = t;
        } else if let Some(t) = tail.strip_prefix("{instruction}") {
            out.push_str(instruction);
            rest = t;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The text the model sees for `text` on `role`, e.g. `Instruct: {task}\nQuery: {text}` for an
/// E5-instruct query, `query: {text}` / `passage: {text}` for E5, `{text}` otherwise.
pub fn format_text(m: &Manifest, role: Role, instruction: Option<&str>, text: &str) -> String {
    let template = match role {
        Role::Query => m.templates.query.as_deref(),
        Role::Document => m.templates.document.as_deref(),
    }
    .unwrap_or("{text}");
    let instruction = instruction.or(m.default_instruction.as_deref()).unwrap_or("");
    fill_template(template, text, instruction)
}

/// Limits on one inference run.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_texts: usize,
    pub max_tokens: usize,
}

/// Group encoded texts into batches: longest first, at most `max_texts` per batch and at most
/// `max_tokens` padded tokens (count × longest). Returns indices into `lens`.
pub fn plan_batches(lens: &[usize], limits: BatchLimits) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by(|&a, &b| lens[b].cmp(&lens[a]).then(a.cmp(&b)));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut longest = 0usize;
    for i in order {
        let l = lens[i].max(1);
        let new_longest = longest.max(l);
        if !cur.is_empty() && (cur.len() + 1 > limits.max_texts.max(1) || (cur.len() + 1) * new_longest > limits.max_tokens) {
            batches.push(std::mem::take(&mut cur));
            longest = 0;
        }
        longest = longest.max(l);
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    batches
}

/// Pad a batch to its longest text: (input_ids, attention_mask, token_type_ids, seq_len).
pub fn pad_batch(encs: &[&Encoded], pad_id: i64, left: bool) -> (Vec<i64>, Vec<i64>, Vec<i64>, usize) {
    let seq = encs.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
    let n = encs.len();
    let mut ids = vec![pad_id; n * seq];
    let mut mask = vec![0i64; n * seq];
    let mut types = vec![0i64; n * seq];
    for (r, e) in encs.iter().enumerate() {
        let off = if left { seq - e.len() } else { 0 };
        let row = r * seq + off;
        ids[row..row + e.len()].copy_from_slice(&e.ids);
        types[row..row + e.len()].copy_from_slice(&e.type_ids);
        mask[row..row + e.len()].iter_mut().for_each(|m| *m = 1);
    }
    (ids, mask, types, seq)
}

/// Mean-pool (or take the first token of) `hidden` [n, seq, dims] with `mask` [n, seq].
pub fn pool(hidden: &[f32], mask: &[i64], n: usize, seq: usize, dims: usize, cls: bool, normalize: bool) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(n);
    for r in 0..n {
        let mut v = vec![0f32; dims];
        if cls {
            v.copy_from_slice(&hidden[r * seq * dims..r * seq * dims + dims]);
        } else {
            let mut count = 0f32;
            for t in 0..seq {
                if mask[r * seq + t] != 0 {
                    let h = &hidden[(r * seq + t) * dims..(r * seq + t + 1) * dims];
                    for (a, b) in v.iter_mut().zip(h) {
                        *a += *b;
                    }
                    count += 1.0;
                }
            }
            let c = count.max(1e-9);
            v.iter_mut().for_each(|a| *a /= c);
        }
        if normalize {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v.iter_mut().for_each(|a| *a /= norm);
        }
        out.push(v);
    }
    out
}

/// Embed `texts` (already formatted) with an embedding model. `between_batches` runs before
/// every batch (the SQL layer checks for query cancel there).
pub fn embed_texts(m: &mut LoadedModel, texts: &[String], limits: BatchLimits, between_batches: &mut dyn FnMut()) -> Result<Vec<Vec<f32>>> {
    let manifest = &m.model.manifest;
    if manifest.kind != ModelKind::Embedding {
        return Err(Error::invalid(format!(
            "model \"{}\" is {} model, not an embedding model",
            manifest.id,
            crate::models::manifest::with_article(manifest.kind.name())
        )));
    }
    let dims = manifest.dims.unwrap_or(0);
    let cls = manifest.pooling.as_deref() == Some("cls");
    let normalize = manifest.normalize.unwrap_or(true);
    let output = manifest.output.clone().unwrap_or_else(|| "last_hidden_state".into());
    let id = manifest.id.clone();
    let encs: Vec<Encoded> = {
        let tok = m.tok()?;
        texts.iter().map(|t| tok.encode(t)).collect::<Result<_>>()?
    };
    let lens: Vec<usize> = encs.iter().map(Encoded::len).collect();
    let mut result: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
    let inputs = TokenInputs::of(m, false)?;
    run_batches(
        m,
        plan_batches(&lens, limits),
        &output,
        between_batches,
        |batch| inputs.build(&encs, batch),
        |batch, padded, oshape, hidden| {
            let (n, seq) = (batch.len(), padded.seq);
            if oshape.len() != 3 || oshape[0] as usize != n || oshape[1] as usize != seq {
                return Err(Error::Runtime(format!(
                    "model \"{id}\": output \"{output}\" has shape {oshape:?}, expected [{n}, {seq}, {dims}]"
                )));
            }
            let got = oshape[2] as usize;
            if got != dims {
                return Err(Error::DimensionMismatch { expected: dims, actual: got });
            }
            for (k, v) in pool(hidden, &padded.mask, n, seq, dims, cls, normalize).into_iter().enumerate() {
                result[batch[k]] = v;
            }
            Ok(())
        },
    )?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            fill_template("Instruct: {instruction}\nQuery: {text}", "hi {instruction}", "find"),
            "Instruct: find\nQuery: hi {instruction}"
        );
        assert_eq!(fill_template("query: {text}", "x", ""), "query: x");
        assert_eq!(fill_template("{text}", "{a}", ""), "{a}");
        assert_eq!(fill_template("{weird} {text}", "x", ""), "{weird} x");
    }

    #[test]
    fn batches_respect_limits_and_cover_everything() {
        let lens = [5, 100, 7, 7, 3, 100, 1];
        let b = plan_batches(&lens, BatchLimits { max_texts: 2, max_tokens: 1000 });
        assert_eq!(b, vec![vec![1, 5], vec![2, 3], vec![0, 4], vec![6]]);
        let b = plan_batches(&lens, BatchLimits { max_texts: 10, max_tokens: 150 });
        assert_eq!(b, vec![vec![1], vec![5], vec![2, 3, 0, 4, 6]]);
        let mut all: Vec<usize> = b.concat();
        all.sort();
        assert_eq!(all, (0..lens.len()).collect::<Vec<_>>());
        // a text longer than max_tokens still gets a batch of its own
        assert_eq!(plan_batches(&[500], BatchLimits { max_texts: 4, max_tokens: 64 }), vec![vec![0]]);
        assert!(plan_batches(&[], BatchLimits { max_texts: 4, max_tokens: 64 }).is_empty());
    }

    #[test]
    fn padding_right_and_left() {
        let a = Encoded { ids: vec![1, 2, 3], type_ids: vec![0, 0, 0] };
        let b = Encoded { ids: vec![4], type_ids: vec![0] };
        let (ids, mask, _, seq) = pad_batch(&[&a, &b], 9, false);
        assert_eq!((ids, mask, seq), (vec![1, 2, 3, 4, 9, 9], vec![1, 1, 1, 1, 0, 0], 3));
        let (ids, mask, _, _) = pad_batch(&[&a, &b], 9, true);
        assert_eq!((ids, mask), (vec![1, 2, 3, 9, 9, 4], vec![1, 1, 1, 0, 0, 1]));
    }

    #[test]
    fn mean_pooling_ignores_padding() {
        // n=1, seq=3, dims=2; third token is padding with huge values
        let hidden = [1.0, 0.0, 3.0, 0.0, 100.0, 100.0];
        let v = pool(&hidden, &[1, 1, 0], 1, 3, 2, false, false);
        assert_eq!(v, vec![vec![2.0, 0.0]]);
        let v = pool(&hidden, &[1, 1, 0], 1, 3, 2, false, true);
        assert_eq!(v, vec![vec![1.0, 0.0]]);
        let v = pool(&hidden, &[1, 1, 0], 1, 3, 2, true, false);
        assert_eq!(v, vec![vec![1.0, 0.0]]);
    }
}
