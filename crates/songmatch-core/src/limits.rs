//! Request limits: how much work one SQL call may ask for.
//!
//! An API caller (PostgREST's `authenticated`) must not be able to occupy a backend for minutes
//! with one request. The SQL surface reads the limits from superuser-only settings
//! (`songmatch.max_text_length`, `max_batch_size`, `max_candidates`, `max_top_k`) and checks
//! every request against them here before any work starts. A request over a limit is an error
//! with SQLSTATE 54000 that names the setting and its value; a `top_k` below 1 is 22023.

use super::{Error, Result};

/// The limits in force for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Characters of one text (embed, emotions, rerank query and documents, tokenize).
    pub max_text_length: usize,
    /// Elements of one batch argument (texts, documents, track ids).
    pub max_batch_size: usize,
    /// Candidate tracks of one match (given, or the owner's liked songs).
    pub max_candidates: usize,
    /// Rows asked for with `top_k`.
    pub max_top_k: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_text_length: 20_000, max_batch_size: 1_000, max_candidates: 10_000, max_top_k: 1_000 }
    }
}

fn over(what: &str, n: usize, unit: &str, setting: &str, limit: usize) -> Error {
    Error::LimitExceeded(format!("{what} has {n} {unit}, more than songmatch.{setting} = {limit}"))
}

impl Limits {
    /// One text: at most `max_text_length` characters.
    pub fn check_text(&self, what: &str, text: &str) -> Result<()> {
        // bytes bound characters from above: count only when the text could be too long
        if text.len() > self.max_text_length {
            let n = text.chars().count();
            if n > self.max_text_length {
                return Err(over(what, n, "characters", "max_text_length", self.max_text_length));
            }
        }
        Ok(())
    }

    /// Several texts (NULL elements are allowed and skipped); the message names the element.
    pub fn check_texts<'a>(&self, what: &str, texts: impl IntoIterator<Item = Option<&'a str>>) -> Result<()> {
        for (i, t) in texts.into_iter().enumerate() {
            if let Some(t) = t {
                self.check_text(&format!("{what} element {}", i + 1), t)?;
            }
        }
        Ok(())
    }

    /// A batch argument: at most `max_batch_size` elements.
    pub fn check_batch(&self, what: &str, n: usize) -> Result<()> {
        if n > self.max_batch_size {
            return Err(over(what, n, "elements", "max_batch_size", self.max_batch_size));
        }
        Ok(())
    }

    /// The candidates of one match: at most `max_candidates`.
    pub fn check_candidates(&self, what: &str, n: usize) -> Result<()> {
        if n > self.max_candidates {
            return Err(over(what, n, "candidate tracks", "max_candidates", self.max_candidates));
        }
        Ok(())
    }

    /// `top_k`: at least 1 (22023), at most `max_top_k` (54000).
    pub fn check_top_k(&self, top_k: i64) -> Result<usize> {
        if top_k < 1 {
            return Err(Error::invalid(format!("top_k must be at least 1, got {top_k}")));
        }
        if top_k as u64 > self.max_top_k as u64 {
            return Err(Error::LimitExceeded(format!("top_k = {top_k} is more than songmatch.max_top_k = {}", self.max_top_k)));
        }
        Ok(top_k as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits { max_text_length: 5, max_batch_size: 3, max_candidates: 4, max_top_k: 10 }
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        let l = small();
        assert!(l.check_text("text", "héllo").is_ok()); // 5 characters, 6 bytes
        let e = l.check_text("text", "héllo!").unwrap_err();
        assert_eq!(e.sqlstate(), "54000");
        assert_eq!(e.to_string(), "text has 6 characters, more than songmatch.max_text_length = 5");
    }

    #[test]
    fn texts_name_the_element_and_skip_nulls() {
        let l = small();
        assert!(l.check_texts("texts", [Some("a"), None, Some("abcde")]).is_ok());
        let e = l.check_texts("texts", [None, Some("abcdef")]).unwrap_err();
        assert_eq!(e.to_string(), "texts element 2 has 6 characters, more than songmatch.max_text_length = 5");
    }

    #[test]
    fn batch_candidates_and_top_k() {
        let l = small();
        assert!(l.check_batch("track_ids", 3).is_ok());
        assert_eq!(
            l.check_batch("track_ids", 4).unwrap_err().to_string(),
            "track_ids has 4 elements, more than songmatch.max_batch_size = 3"
        );
        assert!(l.check_candidates("candidate_track_ids", 4).is_ok());
        let e = l.check_candidates("candidate_track_ids", 5).unwrap_err();
        assert_eq!(e.sqlstate(), "54000");
        assert_eq!(e.to_string(), "candidate_track_ids has 5 candidate tracks, more than songmatch.max_candidates = 4");
        assert_eq!(l.check_top_k(10).unwrap(), 10);
        assert_eq!(l.check_top_k(0).unwrap_err().sqlstate(), "22023");
        assert_eq!(l.check_top_k(-3).unwrap_err().to_string(), "top_k must be at least 1, got -3");
        let e = l.check_top_k(11).unwrap_err();
        assert_eq!((e.sqlstate(), e.to_string().as_str()), ("54000", "top_k = 11 is more than songmatch.max_top_k = 10"));
    }

    #[test]
    fn defaults_are_generous_for_apps() {
        let d = Limits::default();
        assert_eq!((d.max_text_length, d.max_batch_size, d.max_candidates, d.max_top_k), (20_000, 1_000, 10_000, 1_000));
    }
}
