//! The service's recent results of its text models (embeddings and classification logits), by
//! model and exact text: single flight across sessions. When one track's new document is needed at
//! once by several matchers and by the refresher, the first request runs the model and the others
//! are answered from here; within one batch a text that several requests bring is run once too.
//! A result is the model's output for that text under the same settings: a new run would give
//! the same values up to the float rounding that its batch's shape brings (attention and pooling
//! are masked per text; the client test `service` bounds that at cosine 0.999999).
//!
//! Bounded by the bytes of the values it holds; the oldest entries go first.

use super::{Op, Request};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

/// What a result depends on besides its text: the operation, the model (directory, id, pinned
/// file) and the engine settings.
pub fn scope(req: &Request) -> u64 {
    let mut h = DefaultHasher::new();
    req.op.hash(&mut h);
    req.dir.hash(&mut h);
    req.model.hash(&mut h);
    req.sha.hash(&mut h);
    req.cfg.library.hash(&mut h);
    req.cfg.graph_optimization.hash(&mut h);
    req.cfg.verify_cache.hash(&mut h);
    h.finish()
}

/// Whether an operation's results are kept here (texts in, one row per text out).
pub fn keeps(op: Op) -> bool {
    matches!(op, Op::Embed | Op::Classify)
}

pub struct Recent {
    values: HashMap<(u64, String), Vec<f32>>,
    order: VecDeque<(u64, String)>,
    bytes: usize,
    capacity: usize,
}

impl Recent {
    /// At most `capacity` bytes of values (0: keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Recent { values: HashMap::new(), order: VecDeque::new(), bytes: 0, capacity }
    }

    pub fn get(&self, scope: u64, text: &str) -> Option<&Vec<f32>> {
        // (a borrowed key would need the tuple's String: the map is small enough to build one)
        self.values.get(&(scope, text.to_string()))
    }

    pub fn put(&mut self, scope: u64, text: &str, value: &[f32]) {
        let size = Self::size(text, value);
        if size > self.capacity {
            return;
        }
        let key = (scope, text.to_string());
        if self.values.contains_key(&key) {
            return;
        }
        while self.bytes + size > self.capacity {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(v) = self.values.remove(&old) {
                self.bytes -= Self::size(&old.1, &v);
            }
        }
        self.bytes += size;
        self.order.push_back(key.clone());
        self.values.insert(key, value.to_vec());
    }

    /// Forget everything (models reloaded).
    pub fn clear(&mut self) {
        self.values.clear();
        self.order.clear();
        self.bytes = 0;
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn size(text: &str, value: &[f32]) -> usize {
        text.len() + value.len() * 4 + 64
    }

    /// The rows of `texts` (one each, in order) and which of them were not run now (`true`: found
    /// here, or a repeat of an earlier text of the same call): `run` gets each missing text once.
    pub fn answer<E>(
        &mut self,
        scope: u64,
        texts: &[String],
        run: impl FnOnce(&[String]) -> Result<Vec<Vec<f32>>, E>,
    ) -> Result<(Vec<Vec<f32>>, Vec<bool>), E> {
        let mut rows: Vec<Option<Vec<f32>>> = texts.iter().map(|t| self.get(scope, t).cloned()).collect();
        let mut shared: Vec<bool> = rows.iter().map(Option::is_some).collect();
        let mut todo: Vec<String> = Vec::new();
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut slot: Vec<Option<usize>> = vec![None; texts.len()];
        for (i, t) in texts.iter().enumerate() {
            if rows[i].is_some() {
                continue;
            }
            match first.get(t.as_str()) {
                Some(&k) => {
                    slot[i] = Some(k);
                    shared[i] = true;
                }
                None => {
                    first.insert(t.as_str(), todo.len());
                    slot[i] = Some(todo.len());
                    todo.push(t.clone());
                }
            }
        }
        if !todo.is_empty() {
            let computed = run(&todo)?;
            for (t, v) in todo.iter().zip(&computed) {
                self.put(scope, t, v);
            }
            for (i, s) in slot.iter().enumerate() {
                if let Some(k) = s {
                    rows[i] = computed.get(*k).cloned();
                }
            }
        }
        Ok((rows.into_iter().map(Option::unwrap_or_default).collect(), shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn run_counting(calls: &mut Vec<Vec<String>>) -> impl FnMut(&[String]) -> Result<Vec<Vec<f32>>, String> + '_ {
        move |t: &[String]| {
            calls.push(t.to_vec());
            Ok(t.iter().map(|s| vec![s.len() as f32, s.as_bytes()[0] as f32]).collect())
        }
    }

    #[test]
    fn each_text_runs_once_and_repeats_are_answered() {
        let mut r = Recent::new(1 << 20);
        let mut calls = Vec::new();
        let (rows, shared) = r.answer(1, &texts(&["a", "bb", "a"]), run_counting(&mut calls)).unwrap();
        assert_eq!(rows, vec![vec![1.0, 97.0], vec![2.0, 98.0], vec![1.0, 97.0]]);
        assert_eq!(shared, vec![false, false, true]);
        assert_eq!(calls, vec![texts(&["a", "bb"])]);
        // a later call: only the new text runs
        let (rows, shared) = r.answer(1, &texts(&["bb", "ccc"]), run_counting(&mut calls)).unwrap();
        assert_eq!(rows, vec![vec![2.0, 98.0], vec![3.0, 99.0]]);
        assert_eq!(shared, vec![true, false]);
        assert_eq!(calls[1], texts(&["ccc"]));
        // everything known: no run at all
        let (_, shared) = r.answer(1, &texts(&["a", "ccc"]), run_counting(&mut calls)).unwrap();
        assert_eq!(shared, vec![true, true]);
        assert_eq!(calls.len(), 2);
        // another scope (model or settings) knows nothing of these
        let (_, shared) = r.answer(2, &texts(&["a"]), run_counting(&mut calls)).unwrap();
        assert_eq!(shared, vec![false]);
        assert_eq!(calls.len(), 3);
    }

    #[test]
    fn a_failed_run_stores_nothing() {
        let mut r = Recent::new(1 << 20);
        let e = r.answer(1, &texts(&["a"]), |_| Err::<Vec<Vec<f32>>, _>("boom"));
        assert_eq!(e.unwrap_err(), "boom");
        assert!(r.is_empty());
    }

    #[test]
    fn bounded_oldest_first() {
        let one = Recent::size("t0", &[0.0; 10]);
        let mut r = Recent::new(one * 3);
        for i in 0..5 {
            r.put(7, &format!("t{i}"), &[i as f32; 10]);
        }
        assert_eq!(r.len(), 3);
        assert!(r.get(7, "t0").is_none() && r.get(7, "t1").is_none());
        assert_eq!(r.get(7, "t4"), Some(&vec![4.0; 10]));
        r.clear();
        assert!(r.is_empty() && r.bytes == 0);
        // nothing larger than the whole cache, and a capacity of 0 keeps nothing
        let mut z = Recent::new(0);
        z.put(1, "x", &[1.0]);
        assert!(z.is_empty());
    }
}
