//! dblink_connect, dblink_disconnect, dblink_get_connections.

use std::os::raw::c_int;
use std::time::Duration;

use crate::error::{Error, Result, sqlstate};
use crate::pq::{Conn, Interest, PollStatus, deadline_after, wait_sockets};
use crate::registry::{self, Entry};

use super::{c_string, chomp};

/// Opens a connection as dblink does: the outcome of a failed attempt is
/// 08001 `could not establish connection` with libpq's message as DETAIL.
/// The client encoding is set to UTF8, since every string here is UTF-8.
pub(crate) fn open_conn(connstr: &str) -> Result<Conn> {
    let c = c_string(connstr, "connection string")?;
    let mut conn =
        Conn::connectdb(&c).ok_or_else(|| Error::new(sqlstate::OUT_OF_MEMORY, "out of memory"))?;
    if !conn.is_ok() || !conn.set_client_encoding(c"UTF8") {
        return Err(could_not_establish(&conn, connstr));
    }
    Ok(conn)
}

/// dblink's 08001, with libpq's message as DETAIL. When `connstr` does not
/// even parse, libpq's message quotes pieces of it; if it carries a password,
/// those pieces are masked, so that a password never appears in an error
/// (dblink passes them on; this is the one place pgdblink's text differs).
fn could_not_establish(conn: &Conn, connstr: &str) -> Error {
    let mut detail = chomp(conn.error_message());
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
pub fn get_connections() -> Option<Vec<String>> {
    let names = registry::names();
    (!names.is_empty()).then_some(names)
}

/// Drives non-blocking connects (`PQconnectStart` + `PQconnectPoll`) for all
/// `connstrs` at once until each is up, failed, or the deadline passed.
fn open_all(connstrs: &[&str], timeout: Option<Duration>) -> Vec<Result<Conn>> {
    let deadline = deadline_after(timeout);
    let mut slots: Vec<Result<(Conn, PollStatus)>> = connstrs
        .iter()
        .map(|cs| {
            let c = c_string(cs, "connection string")?;
            let conn = Conn::connect_start(&c)
                .ok_or_else(|| Error::new(sqlstate::OUT_OF_MEMORY, "out of memory"))?;
            // A connection string libpq rejects fails at once, with no socket.
            let status = if conn.is_bad() {
                PollStatus::Failed
            } else {
                PollStatus::Writing
            };
            Ok((conn, status))
        })
        .collect();
    // Just after PQconnectStart, libpq says to behave as if PQconnectPoll
    // had returned WRITING: wait for the socket, then poll.
    loop {
        let waiting: Vec<(usize, (c_int, Interest))> = slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match slot {
                Ok((conn, PollStatus::Reading)) => Some((i, (conn.socket(), Interest::Read))),
                Ok((conn, PollStatus::Writing)) => Some((i, (conn.socket(), Interest::Write))),
                _ => None,
            })
            .collect();
        if waiting.is_empty() {
            break;
        }
        let fds: Vec<(c_int, Interest)> = waiting.iter().map(|&(_, fd)| fd).collect();
        let Some(ready) = wait_sockets(&fds, deadline) else {
            break;
        };
        for i in ready.into_iter().map(|r| waiting[r].0) {
            if let Ok((conn, status)) = &mut slots[i] {
                *status = conn.connect_poll();
            }
        }
    }
    slots
        .into_iter()
        .zip(connstrs)
        .map(|(slot, connstr)| {
            let (mut conn, status) = slot?;
            match status {
                PollStatus::Ok => {
                    if !conn.set_client_encoding(c"UTF8") {
                        return Err(could_not_establish(&conn, connstr));
                    }
                    Ok(conn)
                }
                PollStatus::Failed => Err(could_not_establish(&conn, connstr)),
                PollStatus::Reading | PollStatus::Writing => Err(Error::new(
                    sqlstate::UNABLE_TO_ESTABLISH,
                    "could not establish connection",
                )
                .with_detail(format!(
                    "timed out after {} ms",
                    timeout.map_or(0, |t| t.as_millis())
                ))),
            }
        })
        .collect()
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
    warn_truncation(name);
    registry::insert(name, Entry::new(conn))
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
    let entry = registry::lookup(name)?;
    let mut session = entry.lock();
    let conn = session
        .conn
        .as_mut()
        .ok_or_else(|| Error::conn_not_available(name))?;
    conn.reset();
    if !conn.is_ok() {
        return Err(Error::new(
            sqlstate::CONNECTION_FAILURE,
            chomp(conn.error_message()),
        ));
    }
    conn.set_client_encoding(c"UTF8");
    entry.renew_cancel(conn);
    session.open_cursors = 0;
    session.new_xact_for_cursor = false;
    Ok(())
}

/// Where a non-blocking connect stands: the answer of [`connect_poll`]. The
/// socket descriptors belong to the connection; do not close them.
///
/// ```rust,no_run
/// use pgdblink::ConnectProgress;
///
/// pgdblink::connect_start(Some("a"), "host=db1 dbname=app")?;
/// match pgdblink::connect_poll(Some("a"))? {
///     ConnectProgress::Ready => println!("connected"),
///     ConnectProgress::Reading(fd) => println!("poll again when fd {fd} is readable"),
///     ConnectProgress::Writing(fd) => println!("poll again when fd {fd} is writable"),
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
///     }
/// }
/// pgdblink::send_query(Some("a"), "select 1")?;
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn connect_start(name: Option<&str>, connstr: &str) -> Result<()> {
    let c = c_string(connstr, "connection string")?;
    let conn = Conn::connect_start(&c)
        .ok_or_else(|| Error::new(sqlstate::OUT_OF_MEMORY, "out of memory"))?;
    if conn.is_bad() {
        return Err(could_not_establish(&conn, connstr));
    }
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
pub fn connect_poll(name: Option<&str>) -> Result<ConnectProgress> {
    let entry = registry::lookup(name)?;
    let mut session = entry.lock();
    if !session.connecting {
        return match session.conn {
            Some(_) => Ok(ConnectProgress::Ready),
            None => Err(Error::conn_not_available(name)),
        };
    }
    let conn = session
        .conn
        .as_mut()
        .ok_or_else(|| Error::conn_not_available(name))?;
    let failed = match conn.connect_poll() {
        PollStatus::Reading => return Ok(ConnectProgress::Reading(conn.socket())),
        PollStatus::Writing => return Ok(ConnectProgress::Writing(conn.socket())),
        PollStatus::Ok if conn.set_client_encoding(c"UTF8") => None,
        // The connection string parsed at connect_start: no piece is quoted.
        PollStatus::Ok | PollStatus::Failed => Some(could_not_establish(conn, "")),
    };
    if let Some(err) = failed {
        drop(session);
        registry::remove_entry(name, &entry);
        return Err(err);
    }
    entry.renew_cancel(conn);
    session.connecting = false;
    Ok(ConnectProgress::Ready)
}
