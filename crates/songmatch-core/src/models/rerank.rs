//! Rerankers: `causal-lm-yes-no` (Qwen3-Reranker: the official prompt, score =
//! sigmoid(logit_yes − logit_no) at the last position, left padding with matching position ids)
//! and `cross-encoder` (query/document pair encoding, score = logits[:, 0]).

use crate::error::{Error, Result};
use crate::models::batch::{run_batches, TokenInputs};
use crate::models::classify::{run_encoded, sigmoid};
use crate::models::embed::{fill_template, plan_batches, BatchLimits};
use crate::models::engine::LoadedModel;
use crate::models::manifest::ModelKind;
use crate::models::tokenize::Encoded;

/// Most padded tokens in one causal-LM reranker run (see [`rerank`]).
pub const CAUSAL_LM_MAX_BATCH_TOKENS: usize = 1024;

/// The token ids of one causal-LM reranker prompt, as the official Qwen3-Reranker code builds
/// them: prefix and suffix without special tokens, the body truncated to what remains of
/// max_tokens.
pub fn prompt_ids(m: &LoadedModel, query: &str, doc: &str, instruction: &str) -> Result<Vec<i64>> {
    let (prefix, suffix) = prompt_frame(m)?;
    prompt_ids_framed(m, &prefix, &suffix, query, doc, instruction)
}

/// The token ids of the template's prefix and suffix (the same for every document).
fn prompt_frame(m: &LoadedModel) -> Result<(Vec<i64>, Vec<i64>)> {
    let mf = &m.model.manifest;
    let t = mf.template.as_ref().ok_or_else(|| Error::Config(format!("model \"{}\" has no prompt template", mf.id)))?;
    let tok = m.tok()?;
    Ok((tok.encode_plain(&t.prefix)?, tok.encode_plain(&t.suffix)?))
}

fn prompt_ids_framed(m: &LoadedModel, prefix: &[i64], suffix: &[i64], query: &str, doc: &str, instruction: &str) -> Result<Vec<i64>> {
    let mf = &m.model.manifest;
    let t = mf.template.as_ref().ok_or_else(|| Error::Config(format!("model \"{}\" has no prompt template", mf.id)))?;
    let tok = m.tok()?;
    let body_text = fill_template(&t.body.replace("{query}", "\u{0}Q\u{0}").replace("{doc}", "\u{0}D\u{0}"), "", instruction)
        .replace("\u{0}Q\u{0}", query)
        .replace("\u{0}D\u{0}", doc);
    let mut body = tok.encode_plain(&body_text)?;
    let room = mf.max_tokens.saturating_sub(prefix.len() + suffix.len());
    body.truncate(room);
    let mut ids = Vec::with_capacity(prefix.len() + body.len() + suffix.len());
    ids.extend_from_slice(prefix);
    ids.extend(body);
    ids.extend_from_slice(suffix);
    Ok(ids)
}

/// Scores of `docs` against `query`, in input order.
pub fn rerank(
    m: &mut LoadedModel,
    query: &str,
    docs: &[String],
    instruction: Option<&str>,
    limits: BatchLimits,
    between: &mut dyn FnMut(),
) -> Result<Vec<f64>> {
    let mf = m.model.manifest.clone();
    match mf.kind {
        ModelKind::CrossEncoder => {
            let encs: Vec<Encoded> = {
                let tok = m.tok()?;
                docs.iter().map(|d| tok.encode_pair(query, d)).collect::<Result<_>>()?
            };
            let logits = run_encoded(m, &encs, limits, between)?;
            let sig = mf.activation.as_deref() == Some("sigmoid");
            Ok(logits
                .into_iter()
                .map(|row| {
                    let x = row.first().copied().unwrap_or(f32::NAN);
                    (if sig { sigmoid(x) } else { x }) as f64
                })
                .collect())
        }
        ModelKind::CausalLmYesNo => {
            let instruction = instruction.or(mf.default_instruction.as_deref()).unwrap_or("");
            let (yes, no) = {
                let tok = m.tok()?;
                let id_of = |t: &Option<String>, what: &str| -> Result<i64> {
                    let t = t.as_deref().unwrap_or(what);
                    tok.token_id(t)
                        .map(|i| i as i64)
                        .ok_or_else(|| Error::Config(format!("model \"{}\": the tokenizer has no single token \"{t}\"", mf.id)))
                };
                (id_of(&mf.yes_token, "yes")?, id_of(&mf.no_token, "no")?)
            };
            let (prefix, suffix) = prompt_frame(m)?;
            let prompts: Vec<Encoded> = docs
                .iter()
                .map(|d| {
                    prompt_ids_framed(m, &prefix, &suffix, query, d, instruction).map(|ids| Encoded { type_ids: vec![0; ids.len()], ids })
                })
                .collect::<Result<_>>()?;
            let id = mf.id.clone();
            let output = mf.output.clone().unwrap_or_else(|| "logits".into());
            let lens: Vec<usize> = prompts.iter().map(Encoded::len).collect();
            // The graph returns logits for every position and the whole vocabulary
            // ([n, seq, vocab], ~600 MB per 1k tokens for Qwen3's 152k vocabulary): keep batches small.
            let limits = BatchLimits { max_texts: limits.max_texts, max_tokens: limits.max_tokens.min(CAUSAL_LM_MAX_BATCH_TOKENS) };
            let mut scores = vec![f64::NAN; docs.len()];
            // left padding, with position ids that skip it
            let inputs = TokenInputs::of(m, true)?;
            run_batches(
                m,
                plan_batches(&lens, limits),
                &output,
                between,
                |batch| inputs.build(&prompts, batch),
                |batch, padded, oshape, data| {
                    let (n, seq) = (batch.len(), padded.seq);
                    if oshape.len() != 3 || oshape[0] as usize != n || oshape[1] as usize != seq {
                        return Err(Error::Runtime(format!("model \"{id}\": logits have shape {oshape:?}")));
                    }
                    let vocab = oshape[2] as usize;
                    if yes as usize >= vocab || no as usize >= vocab {
                        return Err(Error::Config(format!("model \"{id}\": yes/no token ids exceed the vocabulary ({vocab})")));
                    }
                    for (k, &i) in batch.iter().enumerate() {
                        let last = &data[(k * seq + seq - 1) * vocab..(k * seq + seq) * vocab];
                        scores[i] = sigmoid(last[yes as usize] - last[no as usize]) as f64;
                    }
                    Ok(())
                },
            )?;
            Ok(scores)
        }
        other => Err(Error::invalid(format!(
            "model \"{}\" is {} model, not a reranker",
            mf.id,
            crate::models::manifest::with_article(other.name())
        ))),
    }
}
