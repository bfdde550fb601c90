//! dblink_connect, dblink_disconnect, dblink_get_connections.

use std::os::raw::c_int;
use std::time::Duration;

use std::time::Instant;

use crate::error::{Error, Result, sqlstate};
use crate::pq::{
    Conn, ConnParams, Deadline, Interest, PollStatus, deadline_after, earlier, wait_sockets,
};
use crate::registry::{self, Entry};

use super::{Who, c_string, chomp};

/// A connection string made ready to connect with: parsed, its
/// client_encoding checked and set to UTF8 (sent in the startup packet, so
/// no round trip follows the connect), and the bound its connect_timeout
/// sets on the whole connect.
pub(crate) struct Target {
    params: ConnParams,
    /// connect_timeout × the number of hosts (libpq gives each host the
    /// timeout); `None`: no bound.
    pub(crate) bound: Option<Duration>,
}

impl Target {
    /// dblink's 08001 for an unparsable string (libpq's message as DETAIL,
    /// masked when it carries a password); 22023 for a NUL byte or a
    /// client_encoding other than UTF8.
    pub(crate) fn parse(connstr: &str) -> Result<Target> {
        if !crate::pq::is_thread_safe() {
            return Err(Error::new(
                sqlstate::INTERNAL_ERROR,
                "the linked libpq is not thread-safe (PQisthreadsafe() = 0): build pgdblink with the bundled libpq or a thread-safe one",
            ));
        }
        let c = c_string(connstr, "connection string")?;
        let mut params = ConnParams::parse(&c).map_err(|msg| could_not_establish(&msg, connstr))?;
        if let Some(enc) = params.get("client_encoding") {
            if !is_utf8(enc) {
                return Err(Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!("client_encoding \"{enc}\" is not supported: pgdblink exchanges text as UTF8"),
                )
                .with_hint(
                    "Leave client_encoding out (pgdblink sets UTF8). To read bytes that are not valid UTF-8 from a SQL_ASCII database, select them as bytea (convert_to(col, 'SQL_ASCII')).",
                ));
            }
        }
        params.set(c"client_encoding", c"UTF8");
        let bound = connect_bound(&params);
        Ok(Target { params, bound })
    }
}

/// Whether an encoding name is UTF8 as PostgreSQL spells it (case and
/// punctuation aside: utf8, UTF-8, unicode).
fn is_utf8(enc: &str) -> bool {
    let norm: String = enc
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    norm == "utf8" || norm == "unicode"
}

/// The bound a connection string's connect_timeout sets (libpq: seconds,
/// at least 2, per host; 0 or none: no bound).
fn connect_bound(params: &ConnParams) -> Option<Duration> {
    let secs: i64 = params.get("connect_timeout")?.trim().parse().ok()?;
    if secs <= 0 {
        return None;
    }
    let hosts = params
        .get("host")
        .or_else(|| params.get("hostaddr"))
        .map_or(1, |h| h.split(',').count().max(1));
    let per_host = u64::try_from(secs.max(2)).ok()?;
    Some(Duration::from_secs(per_host.saturating_mul(hosts as u64)))
}

/// Opens a connection as dblink does (libpq's blocking connect, which
/// honours connect_timeout and multiple hosts itself): the outcome of a
/// failed attempt is 08001 `could not establish connection` with libpq's
/// message as DETAIL. The client encoding is UTF8, since every string here
/// is UTF-8.
pub(crate) fn open_conn(connstr: &str) -> Result<Conn> {
    let target = Target::parse(connstr)?;
    let mut conn = Conn::connectdb(&target.params)
        .ok_or_else(|| Error::new(sqlstate::OUT_OF_MEMORY, "out of memory"))?;
    if !conn.is_ok() || !conn.set_nonblocking() {
        return Err(could_not_establish(&conn.error_message(), connstr));
    }
    conn.reconnect_bound = target.bound;
    Ok(conn)
}

/// dblink's 08001, with libpq's message as DETAIL. When `connstr` does not
/// even parse, libpq's message quotes pieces of it; if it carries a password,
/// those pieces are masked, so that a password never appears in an error
/// (dblink passes them on; this is the one place pgdblink's text differs).
fn could_not_establish(message: &str, connstr: &str) -> Error {
    let mut detail = chomp(message.to_owned());
    if mentions_password(connstr)
        && !c_string(connstr, "connstr").is_ok_and(|c| crate::pq::conninfo_parses(&c))
    {
        detail = mask_quoted(&detail);
    }
    Error::new(
        sqlstate::UNABLE_TO_ESTABLISH,
        "could not establish connection",
    )
    .with_detail(detail)
}

/// Whether a connection string gives a password: a `password` keyword (or
/// URI parameter), or a URI whose user info has a `user:password` part.
fn mentions_password(connstr: &str) -> bool {
    if connstr.to_ascii_lowercase().contains("password") {
        return true;
    }
    let rest = connstr
        .strip_prefix("postgresql://")
        .or_else(|| connstr.strip_prefix("postgres://"));
    rest.and_then(|r| r.split_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// Replaces the content of every double-quoted piece of `message` with ***,
/// except single punctuation such as the `"="` of `missing "=" after ...`.
fn mask_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut inside = true;
    for part in parts {
        out.push('"');
        let punctuation = part.chars().count() == 1 && !part.chars().all(char::is_alphanumeric);
        if inside && !punctuation {
            out.push_str("***");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out
}

/// `dblink_connect([name,] connstr)`: opens a connection under `name`
/// (`None`: the unnamed connection, replacing and closing any previous one).
/// `connstr` is a libpq connection string or URI. The session's
/// client_encoding is set to UTF8. A name longer than 63 bytes is truncated,
/// as dblink does, with a NOTICE (42622) to the [`crate::set_notice_handler`]
/// handler.
///
/// Errors: 08001 `could not establish connection` (DETAIL: libpq's message);
/// 42710 `duplicate connection name` when `name` is taken (checked after
/// connecting, as dblink does; the new connection is closed); 22023 for a
/// NUL byte in `connstr`.
///
/// ```rust,no_run
/// use pgdblink::sqlstate;
///
/// pgdblink::connect(Some("orders"), "host=db1 dbname=shop user=app")?;
/// pgdblink::connect(None, "postgresql://app@db2/shop")?; // the unnamed connection
///
/// let err = pgdblink::connect(Some("orders"), "host=db1 dbname=shop").unwrap_err();
/// assert_eq!(err.sqlstate, sqlstate::DUPLICATE_OBJECT);
/// assert_eq!(err.message, "duplicate connection name");
///
/// let err = pgdblink::connect(Some("down"), "host=127.0.0.1 port=1").unwrap_err();
/// assert_eq!(err.sqlstate, sqlstate::UNABLE_TO_ESTABLISH);
/// assert_eq!(err.message, "could not establish connection");
/// println!("{}", err.detail.unwrap_or_default()); // libpq's "connection to server ... failed"
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn connect(name: Option<&str>, connstr: &str) -> Result<()> {
    register(name, open_conn(connstr)?)
}

/// `dblink_connect_u([name,] connstr)`: the same as [`connect`]. (In the
/// server, dblink_connect_u lets non-superusers connect with any
/// authentication method; a client program has no such distinction.)
///
/// ```rust,no_run
/// pgdblink::connect_u(Some("a"), "host=localhost dbname=postgres")?;
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn connect_u(name: Option<&str>, connstr: &str) -> Result<()> {
    connect(name, connstr)
}

/// `dblink_disconnect([name])`: closes the connection (`None`: the unnamed
/// one). The name is released at once; the call then waits for a call in
/// progress on the same connection (in another thread) to finish, and closes
/// the connection.
///
/// Errors: 08003 `connection "a" not available` (`connection not available`
/// for the unnamed connection).
///
/// ```rust,no_run
/// pgdblink::connect(Some("a"), "host=localhost dbname=postgres")?;
/// pgdblink::disconnect(Some("a"))?;
///
/// let err = pgdblink::disconnect(Some("a")).unwrap_err();
/// assert_eq!(err.sqlstate, pgdblink::sqlstate::CONNECTION_DOES_NOT_EXIST);
/// assert_eq!(err.message, r#"connection "a" not available"#);
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn disconnect(name: Option<&str>) -> Result<()> {
    registry::remove(name)
}

/// Closes every connection, named and unnamed, for a host shutting down
/// (not a dblink function). Each close waits for a call in progress on that
/// connection. Never fails.
///
/// ```rust,no_run
/// pgdblink::connect(Some("a"), "host=localhost dbname=postgres")?;
/// pgdblink::connect(None, "host=localhost dbname=postgres")?;
/// pgdblink::disconnect_all();
/// assert_eq!(pgdblink::get_connections(), None);
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn disconnect_all() {
    registry::remove_all();
}

/// `dblink_get_connections()`: the names of the open named connections,
/// sorted; `None` when there are none (dblink returns NULL). The unnamed
/// connection is never listed. A snapshot: other threads may connect or
/// disconnect right after.
///
/// ```rust,no_run
/// assert_eq!(pgdblink::get_connections(), None);
/// pgdblink::connect(Some("b"), "host=localhost dbname=postgres")?;
/// pgdblink::connect(Some("a"), "host=localhost dbname=postgres")?;
/// assert_eq!(pgdblink::get_connections(), Some(vec!["a".to_owned(), "b".to_owned()]));
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the names are the answer"]
pub fn get_connections() -> Option<Vec<String>> {
    let names = registry::names();
    (!names.is_empty()).then_some(names)
}

/// Drives non-blocking connects (`PQconnectStartParams` +
/// `PQconnectPoll`) for all `connstrs` at once until each is up, failed, or
/// its deadline passed: the call's `timeout` or the connection string's
/// connect_timeout, whichever is earlier.
fn open_all(connstrs: &[&str], timeout: Option<Duration>) -> Vec<Result<Conn>> {
    let deadline = deadline_after(timeout);
    let mut slots: Vec<Result<Slot>> = connstrs
        .iter()
        .map(|cs| {
            let target = Target::parse(cs)?;
            let mut conn = Conn::connect_start(&target.params)
                .ok_or_else(|| Error::new(sqlstate::OUT_OF_MEMORY, "out of memory"))?;
            conn.reconnect_bound = target.bound;
            let status = if conn.is_bad() {
                PollStatus::Failed
            } else {
                // Just after the start, libpq says to act as if the poll
                // had returned WRITING.
                PollStatus::Writing
            };
            // The earlier bound wins, and names itself in the message.
            let own = deadline_after(target.bound);
            let (deadline, bound) = if own.is_some() && earlier(own, deadline) == own {
                (own, target.bound)
            } else {
                (deadline, timeout)
            };
            Ok(Slot {
                conn,
                status,
                deadline,
                bound,
                timed_out: false,
            })
        })
        .collect();
    loop {
        let now = Instant::now();
        let mut waiting: Vec<(usize, (c_int, Interest))> = Vec::new();
        let mut next: Deadline = None;
        let mut advanced = false;
        for (i, slot) in slots.iter_mut().enumerate() {
            let Ok(slot) = slot else { continue };
            let interest = match slot.status {
                PollStatus::Reading => Interest::Read,
                PollStatus::Writing => Interest::Write,
                _ => continue,
            };
            if slot.deadline.is_some_and(|d| d <= now) {
                slot.status = PollStatus::Failed;
                slot.timed_out = true;
                continue;
            }
            if interest == Interest::Read && slot.conn.tls_pending() {
                // OpenSSL holds bytes a poll would not see: read them now.
                slot.status = slot.conn.connect_poll();
                advanced = true;
                continue;
            }
            next = earlier(next, slot.deadline);
            waiting.push((i, (slot.conn.socket(), interest)));
        }
        if advanced {
            continue; // the others are waited on in the next round
        }
        if waiting.is_empty() {
            break;
        }
        let fds: Vec<(c_int, Interest)> = waiting.iter().map(|&(_, fd)| fd).collect();
        let Some(ready) = wait_sockets(&fds, next) else {
            continue; // an earliest deadline passed: marked on the next round
        };
        for i in ready.into_iter().map(|r| waiting[r].0) {
            if let Ok(slot) = &mut slots[i] {
                slot.status = slot.conn.connect_poll();
            }
        }
    }
    slots
        .into_iter()
        .zip(connstrs)
        .map(|(slot, connstr)| {
            let mut slot = slot?;
            match slot.status {
                _ if slot.timed_out => Err(Error::new(
                    sqlstate::UNABLE_TO_ESTABLISH,
                    "could not establish connection",
                )
                .with_detail(format!(
                    "timed out after {} ms",
                    slot.bound.map_or(0, |t| t.as_millis())
                ))),
                PollStatus::Ok if slot.conn.set_nonblocking() => Ok(slot.conn),
                _ => Err(could_not_establish(&slot.conn.error_message(), connstr)),
            }
        })
        .collect()
}

/// One connect of [`open_all`] in progress.
struct Slot {
    conn: Conn,
    status: PollStatus,
    deadline: Deadline,
    /// The bound that sets `deadline`, for the message.
    bound: Option<Duration>,
    timed_out: bool,
}

/// [`connect`] that gives up after `timeout` (08001 `could not establish
/// connection`, DETAIL `timed out after N ms`), whatever the connection
/// string's own `connect_timeout` says. Not a dblink function. Otherwise as
/// [`connect`]: the same errors and NOTICE.
///
/// ```rust,no_run
/// use std::time::Duration;
///
/// match pgdblink::connect_timeout(Some("a"), "host=db1 dbname=app", Duration::from_secs(3)) {
///     Ok(()) => println!("connected"),
///     // e.g. "could not establish connection: timed out after 3000 ms"
///     Err(e) => eprintln!("{}: {}", e.message, e.detail.unwrap_or_default()),
/// }
/// ```
pub fn connect_timeout(name: Option<&str>, connstr: &str, timeout: Duration) -> Result<()> {
    let mut opened = open_all(&[connstr], Some(timeout));
    let conn = opened.pop().unwrap_or_else(|| {
        Err(Error::new(
            sqlstate::INTERNAL_ERROR,
            "no connection attempt",
        ))
    })?;
    register(name, conn)
}

/// Opens many named connections in parallel (non-blocking connects driven
/// together with poll(2)), so that opening 50 costs about one connection's
/// latency. `timeout` bounds the whole batch (`None`: no bound beyond each
/// connection string's). Returns one outcome per entry of `targets`
/// (`(name, connstr)`), in the same order, each as [`connect`] would report
/// it (a connect still pending at the deadline is 08001 with DETAIL `timed
/// out after N ms`). The connections that succeeded stay open whatever
/// happened to the others. Not a dblink function.
///
/// ```rust,no_run
/// use std::time::Duration;
///
/// let shards = [("s1", "host=shard1 dbname=app"), ("s2", "host=shard2 dbname=app")];
/// for ((name, _), outcome) in shards.iter().zip(pgdblink::connect_all(&shards, Some(Duration::from_secs(5)))) {
///     if let Err(e) = outcome {
///         eprintln!("{name}: {} ({})", e.message, e.detail.unwrap_or_default());
///     }
/// }
/// ```
#[must_use = "each outcome says whether that connection opened"]
pub fn connect_all(targets: &[(&str, &str)], timeout: Option<Duration>) -> Vec<Result<()>> {
    let connstrs: Vec<&str> = targets.iter().map(|&(_, c)| c).collect();
    open_all(&connstrs, timeout)
        .into_iter()
        .zip(targets)
        .map(|(conn, &(name, _))| register(Some(name), conn?))
        .collect()
}

/// Registers an open connection under `name`, closing a replaced unnamed one.
fn register(name: Option<&str>, conn: Conn) -> Result<()> {
    register_entry(name, conn).map(drop)
}

/// [`register`], handing back the registered entry (for a handle).
fn register_entry(name: Option<&str>, conn: Conn) -> Result<std::sync::Arc<Entry>> {
    warn_truncation(name);
    let entry = Entry::new(conn);
    registry::insert(name, std::sync::Arc::clone(&entry))?;
    Ok(entry)
}

/// Opens and registers a connection under `name` (as [`connect`], or
/// [`connect_timeout`] with a timeout), returning its entry.
pub(crate) fn open_entry(
    name: &str,
    connstr: &str,
    timeout: Option<Duration>,
) -> Result<std::sync::Arc<Entry>> {
    let conn = match timeout {
        None => open_conn(connstr)?,
        Some(t) => open_all(&[connstr], Some(t)).pop().unwrap_or_else(|| {
            Err(Error::new(
                sqlstate::INTERNAL_ERROR,
                "no connection attempt",
            ))
        })?,
    };
    register_entry(Some(name), conn)
}

/// dblink's NOTICE 42622 for a connection name longer than 63 bytes.
fn warn_truncation(name: Option<&str>) {
    if let Some((long, short)) = name.and_then(|n| registry::truncated(n).map(|t| (n, t))) {
        let text = format!("identifier \"{long}\" will be truncated to \"{short}\"");
        crate::notice::emit(name, &Error::new(sqlstate::NAME_TOO_LONG, text));
    }
}

/// `PQreset`: closes the connection's socket and reconnects with the same
/// parameters, keeping the name (for a connection broken by a server restart
/// or a terminated backend). Its cursors, transaction and session settings
/// are gone afterwards. Not a dblink function; it blocks while reconnecting.
///
/// Errors: 08003 for an unknown name; 08006 with libpq's message when the
/// server cannot be reached again (the name stays registered; try again or
/// [`disconnect`]).
///
/// ```rust,no_run
/// use pgdblink::sqlstate;
///
/// if let Err(e) = pgdblink::exec(Some("a"), "update jobs set done = true", true) {
///     if e.sqlstate == sqlstate::CONNECTION_FAILURE {
///         // e.g. "server closed the connection unexpectedly"
///         pgdblink::reset(Some("a"))?;
///     }
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn reset(name: Option<&str>) -> Result<()> {
    reset_as(Who::Name(name))
}

pub(crate) fn reset_as(who: Who<'_>) -> Result<()> {
    let name = who.name();
    let entry = who.entry()?;
    if entry.is_connecting() {
        return Err(super::still_connecting(name));
    }
    // Calls that get the session before this reset does fail (08006), and
    // the call in progress, if any, is woken.
    let _pending = entry.resetting();
    let mut session = entry.lock_waking();
    if entry.is_connecting() {
        return Err(super::still_connecting(name));
    }
    let conn = match session.conn.as_mut() {
        Some(c) if !entry.is_closed() => c,
        _ => return Err(Error::conn_not_available(name)),
    };
    let bound = conn.reconnect_bound;
    let epoch = entry.epoch();
    let started = conn.reset_start();
    // libpq has said goodbye on the old socket and closed it: wake the
    // polls still on our duplicate, and let it go.
    entry.retire_wake_socket();
    let ok = started
        && conn
            .establish(
                true,
                deadline_after(bound),
                &|| entry.epoch() != epoch,
                &mut |fd| entry.watch_socket(fd),
            )
            .map_err(|stop| match stop {
                crate::pq::Stop::TimedOut => Error::new(
                    sqlstate::CONNECTION_FAILURE,
                    format!(
                        "timed out after {} ms reconnecting",
                        bound.map_or(0, |b| b.as_millis())
                    ),
                ),
                crate::pq::Stop::Interrupted if entry.is_closed() => {
                    Error::conn_not_available(name)
                }
                crate::pq::Stop::Interrupted => Error::new(
                    sqlstate::CONNECTION_FAILURE,
                    "reset was interrupted by another thread's reset",
                ),
            })?;
    if !ok {
        let err = Error::new(sqlstate::CONNECTION_FAILURE, chomp(conn.error_message()));
        entry.note_socket(&session);
        return Err(err);
    }
    session.open_cursors = 0;
    session.new_xact_for_cursor = false;
    entry.arm(&session);
    Ok(())
}

/// Where a non-blocking connect stands: the answer of [`connect_poll`]. The
/// socket descriptors belong to the connection; do not close them. New
/// variants may be added (`#[non_exhaustive]`).
///
/// ```rust,no_run
/// use pgdblink::ConnectProgress;
///
/// pgdblink::connect_start(Some("a"), "host=db1 dbname=app")?;
/// match pgdblink::connect_poll(Some("a"))? {
///     ConnectProgress::Ready => println!("connected"),
///     ConnectProgress::Reading(fd) => println!("poll again when fd {fd} is readable"),
///     ConnectProgress::Writing(fd) => println!("poll again when fd {fd} is writable"),
///     _ => unreachable!("a newer pgdblink may add variants"),
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectProgress {
    /// Connected: the name is usable like any other connection.
    Ready,
    /// Call [`connect_poll`] again when this socket is readable.
    Reading(std::os::raw::c_int),
    /// Call [`connect_poll`] again when this socket is writable.
    Writing(std::os::raw::c_int),
}

/// Starts a non-blocking connect (`PQconnectStart`) under `name`; drive it
/// with [`connect_poll`], waiting on the socket it names in between (or on
/// [`crate::socket`]). The name is taken at once (42710 `duplicate
/// connection name` when it is in use); other calls on it fail with 08003
/// (`... is still connecting`) until the connect completes, and
/// [`crate::disconnect`] abandons it. A connection string libpq rejects
/// outright is 08001 here; a failure later is reported by [`connect_poll`].
/// For a host's own event loop; [`connect_all`] does the same for a batch
/// and waits by itself. Not a dblink function.
///
/// ```rust,no_run
/// use pgdblink::ConnectProgress;
/// # fn wait_readable(_fd: std::os::raw::c_int) {}
/// # fn wait_writable(_fd: std::os::raw::c_int) {}
///
/// // wait_readable / wait_writable stand for your event loop (poll, epoll, mio, ...).
/// pgdblink::connect_start(Some("a"), "host=db1 dbname=app")?;
/// loop {
///     match pgdblink::connect_poll(Some("a"))? {
///         ConnectProgress::Ready => break,
///         ConnectProgress::Reading(fd) => wait_readable(fd),
///         ConnectProgress::Writing(fd) => wait_writable(fd),
///         _ => unreachable!(),
///     }
/// }
/// pgdblink::send_query(Some("a"), "select 1")?;
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn connect_start(name: Option<&str>, connstr: &str) -> Result<()> {
    let target = Target::parse(connstr)?;
    let mut conn = Conn::connect_start(&target.params)
        .ok_or_else(|| Error::new(sqlstate::OUT_OF_MEMORY, "out of memory"))?;
    if conn.is_bad() {
        return Err(could_not_establish(&conn.error_message(), connstr));
    }
    conn.reconnect_bound = target.bound;
    warn_truncation(name);
    registry::insert(name, Entry::connecting(conn))
}

/// One step of a connect begun by [`connect_start`] (`PQconnectPoll`), never
/// blocking: [`ConnectProgress::Ready`] once connected (the name is then
/// usable like any other), else the socket to wait on before the next step.
/// On failure the name is released and the error is dblink's 08001 `could
/// not establish connection` with libpq's message as DETAIL. On a name that
/// is already connected: `Ready`; on an unknown name: 08003. The caller
/// bounds the total wait (a connect timeout).
///
/// ```rust,no_run
/// use std::time::{Duration, Instant};
/// use pgdblink::ConnectProgress;
/// # fn wait_for(_fd: std::os::raw::c_int, _until: Instant) {}
///
/// // wait_for stands for your event loop's wait on the descriptor.
/// let deadline = Instant::now() + Duration::from_secs(5);
/// pgdblink::connect_start(Some("a"), "host=db1 dbname=app")?;
/// while let ConnectProgress::Reading(fd) | ConnectProgress::Writing(fd) =
///     pgdblink::connect_poll(Some("a"))?
/// {
///     if Instant::now() >= deadline {
///         pgdblink::disconnect(Some("a"))?; // give up: release the name
///         break;
///     }
///     wait_for(fd, deadline);
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the progress says what to wait for next"]
pub fn connect_poll(name: Option<&str>) -> Result<ConnectProgress> {
    let entry = registry::lookup(name)?;
    // Never waits for a call in progress on a connection that is up.
    if !entry.is_connecting() {
        return if entry.is_closed() {
            Err(Error::conn_not_available(name))
        } else {
            Ok(ConnectProgress::Ready)
        };
    }
    let mut session = entry.lock();
    let conn = match session.conn.as_mut() {
        Some(c) if !entry.is_closed() => c,
        _ => return Err(Error::conn_not_available(name)),
    };
    if !entry.is_connecting() {
        return Ok(ConnectProgress::Ready); // another thread's poll completed it
    }
    let failed = match conn.connect_poll() {
        PollStatus::Reading => return Ok(ConnectProgress::Reading(conn.socket())),
        PollStatus::Writing => return Ok(ConnectProgress::Writing(conn.socket())),
        PollStatus::Ok if conn.set_nonblocking() => None,
        // The connection string parsed at connect_start: no piece is quoted.
        PollStatus::Ok | PollStatus::Failed => Some(could_not_establish(&conn.error_message(), "")),
    };
    if let Some(err) = failed {
        drop(session);
        registry::remove_entry(name, &entry);
        return Err(err);
    }
    entry.arm(&session);
    Ok(ConnectProgress::Ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(connstr: &str) -> ConnParams {
        let c = std::ffi::CString::new(connstr).expect("no NUL");
        ConnParams::parse(&c).expect("parses")
    }

    #[test]
    fn utf8_is_recognized_in_every_spelling_postgresql_accepts() {
        for enc in ["UTF8", "utf8", "UTF-8", "utf_8", "Unicode", "UNICODE"] {
            assert!(is_utf8(enc), "{enc}");
        }
        for enc in ["LATIN1", "SQL_ASCII", "auto", "", "utf16"] {
            assert!(!is_utf8(enc), "{enc}");
        }
    }

    #[test]
    fn connect_timeout_bounds_the_connect_per_host_with_libpqs_minimum() {
        assert_eq!(connect_bound(&parsed("host=a")), None);
        assert_eq!(connect_bound(&parsed("host=a connect_timeout=0")), None);
        assert_eq!(connect_bound(&parsed("host=a connect_timeout=-3")), None);
        assert_eq!(connect_bound(&parsed("host=a connect_timeout=junk")), None);
        // libpq takes 1 as 2 seconds.
        assert_eq!(
            connect_bound(&parsed("host=a connect_timeout=1")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            connect_bound(&parsed("host=a connect_timeout=5")),
            Some(Duration::from_secs(5))
        );
        // Each host gets the timeout.
        assert_eq!(
            connect_bound(&parsed("host=a,b,c connect_timeout=2")),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            connect_bound(&parsed("postgresql://a,b/db?connect_timeout=3")),
            Some(Duration::from_secs(6))
        );
    }

    #[test]
    fn a_password_is_found_in_keywords_and_uri_user_info() {
        assert!(mentions_password("host=a password=secret"));
        assert!(mentions_password("host=a PASSWORD = 'x'"));
        assert!(mentions_password("postgresql://u:secret@h/db"));
        assert!(mentions_password("postgres://h/db?password=x"));
        assert!(!mentions_password("postgresql://u@h/db"));
        assert!(!mentions_password("host=a user=b"));
    }

    #[test]
    fn quoted_pieces_are_masked_but_single_punctuation_kept() {
        assert_eq!(
            mask_quoted(r#"missing "=" after "password secret" in connection info string"#),
            r#"missing "=" after "***" in connection info string"#
        );
        assert_eq!(mask_quoted("no quotes at all"), "no quotes at all");
        assert_eq!(
            mask_quoted(r#"invalid "sslmode" value: "x""#),
            r#"invalid "***" value: "***""#
        );
    }

    #[test]
    fn client_encoding_is_refused_unless_utf8_and_always_sent_as_utf8() {
        let e = Target::parse("host=a client_encoding=LATIN1")
            .err()
            .expect("refused");
        assert_eq!(e.sqlstate, sqlstate::INVALID_PARAMETER_VALUE);
        assert!(e.message.contains("\"LATIN1\""), "{}", e.message);
        let t = Target::parse("host=a client_encoding=utf8").expect("accepted");
        assert_eq!(t.params.get("client_encoding"), Some("UTF8"));
        let t = Target::parse("host=a").expect("accepted");
        assert_eq!(t.params.get("client_encoding"), Some("UTF8"));
        let e = Target::parse("nope").err().expect("no '='");
        assert_eq!(e.sqlstate, sqlstate::UNABLE_TO_ESTABLISH);
    }
}
