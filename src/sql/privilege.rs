//! Writes to shared tables run with the rights of the tables' owner.
//!
//! songmatch's tables are owned by the non-login role `songmatch_owner` (see sql/finalize.sql).
//! API roles (`authenticated`, `anon`, anything given `songmatch.grant_access`) hold SELECT on
//! the catalogue and under row-level security on their own rows, and EXECUTE on the API; they
//! hold no INSERT/UPDATE/DELETE on any shared table. What songmatch derives (embeddings,
//! emotions, profiles, the match cache, counters) it stores itself: [`as_owner`] runs a closure
//! with the owner's user id, as PostgreSQL does for a SECURITY DEFINER function, and with
//! `search_path = pg_catalog, pg_temp` so no object of the caller's can stand in for one of
//! ours. Every value such a closure writes is computed by songmatch; none comes from the caller.
//!
//! What a caller may read (and so which playlist a write is about) is decided before, with the
//! caller's own rights: e.g. `match_playlist` loads the playlist under row-level security and only
//! then stores its profile and results.
//!
//! The FFI calls of the switch live in `ffi.rs`, whose module docs say where the layer's other
//! unsafe code is.

use crate::core::{Error, Result};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The owner of songmatch's tables (the role every privileged write runs as).
fn owner() -> Result<pg_sys::Oid> {
    super::plans::select(
        "select c.relowner from pg_catalog.pg_class c
           join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'songmatch' and c.relname = 'track_embeddings'",
        &[],
        |mut t| match t.next() {
            Some(r) => r.get::<pg_sys::Oid>(1),
            None => Ok(None),
        },
    )
    .map_err(|e| Error::Runtime(format!("cannot find the owner of songmatch's tables: {e}")))?
    .ok_or_else(|| Error::Runtime("songmatch.track_embeddings does not exist".into()))
}

/// Run `f` with the rights of the owner of songmatch's tables and a pinned `search_path`.
///
/// The previous user id, security context and settings are restored when `f` returns. When `f`
/// raises a PostgreSQL error, the (sub)transaction abort restores them, exactly as for a
/// SECURITY DEFINER function.
pub fn as_owner<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let owner = owner()?;
    let switch = super::ffi::OwnerSwitch::enter(owner);
    let out = f();
    switch.leave();
    out
}

/// A caller under row-level security (an API role once `enable_row_level_security()` ran) must
/// carry a user id (`request.jwt.claims` `sub`) before songmatch computes and stores anything on
/// its behalf: without one it keeps the pure functions (42501 otherwise).
pub fn require_signed_in(what: &str) -> Result<()> {
    let anonymous = Spi::get_one::<bool>(
        "select pg_catalog.row_security_active('songmatch.playlists'::pg_catalog.regclass)
            and songmatch.current_user_id() is null",
    )
    .map_err(|e| Error::Runtime(format!("cannot check the caller: {e}")))?
    .unwrap_or(false);
    if anonymous {
        return Err(Error::PermissionDenied(format!("{what} needs a signed-in user: request.jwt.claims has no uuid \"sub\"")));
    }
    Ok(())
}

/// Whether the caller may see `user`'s rows at all: always without row-level security (a
/// management role, or RLS off); under it, only when the caller is that user. A call that names
/// another user is answered as row-level security would answer it (nothing of theirs exists)
/// without querying their rows, which on Citus live on another node.
pub fn caller_sees_user(user: pgrx::Uuid) -> Result<bool> {
    let sees = Spi::get_one_with_args::<bool>(
        "select not pg_catalog.row_security_active('songmatch.playlists'::pg_catalog.regclass)
             or songmatch.current_user_id() is not distinct from $1",
        &[user.into()],
    )
    .map_err(|e| Error::Runtime(format!("cannot check the caller: {e}")))?
    .unwrap_or(false);
    Ok(sees)
}
