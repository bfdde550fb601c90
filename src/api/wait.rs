//! Waiting on many connections without polling loops, and event-loop
//! integration: dblink_wait_any, dblink_wait_all, dblink_socket,
//! dblink_consume_input.

use std::os::raw::c_int;
use std::time::Duration;

use crate::error::Result;
use crate::pq::{Interest, deadline_after, wait_sockets};

use super::with_conn;

/// Whether the connection has a result ready (consuming input first), and
/// its socket to wait on when it has not.
fn probe(name: &str) -> Result<(bool, c_int)> {
    with_conn(Some(name), |conn| {
        conn.consume_input();
        Ok((!conn.is_busy(), conn.socket()))
    })
}

/// Probes every connection: the indexes of the ready ones, and the sockets
/// of the others (to wait on with no lock held).
/// The indexes of the ready connections, and the sockets of the others.
type Probe = (Vec<usize>, Vec<(c_int, Interest)>);

fn probe_all(names: &[&str]) -> Result<Probe> {
    let mut ready = Vec::new();
    let mut sockets = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match probe(name)? {
            (true, _) => ready.push(i),
            (false, fd) if fd >= 0 => sockets.push((fd, Interest::Read)),
            (false, _) => ready.push(i), // broken: get_result reports it at once
        }
    }
    Ok((ready, sockets))
}

/// Waits until at least one of the named connections has a result ready
/// (its `get_result` would not block), with poll(2) on their sockets and no
/// sleep loop; `None` waits forever. Returns the indexes (into `names`) of
/// the ready connections, or an empty vector when the timeout passed.
///
/// No registry or connection lock is held while waiting. A connection that
/// another thread is reading from is probed once that thread's call returns.
pub fn wait_any(names: &[&str], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let deadline = deadline_after(timeout);
    loop {
        let (ready, sockets) = probe_all(names)?;
        if !ready.is_empty() || names.is_empty() {
            return Ok(ready);
        }
        if wait_sockets(&sockets, deadline).is_none() {
            return Ok(Vec::new());
        }
    }
}

/// Waits until every named connection has a result ready; `false` when the
/// timeout passed first. Same waiting rules as [`wait_any`].
pub fn wait_all(names: &[&str], timeout: Option<Duration>) -> Result<bool> {
    let deadline = deadline_after(timeout);
    loop {
        let (ready, sockets) = probe_all(names)?;
        if ready.len() == names.len() {
            return Ok(true);
        }
        if wait_sockets(&sockets, deadline).is_none() {
            return Ok(false);
        }
    }
}

/// `PQsocket` of the connection, for a host's own epoll/select/libuv loop:
/// when it turns readable, call [`consume_input`], then [`super::is_busy`].
/// The descriptor belongs to the connection: do not close it, and stop
/// watching it before disconnecting.
///
/// It also works while a [`super::connect_start`] is in progress, to wait on
/// as [`super::connect_poll`] says.
pub fn socket(name: Option<&str>) -> Result<c_int> {
    let entry = crate::registry::lookup(name)?;
    let session = entry.lock();
    let conn = session
        .conn
        .as_ref()
        .ok_or_else(|| crate::Error::conn_not_available(name))?;
    Ok(conn.socket())
}

/// `PQconsumeInput`: reads what the server has sent, without waiting.
/// `Ok(false)` when reading failed (the connection is broken; see
/// [`super::error_message`]).
pub fn consume_input(name: Option<&str>) -> Result<bool> {
    with_conn(name, |conn| Ok(conn.consume_input()))
}
