//! Usage counters: the deltas of one call (the core's [`Counters`]), written to
//! `songmatch.stats_deltas` in one statement.

use super::writes;
use crate::core::Result;
use crate::sql::privilege::as_owner;
use crate::sql::spi_err;

pub use crate::core::pipeline::Counters;

/// Writing a call's counter deltas.
pub trait Flush {
    /// Write the deltas to songmatch.stats_deltas, in one statement (none when there are none).
    fn flush(self) -> Result<()>;
}

impl Flush for Counters {
    fn flush(self) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let (names, deltas): (Vec<String>, Vec<f64>) = self.into_inner().into_iter().unzip();
        as_owner(|| {
            crate::sql::plans::update(writes::STATS_DELTAS, &[names.into(), deltas.into()], |_| Ok(()))
                .map_err(spi_err("cannot record counters"))
        })
    }
}
