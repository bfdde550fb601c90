//! Fork awareness: a connection inherited by a child process shares its
//! socket with the parent, so the child must never send on it.
//!
//! A `pthread_atfork` child handler (registered once, when the first
//! connection is opened) counts forks; each connection remembers the count
//! it was opened under. The count is a plain atomic load on every call, no
//! system call. (The library must therefore not be unloaded with dlclose
//! while the process may still fork; a Rust cdylib is not unloadable
//! anyway.)

use std::os::raw::c_int;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

static FORKS: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: one atomic add.
    FORKS.fetch_add(1, Ordering::AcqRel);
}

/// The current process's fork generation (0 in the process that loaded the
/// library, then +1 in each child, grandchild, ...).
pub(crate) fn generation() -> u64 {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only does an atomic add; the
        // function lives as long as the library (never unloaded).
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
    FORKS.load(Ordering::Acquire)
}

/// Makes `fd` refer to a fresh socket whose peer is already closed, so
/// that whatever libpq sends on it before closing it goes nowhere, while
/// the socket it referred to (shared with the parent process) is left
/// untouched. A negative `fd` is left alone. False when no socket could be
/// made (out of descriptors): the caller must then not let libpq close it.
pub(crate) fn detach_socket(fd: c_int) -> bool {
    if fd < 0 {
        return true;
    }
    let mut pair = [-1 as c_int; 2];
    // SAFETY: `pair` is a valid out-array of two descriptors.
    let made = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            pair.as_mut_ptr(),
        )
    };
    if made != 0 {
        return false;
    }
    // SAFETY: both are descriptors we just created; dup2 atomically replaces
    // `fd` (libpq's, about to be closed by PQfinish) by the dead socket.
    unsafe {
        libc::close(pair[1]);
        libc::dup2(pair[0], fd);
        libc::close(pair[0]);
    }
    true
}
