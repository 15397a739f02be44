//! Statements that write and return what they wrote (run with songmatch's rights by the caller).

/// Run a writing statement and return the first column of its first row, if any.
pub(super) fn write_returning_i64(
    sql: &'static str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> std::result::Result<Option<i64>, pgrx::spi::SpiError> {
    crate::sql::plans::update(sql, args, |mut t| match t.next() {
        Some(r) => r.get::<i64>(1),
        None => Ok(None),
    })
}
