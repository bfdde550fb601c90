//! The dblink API in Rust: one function per dblink function.
//!
//! `name: Option<&str>` addresses a connection: `Some(name)` a named one,
//! `None` dblink's unnamed connection.

mod asynchronous;
mod build;
mod connection;
mod copy;
mod cursor;
mod pipeline;
mod sync;
mod wait;

pub use asynchronous::*;
pub use build::*;
pub use connection::*;
pub use copy::*;
pub use cursor::*;
pub use pipeline::*;
pub use sync::*;
pub use wait::*;

use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result, sqlstate};
use crate::pq::{Conn, Deadline, Stop};
use crate::registry::{self, Entry, Session};
use parking_lot::MutexGuard;

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

/// Query parameters for libpq (`None` is SQL NULL); 22023 for a NUL byte.
pub(crate) fn c_params(params: &[Option<&str>]) -> Result<crate::pq::Params> {
    crate::pq::Params::new(params).map_err(|()| Error::interior_nul("parameter"))
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

/// Which connection a call is for: a name to look up in the registry, or a
/// [`crate::Connection`] handle's entry, resolved once when it was made.
#[derive(Clone, Copy)]
pub(crate) enum Who<'a> {
    /// A name (`None`: the unnamed connection).
    Name(Option<&'a str>),
    /// A handle's connection and the name it was opened under.
    Handle(&'a Arc<Entry>, &'a str),
}

impl<'a> Who<'a> {
    /// The name, for messages and notices.
    pub(crate) fn name(self) -> Option<&'a str> {
        match self {
            Who::Name(n) => n,
            Who::Handle(_, n) => Some(n),
        }
    }

    /// The registry entry (08003 for an unknown name).
    pub(crate) fn entry(self) -> Result<Arc<Entry>> {
        match self {
            Who::Name(n) => registry::lookup(n),
            Who::Handle(e, _) => Ok(Arc::clone(e)),
        }
    }
}

impl<'a> From<Option<&'a str>> for Who<'a> {
    fn from(name: Option<&'a str>) -> Who<'a> {
        Who::Name(name)
    }
}

/// What a call holding a connection's session knows about it: whether
/// another thread closed or reset it meanwhile (see `registry`'s docs on
/// waking waiters).
pub(crate) struct Ctx<'a> {
    entry: &'a Entry,
    epoch: u64,
    name: Option<&'a str>,
}

impl Ctx<'_> {
    /// Whether the connection was closed or reset since the call began.
    pub(crate) fn interrupted(&self) -> bool {
        self.entry.epoch() != self.epoch
    }

    /// The error for a wait that stopped early: `timeout()` for the
    /// caller's deadline, else 08003 (closed) or 08006 (reset).
    pub(crate) fn stopped(&self, stop: Stop, timeout: impl FnOnce() -> Error) -> Error {
        match stop {
            Stop::TimedOut => timeout(),
            Stop::Interrupted if self.entry.is_closed() => Error::conn_not_available(self.name),
            Stop::Interrupted => being_reset(self.name),
        }
    }

    /// For waits without a deadline: only an interruption can stop them.
    pub(crate) fn interrupted_error(&self, stop: Stop) -> Error {
        self.stopped(stop, || timed_out("", None))
    }
}

/// Runs `f` on the session of the connection `name`, holding its lock.
pub(crate) fn with_session<'a, T>(
    who: impl Into<Who<'a>>,
    f: impl FnOnce(&mut Session, &Ctx) -> Result<T>,
) -> Result<T> {
    with_session_until(who, None, || timed_out("", None), f)
}

/// [`with_session`] that waits for the connection's lock only until
/// `deadline`, failing with `on_timeout()` past it.
pub(crate) fn with_session_until<'a, T>(
    who: impl Into<Who<'a>>,
    deadline: Deadline,
    on_timeout: impl FnOnce() -> Error,
    f: impl FnOnce(&mut Session, &Ctx) -> Result<T>,
) -> Result<T> {
    let who = who.into();
    let name = who.name();
    // A handle's entry is borrowed; a name's is looked up once.
    let looked_up;
    let entry: &Entry = match who {
        Who::Handle(e, _) => e,
        Who::Name(n) => {
            looked_up = registry::lookup(n)?;
            &looked_up
        }
    };
    let Some(mut session) = lock_session(entry, name, deadline)? else {
        return Err(on_timeout());
    };
    let ctx = Ctx {
        entry,
        epoch: entry.epoch(),
        name,
    };
    let outcome = f(&mut session, &ctx);
    release(entry, name, session);
    outcome
}

/// Locks the session of `entry` (registered as `name`) until `deadline`
/// (`Ok(None)` past it) and checks that it can be used: 08003 once closed,
/// while still connecting, or in a process that inherited it by fork.
pub(crate) fn lock_session<'e>(
    entry: &'e Entry,
    name: Option<&str>,
    deadline: Deadline,
) -> Result<Option<MutexGuard<'e, Session>>> {
    // Known without the lock: a timed call need not wait for it to say so
    // (an untimed one learns the same below).
    if deadline.is_some() {
        if entry.is_closed() {
            return Err(Error::conn_not_available(name));
        }
        if entry.is_connecting() {
            return Err(still_connecting(name));
        }
    }
    let Some(session) = entry.lock_until(deadline) else {
        return Ok(None);
    };
    if entry.is_resetting() {
        return Err(being_reset(name));
    }
    let conn = match session.conn.as_ref() {
        Some(c) if !entry.is_closed() => c,
        _ => return Err(Error::conn_not_available(name)),
    };
    if entry.is_connecting() {
        return Err(still_connecting(name));
    }
    if conn.is_foreign() {
        return Err(inherited(name));
    }
    copy::refuse_if_copying(entry, conn, name)?;
    Ok(Some(session))
}

/// Ends a call on a session: records its socket's state, unlocks, then
/// delivers the server notices it received (no lock held).
pub(crate) fn release(entry: &Entry, name: Option<&str>, mut session: MutexGuard<'_, Session>) {
    entry.note_socket(&session);
    if !crate::pq::notices_captured() {
        return; // no handler: nothing was kept
    }
    let notices = session
        .conn
        .as_mut()
        .map(|c| c.take_notices())
        .unwrap_or_default();
    drop(session);
    crate::notice::emit_server(name, notices);
}

/// Runs `f` on the `PGconn` of the connection `name`, holding its lock.
pub(crate) fn with_conn<'a, T>(
    who: impl Into<Who<'a>>,
    f: impl FnOnce(&mut Conn, &Ctx) -> Result<T>,
) -> Result<T> {
    let who = who.into();
    with_session(who, |s, ctx| match s.conn.as_mut() {
        Some(conn) => f(conn, ctx),
        None => Err(Error::conn_not_available(who.name())),
    })
}

/// Sends a query on the session's connection with `send` (which only
/// queues it: the connection is non-blocking), then flushes it, waiting
/// as long as it takes (woken by a close or reset). `Ok(Err(message))`
/// when it was not sent, dblink's 0.
pub(crate) fn send_on(
    s: &mut Session,
    ctx: &Ctx,
    send: impl FnOnce(&mut Conn) -> bool,
) -> Result<std::result::Result<(), String>> {
    let conn = s
        .conn
        .as_mut()
        .ok_or_else(|| Error::conn_not_available(ctx.name))?;
    if !send(conn) {
        return Ok(Err(conn.error_message()));
    }
    match conn.flush(None, &|| ctx.interrupted()) {
        Ok(true) => Ok(Ok(())),
        Ok(false) => Ok(Err(conn.error_message())),
        Err(stop) => Err(ctx.interrupted_error(stop)),
    }
}

/// "connection \"a\"", or "the unnamed connection".
fn which(name: Option<&str>) -> String {
    name.map_or_else(
        || "the unnamed connection".to_owned(),
        |n| format!("connection \"{n}\""),
    )
}

/// The error for a call that met another thread's reset of its connection.
fn being_reset(name: Option<&str>) -> Error {
    Error::new(
        sqlstate::CONNECTION_FAILURE,
        format!("{} was reset by another thread", which(name)),
    )
}

/// The error for a call, in a child process, on a connection inherited
/// through fork (it belongs to the parent: nothing is sent on it).
fn inherited(name: Option<&str>) -> Error {
    Error::new(
        sqlstate::CONNECTION_DOES_NOT_EXIST,
        format!(
            "{} was opened by another process: after fork, open connections of your own",
            which(name)
        ),
    )
}

/// The error for a COPY reached through a dblink function, which cannot
/// drive one (it was ended: COPY TO's data discarded, COPY FROM aborted).
pub(crate) fn copy_refused() -> Error {
    Error::new(sqlstate::FEATURE_NOT_SUPPORTED, "COPY is not supported here")
        .with_detail(
            "The dblink functions cannot drive a COPY: the data of COPY TO was discarded, COPY FROM was aborted.",
        )
}

/// The error for a call on a connection whose `connect_start` has not
/// finished (drive it with `connect_poll`).
pub(crate) fn still_connecting(name: Option<&str>) -> Error {
    Error::new(
        sqlstate::CONNECTION_DOES_NOT_EXIST,
        format!(
            "{} is still connecting: call connect_poll until it is ready",
            which(name)
        ),
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
