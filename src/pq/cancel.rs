//! `Canceller`: the one owner of a connection's cancel handle.
//!
//! It is created while the connection is held exclusively (right after
//! connect) and is independent of the `PGconn` afterwards, so a cancel can be
//! sent from another thread while a reader waits on the connection.

use std::ptr::NonNull;

use super::conn::Conn;
use super::wait::Deadline;

/// A cancel handle: libpq 17's `PGcancelConn` (encrypted when the connection
/// is), or `PGcancel` with a system libpq older than 17.
pub(crate) struct Canceller {
    #[cfg(not(pgdblink_libpq_pre17))]
    raw: NonNull<pq_sys::PGcancelConn>,
    #[cfg(pgdblink_libpq_pre17)]
    raw: NonNull<pq_sys::PGcancel>,
}

// SAFETY: the cancel handle holds copies of the connection's parameters and
// key, not pointers into the PGconn; it is used by one thread at a time (it is
// kept behind its own lock), so moving it between threads is sound.
unsafe impl Send for Canceller {}

#[cfg(not(pgdblink_libpq_pre17))]
impl Canceller {
    /// `PQcancelCreate`; `None` when libpq could not allocate it.
    pub(crate) fn new(conn: &Conn) -> Option<Canceller> {
        // SAFETY: `conn` is a live, established PGconn borrowed for the call;
        // PQcancelCreate copies what it needs.
        NonNull::new(unsafe { pq_sys::PQcancelCreate(conn.as_ptr()) }).map(|raw| Canceller { raw })
    }

    /// Sends a cancel request and waits for the server to take it, up to
    /// `deadline`. `Err` holds libpq's message (newline cut) or
    /// "cancel request timed out", as dblink 17 reports it.
    pub(crate) fn cancel(&mut self, deadline: Deadline) -> Result<(), String> {
        use super::wait::{Interest, WaitOutcome, wait_socket};
        use pq_sys::PostgresPollingStatusType as P;
        let p = self.raw.as_ptr();
        // SAFETY: `p` is our live PGcancelConn; reset makes it reusable.
        unsafe { pq_sys::PQcancelReset(p) };
        // SAFETY: as above.
        if unsafe { pq_sys::PQcancelStart(p) } == 0 {
            return Err(self.error_message());
        }
        loop {
            // SAFETY: as above.
            let interest = match unsafe { pq_sys::PQcancelPoll(p) } {
                P::PGRES_POLLING_OK => return Ok(()),
                P::PGRES_POLLING_READING => Interest::Read,
                P::PGRES_POLLING_WRITING => Interest::Write,
                _ => return Err(self.error_message()),
            };
            // SAFETY: as above.
            let fd = unsafe { pq_sys::PQcancelSocket(p) };
            if wait_socket(fd, interest, deadline) == WaitOutcome::TimedOut {
                return Err("cancel request timed out".to_owned());
            }
        }
    }

    fn error_message(&self) -> String {
        // SAFETY: our live PGcancelConn; the message is copied out at once.
        let msg = unsafe { super::owned_text(pq_sys::PQcancelErrorMessage(self.raw.as_ptr())) };
        msg.unwrap_or_default().trim_end_matches('\n').to_owned()
    }
}

#[cfg(not(pgdblink_libpq_pre17))]
impl Drop for Canceller {
    fn drop(&mut self) {
        // SAFETY: owned only by `self`, finished exactly once.
        unsafe { pq_sys::PQcancelFinish(self.raw.as_ptr()) }
    }
}

#[cfg(pgdblink_libpq_pre17)]
impl Canceller {
    /// `PQgetCancel`; `None` when libpq could not allocate it.
    pub(crate) fn new(conn: &Conn) -> Option<Canceller> {
        // SAFETY: `conn` is a live, established PGconn borrowed for the call.
        NonNull::new(unsafe { pq_sys::PQgetCancel(conn.as_ptr()) }).map(|raw| Canceller { raw })
    }

    /// `PQcancel` (blocking, unencrypted, no timeout: libpq before 17 has no
    /// other way). `Err` holds libpq's message.
    pub(crate) fn cancel(&mut self, _deadline: Deadline) -> Result<(), String> {
        let mut buf = [0 as std::os::raw::c_char; 256];
        // SAFETY: our live PGcancel; `buf` is writable for its full length.
        let ok = unsafe { pq_sys::PQcancel(self.raw.as_ptr(), buf.as_mut_ptr(), buf.len() as i32) };
        if ok == 1 {
            return Ok(());
        }
        // SAFETY: PQcancel NUL-terminates its message within `buf`.
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        Err(msg.to_string_lossy().into_owned())
    }
}

#[cfg(pgdblink_libpq_pre17)]
impl Drop for Canceller {
    fn drop(&mut self) {
        // SAFETY: owned only by `self`, freed exactly once.
        unsafe { pq_sys::PQfreeCancel(self.raw.as_ptr()) }
    }
}
