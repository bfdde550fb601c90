//! The dblink API in Rust: one function per dblink function.
//!
//! `name: Option<&str>` addresses a connection: `Some(name)` a named one,
//! `None` dblink's unnamed connection.

mod asynchronous;
mod connection;
mod cursor;
mod sync;
mod wait;

pub use asynchronous::*;
pub use connection::*;
pub use cursor::*;
pub use sync::*;
pub use wait::*;

use std::ffi::{CStr, CString};
use std::time::Duration;

use crate::error::{Error, Result, sqlstate};
use crate::pq::Conn;
use crate::registry::{self, Session};

/// How long a cancel request may take by default: 30 s, dblink 17's bound.
/// [`cancel_query`] uses it; [`cancel_query_timeout`] takes its own.
///
/// ```rust,no_run
/// use std::time::Duration;
///
/// // Give up on the cancel request sooner than the default.
/// let shorter = pgdblink::DEFAULT_CANCEL_TIMEOUT.min(Duration::from_secs(5));
/// let answer = pgdblink::cancel_query_timeout(Some("a"), shorter)?;
/// if answer != "OK" {
///     eprintln!("cancel failed: {answer}");
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub const DEFAULT_CANCEL_TIMEOUT: Duration = Duration::from_secs(30);

/// Text for libpq: a C string, refusing an interior NUL.
pub(crate) fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::interior_nul(what))
}

/// Query parameters for libpq: C strings, `None` for SQL NULL.
pub(crate) fn c_params(params: &[Option<&str>]) -> Result<Vec<Option<CString>>> {
    params
        .iter()
        .map(|p| p.map(|s| c_string(s, "parameter")).transpose())
        .collect()
}

/// Runs `f` with `s` as a C string; short strings (most SQL) are copied to
/// the stack instead of the heap, since this is on every send's path.
pub(crate) fn with_c_str<T>(s: &str, what: &str, f: impl FnOnce(&CStr) -> Result<T>) -> Result<T> {
    const SMALL: usize = 384;
    if s.len() < SMALL {
        let mut buf = [0u8; SMALL];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        let c =
            CStr::from_bytes_with_nul(&buf[..=s.len()]).map_err(|_| Error::interior_nul(what))?;
        return f(c);
    }
    f(&c_string(s, what)?)
}

/// libpq's message without its trailing newline (dblink's `pchomp`).
pub(crate) fn chomp(mut s: String) -> String {
    while s.ends_with('\n') {
        s.pop();
    }
    s
}

/// Runs `f` on the session of the connection `name`, holding its lock.
pub(crate) fn with_session<T>(
    name: Option<&str>,
    f: impl FnOnce(&mut Session) -> Result<T>,
) -> Result<T> {
    let entry = registry::lookup(name)?;
    let mut session = entry.lock();
    if session.conn.is_none() {
        return Err(Error::conn_not_available(name));
    }
    if session.connecting {
        return Err(still_connecting(name));
    }
    let outcome = f(&mut session);
    entry.note_socket(&session);
    let notices = session
        .conn
        .as_mut()
        .map(|c| c.take_notices())
        .unwrap_or_default();
    drop(session);
    crate::notice::emit_server(name, notices);
    outcome
}

/// Runs `f` on the `PGconn` of the connection `name`, holding its lock.
pub(crate) fn with_conn<T>(
    name: Option<&str>,
    f: impl FnOnce(&mut Conn) -> Result<T>,
) -> Result<T> {
    with_session(name, |s| match s.conn.as_mut() {
        Some(conn) => f(conn),
        None => Err(Error::conn_not_available(name)),
    })
}

/// The error for a call on a connection whose `connect_start` has not
/// finished (drive it with `connect_poll`).
pub(crate) fn still_connecting(name: Option<&str>) -> Error {
    let which = name.map_or_else(
        || "the unnamed connection".to_owned(),
        |n| format!("connection \"{n}\""),
    );
    Error::new(
        sqlstate::CONNECTION_DOES_NOT_EXIST,
        format!("{which} is still connecting: call connect_poll until it is ready"),
    )
}

/// The error for a wait that ran out of time.
pub(crate) fn timed_out(what: &str, timeout: Option<Duration>) -> Error {
    let ms = timeout.map_or(0, |t| t.as_millis());
    Error::new(
        sqlstate::QUERY_CANCELED,
        format!("timed out after {ms} ms {what}"),
    )
}
