//! Waiting on sockets with poll(2) (no sleep loops anywhere), and the
//! descriptor operations the registry needs to wake waiters: a duplicate of
//! a connection's socket that `shutdown(2)` can be called on from another
//! thread.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// When a wait gives up: `None` waits forever.
pub(crate) type Deadline = Option<Instant>;

/// What to wait for on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
    /// Readable or writable (a non-blocking flush: libpq may need to read
    /// before it can write more).
    Either,
}

/// The outcome of one wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitOutcome {
    /// The socket is ready (or in error, which the next libpq call reports).
    Ready,
    /// The deadline passed first.
    TimedOut,
}

fn remaining_ms(deadline: Deadline) -> c_int {
    match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            // Round up so that a wait never ends before its deadline.
            let ms = left.as_millis() + u128::from(left.subsec_nanos() % 1_000_000 != 0);
            c_int::try_from(ms).unwrap_or(c_int::MAX)
        }
    }
}

/// Waits until `fd` is ready for `interest` or the deadline passes (one
/// pollfd on the stack: this is on every blocking get_result's path).
pub(crate) fn wait_socket(fd: c_int, interest: Interest, deadline: Deadline) -> WaitOutcome {
    let mut one = [pollfd(fd, interest)];
    match poll_until(&mut one, deadline) {
        Some(_) => WaitOutcome::Ready,
        None => WaitOutcome::TimedOut,
    }
}

/// Waits until at least one of `fds` is ready; returns the indexes of the
/// ready ones, or `None` when the deadline passed. A negative fd is never
/// ready.
pub(crate) fn wait_sockets(fds: &[(c_int, Interest)], deadline: Deadline) -> Option<Vec<usize>> {
    let mut pollfds: Vec<libc::pollfd> = fds.iter().map(|&(fd, i)| pollfd(fd, i)).collect();
    let all_failed = poll_until(&mut pollfds, deadline)?;
    if all_failed {
        return Some((0..pollfds.len()).collect());
    }
    Some(
        (0..pollfds.len())
            .filter(|&i| pollfds[i].revents != 0)
            .collect(),
    )
}

fn pollfd(fd: c_int, interest: Interest) -> libc::pollfd {
    let events = match interest {
        Interest::Read => libc::POLLIN,
        Interest::Write => libc::POLLOUT,
        Interest::Either => libc::POLLIN | libc::POLLOUT,
    };
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// poll(2) until something is ready (`Some(false)`), poll itself failed
/// (`Some(true)`: EINVAL or ENOMEM; treat every socket as ready so that
/// libpq's next call surfaces the real problem), or the deadline passed
/// (`None`). EINTR is retried.
fn poll_until(pollfds: &mut [libc::pollfd], deadline: Deadline) -> Option<bool> {
    loop {
        let timeout = remaining_ms(deadline);
        // SAFETY: `pollfds` is a live, exclusively borrowed array of
        // `pollfds.len()` initialized pollfd structs; poll only writes revents.
        let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, timeout) };
        if n > 0 {
            return Some(false);
        }
        if n == 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            continue;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Some(true);
        }
    }
}

/// A deadline `timeout` from now; `None` for no timeout, and for one so
/// large that the clock cannot represent its end (it is no bound either).
pub(crate) fn deadline_after(timeout: Option<Duration>) -> Deadline {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// The earlier of two deadlines (`None` is the latest of all).
pub(crate) fn earlier(a: Deadline, b: Deadline) -> Deadline {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A descriptor of our own for the socket `fd` (dup(2)): it stays valid
/// whatever libpq does with `fd`, so another thread may poll it or shut the
/// socket down through it. `None` when `fd` is negative or dup failed.
///
/// # Safety
/// `fd` must be an open descriptor for the duration of the call (the
/// caller holds the connection whose socket it is).
pub(super) unsafe fn dup_socket(fd: c_int) -> Option<OwnedFd> {
    if fd < 0 {
        return None;
    }
    // SAFETY: the caller promises `fd` is open for this call; it is only
    // borrowed to be duplicated.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    borrowed.try_clone_to_owned().ok()
}

/// `shutdown(SHUT_RDWR)` of the socket behind `fd`: every thread polling
/// that socket (through any descriptor) wakes at once, and every later read
/// or write on it fails. The descriptor stays open.
pub(crate) fn shutdown_socket(fd: &OwnedFd) {
    // SAFETY: `fd` is an open descriptor we own for the call; shutdown
    // touches no memory. An error (ENOTCONN: already down) is harmless.
    unsafe {
        libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_timeout_is_no_bound_and_never_panics() {
        assert_eq!(deadline_after(None), None);
        assert_eq!(deadline_after(Some(Duration::MAX)), None);
        assert!(deadline_after(Some(Duration::from_secs(1))).is_some());
    }

    #[test]
    fn the_earlier_deadline_wins_and_none_is_the_latest() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert_eq!(earlier(Some(now), Some(later)), Some(now));
        assert_eq!(earlier(Some(later), Some(now)), Some(now));
        assert_eq!(earlier(None, Some(now)), Some(now));
        assert_eq!(earlier(Some(now), None), Some(now));
        assert_eq!(earlier(None, None), None);
    }

    #[test]
    fn poll_timeouts_round_up_and_saturate() {
        assert_eq!(remaining_ms(None), -1);
        let past = Instant::now().checked_sub(Duration::from_secs(1));
        assert_eq!(remaining_ms(past), 0);
        let soon = Instant::now() + Duration::from_micros(10);
        assert!((0..=1).contains(&remaining_ms(Some(soon))));
        let far = Instant::now() + Duration::from_secs(10 * 365 * 86_400);
        assert_eq!(remaining_ms(Some(far)), c_int::MAX);
    }
}
