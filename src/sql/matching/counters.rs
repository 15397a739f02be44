//! Usage counters: the deltas of one call, written to `songmatch.stats_deltas` in one statement.

use crate::core::Result;
use crate::sql::privilege::as_owner;
use crate::sql::spi_err;
use std::collections::BTreeMap;

/// Counter deltas of one call, written to songmatch.stats_deltas in one statement.
#[derive(Default)]
pub struct Counters(BTreeMap<String, f64>);

impl Counters {
    pub fn add(&mut self, name: &str, delta: f64) {
        if delta != 0.0 {
            *self.0.entry(name.to_string()).or_insert(0.0) += delta;
        }
    }

    /// The delta of `name` so far (tests).
    #[cfg(any(test, feature = "pg_test"))]
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    pub fn flush(self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self.0.keys().cloned().collect();
        let deltas: Vec<f64> = self.0.values().copied().collect();
        as_owner(|| {
            crate::sql::plans::update(
                "insert into songmatch.stats_deltas (name, delta) select * from unnest($1::text[], $2::float8[])",
                &[names.into(), deltas.into()],
                |_| Ok(()),
            )
            .map_err(spi_err("cannot record counters"))
        })
    }
}
