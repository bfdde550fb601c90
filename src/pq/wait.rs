//! Waiting on libpq sockets with poll(2): no sleep loops anywhere.

use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// When a wait gives up: `None` waits forever.
pub(crate) type Deadline = Option<Instant>;

/// What to wait for on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
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

/// Waits until `fd` is ready for `interest` or the deadline passes.
pub(crate) fn wait_socket(fd: c_int, interest: Interest, deadline: Deadline) -> WaitOutcome {
    match wait_sockets(&[(fd, interest)], deadline) {
        Some(_) => WaitOutcome::Ready,
        None => WaitOutcome::TimedOut,
    }
}

/// Waits until at least one of `fds` is ready; returns the indexes of the
/// ready ones, or `None` when the deadline passed. A negative fd is never
/// ready.
pub(crate) fn wait_sockets(fds: &[(c_int, Interest)], deadline: Deadline) -> Option<Vec<usize>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, interest)| libc::pollfd {
            fd,
            events: match interest {
                Interest::Read => libc::POLLIN,
                Interest::Write => libc::POLLOUT,
            },
            revents: 0,
        })
        .collect();
    loop {
        let timeout = remaining_ms(deadline);
        // SAFETY: `pollfds` is a live, exclusively borrowed array of
        // `pollfds.len()` initialized pollfd structs; poll only writes revents.
        let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, timeout) };
        if n > 0 {
            return Some(
                (0..pollfds.len())
                    .filter(|&i| pollfds[i].revents != 0)
                    .collect(),
            );
        }
        if n == 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            continue;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            // poll itself failed (EINVAL, ENOMEM): report every socket as
            // ready so that libpq's next call surfaces the real problem.
            return Some((0..pollfds.len()).collect());
        }
    }
}

/// A deadline `timeout` from now; `None` for no timeout.
pub(crate) fn deadline_after(timeout: Option<Duration>) -> Deadline {
    timeout.map(|t| Instant::now() + t)
}
