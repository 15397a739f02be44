//! Most of the SQL layer's `unsafe`, each behind a safe function: the user switch of songmatch's
//! writes (`privilege.rs`), pgvector's binary layout (`vector.rs`), the server's own paths,
//! reserving the `songmatch.` settings prefix, and the process management of the inference
//! supervisor (fork, wait, signals: `service.rs`). All of it runs on the backend's main thread
//! (worker threads never call into PostgreSQL).
//!
//! The rest stays beside the code it serves, each block with its `SAFETY:` note
//! (`clippy::undocumented_unsafe_blocks`, in `make lint`):
//! * `store.rs`: the feature store's read-only file mapping: `mmap` / `munmap`, the slices read
//!   from it, and `Mapped`'s `Send`, `Sync` and `FloatSource` impls (stage 1's worker threads
//!   read the mapping in place); and four reads of backend state: `DataDir` (the store's
//!   directory), `MyDatabaseId` (its file name), `MyProcPid` (a builder's temporary file) and
//!   `TransactionIdIsCurrentTransactionId` (whether this transaction changed the catalogue).
//! * `plans.rs`: `select_batches` frees each batch's SPI tuple table (`SPI_tuptable`,
//!   `SPI_freetuptable`) once it is read, so that a large read does not hold every row.
//! * `vector.rs`: pgrx's datum traits for `vector` and `halfvec` (`FromDatum`, `ArgAbi`,
//!   `BoxRet`), unsafe by their signatures, which call [`vector_elems`] here.
//! * `refresh.rs`, `service.rs`: `#[unsafe(no_mangle)]` on the background workers' entry points,
//!   which PostgreSQL finds by name.

use pgrx::pg_sys;
use std::ffi::CStr;
use std::path::PathBuf;

/// The user id, security context and GUC nesting level of songmatch's owner switch.
pub struct OwnerSwitch {
    saved_user: pg_sys::Oid,
    saved_context: i32,
    nest: i32,
}

impl OwnerSwitch {
    /// Become `owner` (as a SECURITY DEFINER function does: restricted security context) with
    /// `search_path` pinned to `pg_catalog, pg_temp` until [`OwnerSwitch::leave`]. When an error
    /// is raised in between, the (sub)transaction abort restores both.
    pub fn enter(owner: pg_sys::Oid) -> Self {
        let mut saved_user = pg_sys::InvalidOid;
        let mut saved_context: i32 = 0;
        // SAFETY: plain backend-local calls on the main thread: they read and set the current
        // user id and security context (miscadmin.h) and open a GUC nesting level, as fmgr's
        // security-definer path does. `set_config_option` gets NUL-terminated static strings.
        let nest = unsafe {
            pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
            let restricted = (pg_sys::SECURITY_LOCAL_USERID_CHANGE | pg_sys::SECURITY_RESTRICTED_OPERATION) as i32;
            pg_sys::SetUserIdAndSecContext(owner, saved_context | restricted);
            let nest = pg_sys::NewGUCNestLevel();
            pg_sys::set_config_option(
                c"search_path".as_ptr(),
                c"pg_catalog, pg_temp".as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
            nest
        };
        OwnerSwitch { saved_user, saved_context, nest }
    }

    /// Back to the caller's user, security context and settings.
    pub fn leave(self) {
        // SAFETY: undoes `enter` in reverse order, with the values it saved.
        unsafe {
            pg_sys::AtEOXact_GUC(true, self.nest);
            pg_sys::SetUserIdAndSecContext(self.saved_user, self.saved_context);
        }
    }
}

const VECTOR_HEADER: usize = 8; // int32 vl_len_, int16 dim, int16 unused

/// The elements of a pgvector `vector` (T = f32) or `halfvec` (T = f16) datum.
///
/// # Safety
/// `datum` must be a non-NULL datum of the pgvector type whose element type is T. The element
/// count is capped by the varlena's own size, so a malformed header cannot make this read past
/// the value.
pub unsafe fn vector_elems<T: Copy>(datum: pg_sys::Datum) -> Vec<T> {
    let elem = std::mem::size_of::<T>();
    // SAFETY: see the contract; detoasting returns a palloc'd copy (freed below) or the datum
    // itself, and the copy reads `dim * size_of::<T>()` bytes inside it.
    unsafe {
        let raw = datum.cast_mut_ptr::<pg_sys::varlena>();
        let detoasted = pg_sys::pg_detoast_datum(raw);
        let base = detoasted as *const u8;
        let dim = std::ptr::read_unaligned(base.add(4) as *const i16).max(0) as usize;
        let total = pgrx::varsize_any(detoasted);
        let dim = dim.min(total.saturating_sub(VECTOR_HEADER) / elem);
        let mut out: Vec<T> = Vec::with_capacity(dim);
        // one copy of the elements (the varlena data need not be aligned for T)
        std::ptr::copy_nonoverlapping(base.add(VECTOR_HEADER), out.as_mut_ptr() as *mut u8, dim * elem);
        out.set_len(dim);
        if detoasted != raw {
            pg_sys::pfree(detoasted.cast());
        }
        out
    }
}

/// A pgvector datum (palloc'd in the current memory context) holding `elems`: a `vector` for
/// f32 elements, a `halfvec` for f16. More than pgvector's 16,000 dimensions do not fit its
/// int16 header: the callers build vectors from model outputs, far below.
pub fn vector_datum<T: Copy>(elems: &[T]) -> pg_sys::Datum {
    let size = VECTOR_HEADER + std::mem::size_of_val(elems);
    // SAFETY: the allocation is `size` bytes; the header and the elements are written inside it.
    unsafe {
        let ptr = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(ptr as *mut pg_sys::varlena, size as i32);
        std::ptr::write_unaligned(ptr.add(4) as *mut i16, elems.len() as i16);
        std::ptr::copy_nonoverlapping(elems.as_ptr() as *const u8, ptr.add(VECTOR_HEADER), std::mem::size_of_val(elems));
        pg_sys::Datum::from(ptr)
    }
}

fn path_of(p: *const std::ffi::c_char) -> PathBuf {
    // SAFETY: every caller passes a server global that holds a NUL-terminated path.
    PathBuf::from(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The server's share directory.
pub fn share_dir() -> PathBuf {
    let mut buf = vec![0 as std::ffi::c_char; pg_sys::MAXPGPATH as usize];
    // SAFETY: my_exec_path is the server's NUL-terminated executable path (set at startup);
    // get_share_path writes at most MAXPGPATH bytes, NUL-terminated, into `buf`.
    unsafe {
        let exec = std::ptr::addr_of!(pg_sys::my_exec_path) as *const std::ffi::c_char;
        pg_sys::get_share_path(exec, buf.as_mut_ptr());
    }
    path_of(buf.as_ptr())
}

/// The server's library directory.
pub fn pkglib_dir() -> PathBuf {
    // (the address of a server global that holds a NUL-terminated path, set at startup)
    path_of(std::ptr::addr_of!(pg_sys::pkglib_path) as *const std::ffi::c_char)
}

/// The cluster's data directory (the temp directory outside a server).
pub fn data_dir() -> PathBuf {
    // SAFETY: DataDir is NULL or the server's NUL-terminated data directory (set at startup).
    let p = unsafe { pg_sys::DataDir };
    if p.is_null() {
        std::env::temp_dir()
    } else {
        path_of(p)
    }
}

/// Reserve a settings prefix: a misspelt `songmatch.` setting is then an error, not a placeholder.
pub fn reserve_guc_prefix(prefix: &CStr) {
    // SAFETY: called from _PG_init on the main thread with a NUL-terminated string.
    unsafe { pg_sys::MarkGUCPrefixReserved(prefix.as_ptr()) };
}

// ---------------------------------------------------------------------------------------------
// the inference supervisor's process management (src/sql/service.rs)
// ---------------------------------------------------------------------------------------------

extern "C" {
    /// sysv_shmem.c: unmap the main shared memory segment from this process (local only).
    fn PGSharedMemoryDetach();
}

/// Is this library being loaded by shared_preload_libraries (in the postmaster)?
pub fn loading_preload_libraries() -> bool {
    // SAFETY: a plain read of a server global set by the postmaster while it preloads libraries.
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

/// Re-read the configuration file (a background worker's SIGHUP).
pub fn reload_config_file() {
    // SAFETY: called on a background worker's main thread outside any transaction, as
    // PostgreSQL's own workers do after SIGHUP.
    unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
}

/// Set the activity part of this process's `ps` title.
pub fn set_ps_display(activity: &CStr) {
    // SAFETY: a NUL-terminated string; set_ps_display only writes this process's title buffer.
    unsafe { pg_sys::set_ps_display(activity.as_ptr()) };
}

/// fork(2): `Ok(None)` in the child, `Ok(Some(pid))` in the parent. The caller (the supervisor's
/// main thread) is single-threaded, so the child starts in a consistent state.
pub fn fork() -> std::io::Result<Option<i32>> {
    // SAFETY: fork has no memory-safety preconditions; the supervisor runs no other threads,
    // so no lock can be held by a thread that does not exist in the child.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(pid)),
    }
}

/// In a child just forked from a background worker: stop being a PostgreSQL process. Every
/// signal back to its default (PostgreSQL's handlers would touch shared memory), SIGPIPE ignored
/// (a caller that hung up is an error on write, not a death), all signals unblocked, SIGKILL when
/// `parent` dies, `name` as the process name, and the shared memory segment unmapped, so that
/// nothing this process does can touch the server's shared state. Returns false when the parent
/// is already gone.
pub fn become_plain_process(name: &CStr, parent: i32) -> bool {
    // SAFETY: plain process-local system calls with valid arguments: signal dispositions,
    // the signal mask, prctl options with a NUL-terminated name of at most 16 bytes (longer is
    // cut by the kernel), and PGSharedMemoryDetach, which only unmaps this process's mapping
    // (the segment itself stays for the server; this process never touches it afterwards).
    unsafe {
        for sig in 1..libc::SIGRTMIN() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
        PGSharedMemoryDetach();
        libc::getppid() == parent
    }
}

/// End this process at once, without exit handlers (a forked child must not run the server's).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and runs no handlers.
    unsafe { libc::_exit(code) }
}

/// This process's pid.
pub fn my_pid() -> i32 {
    std::process::id() as i32
}

/// Reap `pid` if it has ended: how it ended, in words.
pub fn try_wait(pid: i32) -> Option<String> {
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid with WNOHANG on our own child, writing into a local int.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == pid {
        Some(if libc::WIFSIGNALED(status) {
            format!("killed by signal {}", libc::WTERMSIG(status))
        } else {
            format!("exited with code {}", libc::WEXITSTATUS(status))
        })
    } else if r == -1 {
        Some("lost (waitpid failed)".into())
    } else {
        None
    }
}

/// Send `sig` to `pid`.
pub fn send_signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    unsafe { libc::kill(pid, sig) };
}

/// Is this process a background worker (a refresher) rather than a client's backend?
pub fn is_background_worker() -> bool {
    // SAFETY: a plain read of a process-local server global, set once at the worker's start.
    !unsafe { pg_sys::MyBgworkerEntry }.is_null()
}
