//! Tokenization with the HF `tokenizers` crate, configured by the manifest rather than by the
//! tokenizer.json: padding is removed (the engine pads each batch to its longest text; some
//! shipped tokenizer.json files pad every input to a fixed length, which makes inference
//! several times slower) and truncation is set to the manifest's `max_tokens`.
//! Texts are encoded one by one on the calling thread: no thread pool inside a backend.

use crate::error::{Error, Result};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

pub struct TextTokenizer {
    tok: Tokenizer,
    /// The same tokenizer without truncation, made on first use (prompt pieces of a causal LM).
    plain: once_cell::unsync::OnceCell<Tokenizer>,
    pub pad_id: u32,
    pub max_tokens: usize,
}

/// One encoded text.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub type_ids: Vec<i64>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl TextTokenizer {
    pub fn load(path: &Path, max_tokens: usize) -> Result<Self> {
        if !path.exists() {
            return Err(Error::MissingFile { path: path.to_path_buf() });
        }
        let mut tok = Tokenizer::from_file(path).map_err(|e| Error::Config(format!("cannot load tokenizer {}: {e}", path.display())))?;
        let pad_id = tok
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| ["[PAD]", "<pad>", "<|endoftext|>"].iter().find_map(|t| tok.token_to_id(t)))
            .unwrap_or(0);
        tok.with_padding(None);
        tok.with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| Error::Config(format!("cannot configure truncation for {}: {e}", path.display())))?;
        Ok(TextTokenizer { tok, plain: once_cell::unsync::OnceCell::new(), pad_id, max_tokens })
    }

    pub fn encode(&self, text: &str) -> Result<Encoded> {
        let enc = self.tok.encode(text, true).map_err(|e| Error::data(format!("the tokenizer rejected the text: {e}")))?;
        Ok(Encoded {
            ids: enc.get_ids().iter().map(|&i| i as i64).collect(),
            type_ids: enc.get_type_ids().iter().map(|&i| i as i64).collect(),
        })
    }

    /// Encode a (query, document) pair with special tokens and pair truncation (cross-encoders).
    pub fn encode_pair(&self, a: &str, b: &str) -> Result<Encoded> {
        let enc = self.tok.encode((a, b), true).map_err(|e| Error::data(format!("the tokenizer rejected the text pair: {e}")))?;
        Ok(Encoded {
            ids: enc.get_ids().iter().map(|&i| i as i64).collect(),
            type_ids: enc.get_type_ids().iter().map(|&i| i as i64).collect(),
        })
    }

    /// Encode without special tokens and without truncation (prompt pieces of a causal LM).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<i64>> {
        let tok = self.plain.get_or_try_init(|| {
            let mut t = self.tok.clone();
            t.with_truncation(None).map_err(|e| Error::Config(format!("cannot disable truncation: {e}")))?;
            Ok::<_, Error>(t)
        })?;
        let enc = tok.encode(text, false).map_err(|e| Error::data(format!("the tokenizer rejected the text: {e}")))?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tok.token_to_id(token)
    }
}
