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
    raw: std::sync::Arc<OldCancel>,
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
                self.abandon(fd);
                return Err("cancel request timed out".to_owned());
            }
        }
    }

    /// Gives up on a request in flight: the cancel connection is reset
    /// (SO_LINGER 0, so that nothing still queued in our kernel is sent
    /// later) and closed, so it can never cancel a later query.
    fn abandon(&mut self, fd: std::os::raw::c_int) {
        if fd >= 0 {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: `fd` is the cancel connection's open socket (libpq
            // closes it only in PQcancelReset/Finish, below or later);
            // `linger` is a valid option value of the size given.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&raw const linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        // SAFETY: our live PGcancelConn; reset closes its connection.
        unsafe { pq_sys::PQcancelReset(self.raw.as_ptr()) };
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
        let raw = NonNull::new(unsafe { pq_sys::PQgetCancel(conn.as_ptr()) })?;
        Some(Canceller {
            raw: std::sync::Arc::new(OldCancel(raw)),
        })
    }

    /// `PQcancel` (unencrypted: libpq before 17 has no other way). PQcancel
    /// itself cannot time out, so it runs on a helper thread and the wait for
    /// it is bounded by `deadline`; past it the text is `cancel request timed
    /// out` and the helper finishes (or stays blocked on a peer that never
    /// answers) on its own. `Err` holds libpq's message.
    pub(crate) fn cancel(&mut self, deadline: Deadline) -> Result<(), String> {
        let handle = std::sync::Arc::clone(&self.raw);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("pgdblink-cancel".to_owned())
            .spawn(move || {
                let _ = tx.send(handle.cancel());
            })
            .map_err(|e| format!("could not start the cancel request: {e}"))?;
        let outcome = match deadline {
            None => rx.recv().ok(),
            Some(d) => rx
                .recv_timeout(d.saturating_duration_since(std::time::Instant::now()))
                .ok(),
        };
        outcome.unwrap_or_else(|| Err("cancel request timed out".to_owned()))
    }
}

/// A `PGcancel`, shared with the helper thread that sends the request.
#[cfg(pgdblink_libpq_pre17)]
pub(crate) struct OldCancel(NonNull<pq_sys::PGcancel>);

// SAFETY: a PGcancel holds copies of the address and key only; PQcancel
// reads it without modifying it (libpq documents it as safe even from a
// signal handler), so sharing it between threads is sound.
#[cfg(pgdblink_libpq_pre17)]
unsafe impl Send for OldCancel {}
// SAFETY: as above: every use is a read.
#[cfg(pgdblink_libpq_pre17)]
unsafe impl Sync for OldCancel {}

#[cfg(pgdblink_libpq_pre17)]
impl OldCancel {
    fn cancel(&self) -> Result<(), String> {
        let mut buf = [0 as std::os::raw::c_char; 256];
        // SAFETY: a live PGcancel (freed only when the last Arc drops);
        // `buf` is writable for its full length.
        let ok = unsafe { pq_sys::PQcancel(self.0.as_ptr(), buf.as_mut_ptr(), buf.len() as i32) };
        if ok == 1 {
            return Ok(());
        }
        // SAFETY: PQcancel NUL-terminates its message within `buf`.
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        Err(msg.to_string_lossy().into_owned())
    }
}

#[cfg(pgdblink_libpq_pre17)]
impl Drop for OldCancel {
    fn drop(&mut self) {
        // SAFETY: owned only by the last Arc, freed exactly once.
        unsafe { pq_sys::PQfreeCancel(self.0.as_ptr()) }
    }
}
