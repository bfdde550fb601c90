//! Waiting on many connections without polling loops, and event-loop
//! integration: dblink_wait_any, dblink_wait_all, dblink_socket,
//! dblink_consume_input.

use std::os::raw::c_int;
use std::time::Duration;

use crate::error::Result;
use crate::pq::{Deadline, Interest, deadline_after, wait_sockets};
use crate::registry::Entry;

use super::Who;
use super::{lock_session, release, with_conn};

/// Whether one connection has a result ready (`get_result` would not
/// block): with `consume`, input is read first (only for a socket poll
/// reported readable); either way, bytes that OpenSSL already holds are
/// read, since a poll would not see them. `Ok(None)` when its lock could
/// not be had before the deadline.
fn probe(entry: &Entry, name: &str, deadline: Deadline, consume: bool) -> Result<Option<bool>> {
    let Some(mut session) = lock_session(entry, Some(name), deadline)? else {
        return Ok(None);
    };
    let ready = session.conn.as_mut().is_none_or(|conn| {
        if consume {
            conn.consume_input();
        }
        !conn.is_busy_unbuffered() || conn.socket() < 0
    });
    release(entry, Some(name), session);
    Ok(Some(ready))
}

/// The common wait of [`wait_any`] (`all` false: until one is ready) and
/// [`wait_all`]: the ascending indexes of the ready connections, or `None`
/// when the deadline passed first.
///
/// Each connection is first asked whether a result is already there,
/// without reading (except what OpenSSL already holds: a poll would not
/// report it); then one poll(2) on the sockets of the others (our own
/// duplicates, held shared so that none is closed under the poll, and no
/// session lock held), and input is read only from the sockets it reported
/// readable: gathering N results costs O(N) reads overall, plus one poll per
/// wake-up.
pub(crate) fn wait_as(
    whos: &[Who<'_>],
    timeout: Option<Duration>,
    all: bool,
) -> Result<Option<Vec<usize>>> {
    let deadline = deadline_after(timeout);
    let entries = whos.iter().map(|w| w.entry()).collect::<Result<Vec<_>>>()?;
    let names: Vec<&str> = whos.iter().map(|w| w.name().unwrap_or_default()).collect();
    // What is known without any lock is said before waiting for one.
    for (entry, &name) in entries.iter().zip(&names) {
        if entry.is_closed() {
            return Err(crate::Error::conn_not_available(Some(name)));
        }
        if entry.is_connecting() {
            return Err(super::still_connecting(Some(name)));
        }
    }
    let mut ready = Vec::new();
    let mut pending = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match probe(entry, names[i], deadline, false)? {
            None => return Ok(None),
            Some(true) => ready.push(i),
            Some(false) => pending.push(i),
        }
    }
    loop {
        if pending.is_empty() || (!all && !ready.is_empty()) {
            ready.sort_unstable();
            return Ok(Some(ready));
        }
        let readable = {
            let guards: Vec<_> = pending.iter().map(|&i| entries[i].wake_socket()).collect();
            let fds: Vec<(c_int, Interest)> = guards
                .iter()
                .map(|g| (Entry::raw(g), Interest::Read))
                .collect();
            if fds.iter().any(|&(fd, _)| fd < 0) {
                // No socket to wait on (broken, or closed meanwhile): the
                // probe below reports it at once.
                (0..fds.len()).filter(|&k| fds[k].0 < 0).collect()
            } else {
                match wait_sockets(&fds, deadline) {
                    Some(r) => r,
                    None => return Ok(None),
                }
            }
        };
        let mut still = Vec::with_capacity(pending.len());
        let mut next = readable.into_iter().peekable();
        for (k, &i) in pending.iter().enumerate() {
            if next.next_if_eq(&k).is_none() {
                still.push(i);
                continue;
            }
            match probe(&entries[i], names[i], deadline, true)? {
                None => return Ok(None),
                Some(true) => ready.push(i),
                Some(false) => still.push(i),
            }
        }
        pending = still;
    }
}

/// Waits until at least one of the named connections has a result ready
/// (its [`get_result`](super::get_result) would not block), with poll(2) on
/// their sockets and no sleep loop; `None` waits forever. Returns the
/// indexes (into `names`, ascending) of the ready connections, or an empty
/// vector when the timeout passed (or `names` is empty). A connection with
/// no query in progress counts as ready (its `get_result` returns `Done` at
/// once), and so does a broken one (its `get_result` reports the error). Not
/// a dblink function.
///
/// No registry or connection lock is held while waiting. A connection that
/// another thread is reading from is probed once that thread's call returns.
///
/// Errors: 08003 when a name is unknown.
///
/// ```rust,no_run
/// use std::time::Duration;
/// use pgdblink::Status;
///
/// let shards = ["s1", "s2", "s3"];
/// for s in shards {
///     pgdblink::send_query(Some(s), "select count(*) from orders")?;
/// }
/// let mut pending = shards.to_vec();
/// while !pending.is_empty() {
///     let ready = pgdblink::wait_any(&pending, Some(Duration::from_secs(10)))?;
///     if ready.is_empty() {
///         eprintln!("still waiting on {pending:?}");
///         continue;
///     }
///     for &i in ready.iter().rev() {
///         let shard = pending.remove(i);
///         let res = pgdblink::get_result(Some(shard), true)?;
///         println!("{shard}: {}", res.get(0, 0).unwrap_or("?"));
///         while pgdblink::get_result(Some(shard), true)?.status() != Status::Done {}
///     }
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the indexes say which connections are ready (empty: timed out)"]
pub fn wait_any(names: &[&str], timeout: Option<Duration>) -> Result<Vec<usize>> {
    Ok(wait_as(&by_name(names), timeout, false)?.unwrap_or_default())
}

fn by_name<'a>(names: &[&'a str]) -> Vec<Who<'a>> {
    names.iter().map(|&n| Who::Name(Some(n))).collect()
}

/// Waits until every named connection has a result ready; `true` then (and
/// at once for an empty `names`), `false` when the timeout passed first.
/// Same waiting rules and errors as [`wait_any`]. Not a dblink function.
///
/// ```rust,no_run
/// use std::time::Duration;
///
/// let shards = ["s1", "s2"];
/// for s in shards {
///     pgdblink::send_query(Some(s), "select pg_sleep(1)")?;
/// }
/// if !pgdblink::wait_all(&shards, Some(Duration::from_secs(30)))? {
///     for s in shards {
///         pgdblink::cancel_query(Some(s))?;
///     }
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the answer (e.g. 0: the query was not sent) is in the bool"]
pub fn wait_all(names: &[&str], timeout: Option<Duration>) -> Result<bool> {
    Ok(wait_as(&by_name(names), timeout, true)?.is_some())
}

/// `PQsocket` of the connection, for a host's own epoll/select/libuv loop:
/// when it turns readable, call [`consume_input`], then
/// [`is_busy`](super::is_busy); when that is `false`,
/// [`get_result`](super::get_result) will not block. The descriptor belongs
/// to the connection: do not close it, and stop watching it before
/// disconnecting. It may change after [`reset`](super::reset); -1 when the
/// connection has no socket (broken). Not a dblink function.
///
/// It also works while a [`connect_start`](super::connect_start) is in
/// progress, to wait on as [`connect_poll`](super::connect_poll) says.
///
/// Errors: 08003 for an unknown name.
///
/// ```rust,no_run
/// # fn wait_readable(_fd: std::os::raw::c_int) {}
/// // wait_readable stands for your event loop (epoll, mio, tokio's AsyncFd, ...).
/// let fd = pgdblink::socket(Some("a"))?;
/// pgdblink::send_query(Some("a"), "select now()")?;
/// loop {
///     wait_readable(fd);
///     if !pgdblink::consume_input(Some("a"))? {
///         break; // broken: get_result reports it
///     }
///     if !pgdblink::is_busy(Some("a"))? {
///         break;
///     }
/// }
/// let res = pgdblink::get_result(Some("a"), true)?; // ready: does not block
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the descriptor is the answer"]
pub fn socket(name: Option<&str>) -> Result<c_int> {
    socket_as(Who::Name(name))
}

pub(crate) fn socket_as(who: Who<'_>) -> Result<c_int> {
    let name = who.name();
    let entry = who.entry()?;
    let session = entry.lock();
    let conn = session
        .conn
        .as_ref()
        .ok_or_else(|| crate::Error::conn_not_available(name))?;
    Ok(conn.socket())
}

/// `PQconsumeInput`: reads what the server has sent, without waiting (over
/// TLS, also what OpenSSL has already decrypted but libpq had no room for,
/// which no poll of the socket would report: so after it, waiting for the
/// socket to turn readable is right whenever [`is_busy`](super::is_busy)
/// says true). `Ok(true)` on success; `Ok(false)` when reading failed (the
/// connection is broken; see [`error_message`](super::error_message)). Not
/// a dblink function.
///
/// Errors: 08003 for an unknown name.
///
/// ```rust,no_run
/// // Called when the event loop says pgdblink::socket(Some("a")) is readable:
/// if !pgdblink::consume_input(Some("a"))? {
///     eprintln!("connection lost: {}", pgdblink::error_message(Some("a"))?);
/// } else if !pgdblink::is_busy(Some("a"))? {
///     let res = pgdblink::get_result(Some("a"), true)?;
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the answer (e.g. 0: the query was not sent) is in the bool"]
pub fn consume_input(name: Option<&str>) -> Result<bool> {
    consume_input_as(Who::Name(name))
}

pub(crate) fn consume_input_as(who: Who<'_>) -> Result<bool> {
    with_conn(who, |conn, _| Ok(conn.consume_input_all()))
}
