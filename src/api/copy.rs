//! COPY streaming: COPY TO STDOUT read chunk by chunk, COPY FROM STDIN fed
//! chunk by chunk, and [`copy_between`], which pipes one connection's COPY
//! TO into another's COPY FROM. Not dblink functions.
//!
//! # State
//!
//! A connection in COPY state is recorded in a process-wide table (`COPYING`,
//! a leaf lock held only to look up, insert or remove an entry: nothing is
//! locked while it is held, and nothing waits while holding it). The entry
//! is keyed by the registry entry (a `Weak`, so its address cannot be reused
//! while recorded) and the server process id (a reset makes a new session,
//! which is not in COPY state). Every other call that takes the session
//! ([`super::lock_session`]) is refused while the connection is in COPY
//! state, except the COPY calls themselves (which mark their thread while
//! they run), `disconnect` and `reset` (which do not go through
//! `lock_session`) and `cancel_query` (which takes no session lock).
//!
//! # Waits
//!
//! Every wait is one of `Conn`'s (poll(2)), without a deadline but woken by
//! a close or reset of the connection (08003/08006), as `get_result`'s.
//! [`copy_between`] holds one session at a time, chunk by chunk, so that it
//! keeps the lock order (a call holds one session lock).

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::error::{Error, Result, sqlstate};
use crate::pq::{Conn, CopyBegun, CopyChunk, PgResult, ResultKind};
use crate::registry::{self, Entry};

use super::{Ctx, c_string, chomp, with_session};

/// object_not_in_prerequisite_state: a call on a connection in COPY state,
/// a COPY call without that COPY, pipeline mode misuse.
pub(crate) const NOT_IN_PREREQUISITE_STATE: &str = "55000";

/// The direction of a COPY in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Out,
    In,
}

/// Who drives a COPY: the caller (copy_out_*/copy_in_*), or a
/// [`copy_between`] in progress (whose connections the caller must not use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Caller,
    Between,
}

struct Copying {
    entry: Weak<Entry>,
    pid: i32,
    dir: Dir,
    owner: Owner,
    /// A COPY TO whose end was read: its command status, for copy_out_end.
    done: Option<String>,
}

/// What the table says about one connection.
#[derive(Clone)]
struct State {
    dir: Dir,
    owner: Owner,
    done: Option<String>,
}

static COPYING: Mutex<Vec<Copying>> = Mutex::new(Vec::new());
/// How many connections are recorded: the check on every call is one
/// atomic load while no COPY is in progress anywhere.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while this thread runs a COPY call (which may use a connection
    /// in COPY state).
    static COPY_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as running a COPY call until dropped.
struct CopyCall(bool);

impl CopyCall {
    fn enter() -> CopyCall {
        CopyCall(COPY_CALL.with(|c| c.replace(true)))
    }
}

impl Drop for CopyCall {
    fn drop(&mut self) {
        let previous = self.0;
        COPY_CALL.with(|c| c.set(previous));
    }
}

/// Removes the recorded COPYs of connections that are gone or were reset
/// (call with the table locked).
fn prune(table: &mut Vec<Copying>, entry: &Entry, pid: i32) {
    table.retain(|c| {
        c.entry.strong_count() > 0 && !(std::ptr::eq(c.entry.as_ptr(), entry) && c.pid != pid)
    });
    ACTIVE.store(table.len(), Ordering::Release);
}

fn state_of(entry: &Entry, pid: i32) -> Option<State> {
    if ACTIVE.load(Ordering::Acquire) == 0 {
        return None;
    }
    let mut table = COPYING.lock();
    prune(&mut table, entry, pid);
    table
        .iter()
        .find(|c| std::ptr::eq(c.entry.as_ptr(), entry))
        .map(|c| State {
            dir: c.dir,
            owner: c.owner,
            done: c.done.clone(),
        })
}

fn record(entry: &Arc<Entry>, pid: i32, dir: Dir, owner: Owner) {
    let mut table = COPYING.lock();
    prune(&mut table, entry, pid);
    table.retain(|c| !std::ptr::eq(c.entry.as_ptr(), &**entry));
    table.push(Copying {
        entry: Arc::downgrade(entry),
        pid,
        dir,
        owner,
        done: None,
    });
    ACTIVE.store(table.len(), Ordering::Release);
}

fn set_done(entry: &Entry, status: String) {
    let mut table = COPYING.lock();
    if let Some(c) = table
        .iter_mut()
        .find(|c| std::ptr::eq(c.entry.as_ptr(), entry))
    {
        c.done = Some(status);
    }
}

fn forget(entry: &Entry) {
    let mut table = COPYING.lock();
    table.retain(|c| c.entry.strong_count() > 0 && !std::ptr::eq(c.entry.as_ptr(), entry));
    ACTIVE.store(table.len(), Ordering::Release);
}

/// "connection \"a\"", or "the unnamed connection".
fn which(name: Option<&str>) -> String {
    name.map_or_else(
        || "the unnamed connection".to_owned(),
        |n| format!("connection \"{n}\""),
    )
}

/// The error for a call on a connection in COPY state.
/// The COPY in progress on `conn` when it is `owner`'s and runs in `dir`;
/// else the error saying there is none (or another one is in progress).
fn own_copy(
    entry: &Entry,
    conn: &Conn,
    name: Option<&str>,
    owner: Owner,
    dir: Dir,
) -> Result<State> {
    let state = state_of(entry, conn.backend_pid()).ok_or_else(|| no_copy(name, dir))?;
    if state.owner != owner {
        return Err(copy_busy(name, &state));
    }
    if state.dir != dir {
        return Err(no_copy(name, dir).with_hint(copy_busy(name, &state).message));
    }
    Ok(state)
}

fn copy_busy(name: Option<&str>, state: &State) -> Error {
    let (what, end) = match state.dir {
        Dir::Out => ("COPY TO STDOUT", "copy_out_end (C: dblink_copy_out_end)"),
        Dir::In => ("COPY FROM STDIN", "copy_in_end (C: dblink_copy_in_end)"),
    };
    let hint = match state.owner {
        Owner::Caller => format!("End it with {end} first."),
        Owner::Between => "A copy_between is using it: wait for it to return.".to_owned(),
    };
    Error::new(
        NOT_IN_PREREQUISITE_STATE,
        format!("a {what} is in progress on {}", which(name)),
    )
    .with_hint(hint)
}

/// The error for a COPY call on a connection without that COPY.
fn no_copy(name: Option<&str>, dir: Dir) -> Error {
    let what = match dir {
        Dir::Out => "COPY TO STDOUT",
        Dir::In => "COPY FROM STDIN",
    };
    Error::new(
        NOT_IN_PREREQUISITE_STATE,
        format!("no {what} is in progress on {}", which(name)),
    )
}

/// Called by every session-taking call ([`super::lock_session`]): refuses
/// a connection in COPY state, except to the COPY calls.
pub(crate) fn refuse_if_copying(entry: &Entry, conn: &Conn, name: Option<&str>) -> Result<()> {
    if ACTIVE.load(Ordering::Acquire) == 0 || COPY_CALL.with(Cell::get) {
        return Ok(());
    }
    match state_of(entry, conn.backend_pid()) {
        Some(state) => Err(copy_busy(name, &state)),
        None => Ok(()),
    }
}

/// Runs `f` on the connection `name` as a COPY call (allowed in COPY
/// state), with its registry entry.
fn with_copy<T>(
    name: Option<&str>,
    f: impl FnOnce(&mut Conn, &Ctx, &Arc<Entry>) -> Result<T>,
) -> Result<T> {
    let entry = registry::lookup(name)?;
    let _marked = CopyCall::enter();
    with_session(name, |s, ctx| {
        // Replaced (unnamed connection) between the lookup and the lock.
        if !std::ptr::eq(ctx.entry, &*entry) {
            return Err(Error::conn_not_available(name));
        }
        let conn = s
            .conn
            .as_mut()
            .ok_or_else(|| Error::conn_not_available(name))?;
        f(conn, ctx, &entry)
    })
}

/// A remote error of a COPY, with dblink's context line.
fn remote(conn: &Conn, res: Option<&PgResult>, name: Option<&str>, doing: &str) -> Error {
    Error::remote(res, &conn.error_message(), name, doing)
}

fn start(name: Option<&str>, sql: &str, want: Dir, owner: Owner) -> Result<()> {
    let sql = c_string(sql, "sql")?;
    with_copy(name, |conn, ctx, entry| {
        if let Some(state) = state_of(entry, conn.backend_pid()) {
            return Err(copy_busy(name, &state));
        }
        let interrupted = || ctx.interrupted();
        let begun = conn
            .start_copy(&sql, &interrupted)
            .map_err(|stop| ctx.interrupted_error(stop))?;
        let (got, wanted) = match (begun, want) {
            (CopyBegun::Out, Dir::Out) | (CopyBegun::In, Dir::In) => {
                record(entry, conn.backend_pid(), want, owner);
                return Ok(());
            }
            (CopyBegun::NotSent, _) => {
                return Err(Error::new(
                    sqlstate::INTERNAL_ERROR,
                    format!("could not send query: {}", chomp(conn.error_message())),
                ));
            }
            (CopyBegun::Other(res), _) => match res {
                Some(r) if matches!(r.kind(), ResultKind::Command | ResultKind::Tuples) => {
                    ("a statement that is not a COPY", want)
                }
                other => return Err(remote(conn, other.as_ref(), name, "while starting COPY")),
            },
            (CopyBegun::Out, Dir::In) => {
                // Not what was asked for: end it, discarding its data.
                end_out(conn, ctx, name)?;
                ("COPY TO STDOUT", want)
            }
            (CopyBegun::In, Dir::Out) => {
                drop(
                    conn.copy_finish(Some(c"wrong COPY direction"), &interrupted)
                        .map_err(|stop| ctx.interrupted_error(stop))?,
                );
                ("COPY FROM STDIN", want)
            }
        };
        let (function, needs) = match wanted {
            Dir::Out => ("copy_out_start", "COPY ... TO STDOUT"),
            Dir::In => ("copy_in_start", "COPY ... FROM STDIN"),
        };
        Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("{function} needs a {needs} statement, not {got}"),
        )
        .with_hint("The statement ran to its end (a COPY of the other direction was ended)."))
    })
}

/// Reads a COPY TO to its end, discarding the data: its status, or its error.
fn end_out(conn: &mut Conn, ctx: &Ctx, name: Option<&str>) -> Result<String> {
    loop {
        match conn
            .copy_read(&|| ctx.interrupted())
            .map_err(|stop| ctx.interrupted_error(stop))?
        {
            CopyChunk::Data(_) => {}
            CopyChunk::End(res) => return out_status(conn, res, name),
        }
    }
}

/// The final result of a COPY TO: its status, or its error.
fn out_status(conn: &Conn, res: Option<PgResult>, name: Option<&str>) -> Result<String> {
    match res {
        Some(r) if r.kind() == ResultKind::Command => Ok(r.cmd_status()),
        other => Err(remote(
            conn,
            other.as_ref(),
            name,
            "while reading COPY data",
        )),
    }
}

fn read(name: Option<&str>, owner: Owner) -> Result<Option<Vec<u8>>> {
    with_copy(name, |conn, ctx, entry| {
        let state = own_copy(entry, conn, name, owner, Dir::Out)?;
        if state.done.is_some() {
            return Ok(None);
        }
        let chunk = conn.copy_read(&|| ctx.interrupted());
        match chunk.map_err(|stop| ctx.interrupted_error(stop))? {
            CopyChunk::Data(data) => Ok(Some(data)),
            CopyChunk::End(res) => match out_status(conn, res, name) {
                Ok(status) => {
                    set_done(entry, status);
                    Ok(None)
                }
                Err(e) => {
                    forget(entry);
                    Err(e)
                }
            },
        }
    })
}

fn out_end(name: Option<&str>, owner: Owner) -> Result<String> {
    with_copy(name, |conn, ctx, entry| {
        let state = own_copy(entry, conn, name, owner, Dir::Out)?;
        if let Some(status) = state.done {
            forget(entry);
            return Ok(status);
        }
        let outcome = end_out(conn, ctx, name);
        forget(entry);
        outcome
    })
}

fn write(name: Option<&str>, data: &[u8], owner: Owner) -> Result<()> {
    with_copy(name, |conn, ctx, entry| {
        own_copy(entry, conn, name, owner, Dir::In)?;
        let interrupted = || ctx.interrupted();
        if conn
            .copy_write(data, &interrupted)
            .map_err(|stop| ctx.interrupted_error(stop))?
        {
            return Ok(());
        }
        // Not sent (the connection failed): abort rather than finish, so
        // that nothing of a partial copy is committed, and report it.
        let sent_error = chomp(conn.error_message());
        let res = conn.copy_finish(Some(c"COPY data could not be sent"), &interrupted);
        forget(entry);
        let res = res.map_err(|stop| ctx.interrupted_error(stop))?;
        let mut err = remote(conn, res.as_ref(), name, "while writing COPY data");
        if res.is_none() || err.message.is_empty() {
            err.message = sent_error;
        }
        Err(err)
    })
}

/// What the server says to a COPY FROM aborted with a reason (57014).
const ABORTED: &str = "ABORTED";

fn in_end(name: Option<&str>, abort: Option<&str>, owner: Owner) -> Result<String> {
    let reason = abort.map(|r| c_string(r, "abort_reason")).transpose()?;
    with_copy(name, |conn, ctx, entry| {
        own_copy(entry, conn, name, owner, Dir::In)?;
        let res = conn.copy_finish(reason.as_deref(), &|| ctx.interrupted());
        forget(entry);
        match res.map_err(|stop| ctx.interrupted_error(stop))? {
            Some(r) if r.kind() == ResultKind::Command => Ok(r.cmd_status()),
            Some(r)
                if reason.is_some()
                    && r.error_field(pq_sys::PG_DIAG_SQLSTATE).as_deref()
                        == Some(sqlstate::QUERY_CANCELED) =>
            {
                Ok(ABORTED.to_owned())
            }
            other => Err(remote(conn, other.as_ref(), name, "while ending COPY")),
        }
    })
}

/// Starts `sql`, a `COPY ... TO STDOUT` statement (one statement; text,
/// csv or binary format), on the connection `name`; read its data with
/// [`copy_out_read`] until `None`, then end it with [`copy_out_end`]. Until
/// then, every other call on the connection fails with 55000 `a COPY TO
/// STDOUT is in progress on connection "a"` (except [`crate::disconnect`],
/// [`crate::reset`] and [`crate::cancel_query`]). [`copy_out`] wraps the
/// three calls in a [`std::io::Read`]. Not a dblink function.
///
/// Errors: the remote error of a failed statement (e.g. 42P01), with the
/// context line `while starting COPY on dblink connection named "a"`;
/// 22023 for a statement that is not a COPY TO STDOUT (it has run: a COPY
/// FROM STDIN was aborted); 55000 when a COPY is already in progress; XX000
/// `could not send query: ...` while an async query is in progress; 08003.
///
/// ```rust,no_run
/// pgdblink::copy_out_start(Some("a"), "copy big_table to stdout (format csv)")?;
/// let mut bytes = 0;
/// while let Some(rows) = pgdblink::copy_out_read(Some("a"))? {
///     bytes += rows.len(); // whole rows, at most ~64 KiB at a time (more for one larger row)
/// }
/// assert!(pgdblink::copy_out_end(Some("a"))?.starts_with("COPY "));
/// println!("{bytes} bytes");
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn copy_out_start(name: Option<&str>, sql: &str) -> Result<()> {
    start(name, sql, Dir::Out, Owner::Caller)
}

/// The next data of the COPY TO STDOUT begun by [`copy_out_start`]: whole
/// rows, as the server sends them (about 64 KiB at most, or one larger
/// row), or `None` at the end (then [`copy_out_end`] gives its status).
/// Waits for data as long as it takes (woken by a disconnect or reset from
/// another thread; [`crate::cancel_query`] stops the COPY). A remote error
/// (e.g. 57014 after a cancel, or an error of the query being copied) ends
/// the COPY: the connection is then usable again, and [`copy_out_end`] is
/// not needed (it would say 55000 `no COPY TO STDOUT is in progress`). Not a
/// dblink function.
///
/// ```rust,no_run
/// use std::io::Write;
///
/// let mut file = std::fs::File::create("/tmp/big_table.csv").expect("create the file");
/// pgdblink::copy_out_start(Some("a"), "copy big_table to stdout (format csv)")?;
/// while let Some(rows) = pgdblink::copy_out_read(Some("a"))? {
///     file.write_all(&rows).expect("write the file");
/// }
/// println!("{}", pgdblink::copy_out_end(Some("a"))?); // e.g. COPY 1000
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the data is returned once: unread data is lost"]
pub fn copy_out_read(name: Option<&str>) -> Result<Option<Vec<u8>>> {
    read(name, Owner::Caller)
}

/// Ends the COPY TO STDOUT begun by [`copy_out_start`] and returns its
/// command status, e.g. 'COPY 1000'. Data not read yet is read and
/// discarded (chunk by chunk: memory stays bounded). Not a dblink function.
///
/// Errors: 55000 when no COPY TO STDOUT is in progress; the remote error
/// that ended the COPY while its rest was discarded.
///
/// ```rust,no_run
/// pgdblink::copy_out_start(Some("a"), "copy (select 1) to stdout")?;
/// assert_eq!(pgdblink::copy_out_end(Some("a"))?, "COPY 1"); // the row is discarded
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the COPY's status, e.g. 'COPY 1000'"]
pub fn copy_out_end(name: Option<&str>) -> Result<String> {
    out_end(name, Owner::Caller)
}

/// Starts `sql`, a `COPY ... FROM STDIN` statement (one statement), on the
/// connection `name`; send its data with [`copy_in_write`], then finish (or
/// abort) it with [`copy_in_end`]. Until then every other call on the
/// connection fails with 55000, as after [`copy_out_start`]. [`copy_in`]
/// wraps the calls in a [`std::io::Write`]. Not a dblink function.
///
/// Errors: as [`copy_out_start`]'s (22023 for a statement that is not a
/// COPY FROM STDIN).
///
/// ```rust,no_run
/// pgdblink::copy_in_start(Some("a"), "copy items (id, label) from stdin")?;
/// pgdblink::copy_in_write(Some("a"), b"1\tone\n2\t\\N\n")?; // \N is NULL
/// assert_eq!(pgdblink::copy_in_end(Some("a"), None)?, "COPY 2");
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn copy_in_start(name: Option<&str>, sql: &str) -> Result<()> {
    start(name, sql, Dir::In, Owner::Caller)
}

/// Sends `data` to the COPY FROM STDIN begun by [`copy_in_start`]: any
/// split of the stream (rows need not be whole). Returns once libpq has
/// handed it to the socket, so memory stays bounded; waits as long as the
/// server takes to read it (woken by a disconnect or reset). The server's
/// verdict on the data (e.g. a malformed row) comes with [`copy_in_end`].
/// Not a dblink function.
///
/// Errors: 55000 when no COPY FROM STDIN is in progress; when the data
/// cannot be sent (the connection failed), the COPY is aborted (nothing of
/// it is committed) and the error (08006) returned.
///
/// ```rust,no_run
/// pgdblink::copy_in_start(Some("a"), "copy log (line) from stdin")?;
/// for i in 0..1_000_000 {
///     pgdblink::copy_in_write(Some("a"), format!("line {i}\n").as_bytes())?;
/// }
/// println!("{}", pgdblink::copy_in_end(Some("a"), None)?); // COPY 1000000
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn copy_in_write(name: Option<&str>, data: &[u8]) -> Result<()> {
    write(name, data, Owner::Caller)
}

/// Ends the COPY FROM STDIN begun by [`copy_in_start`]. `None` finishes it
/// and returns its command status (e.g. 'COPY 2'); `Some(reason)` aborts it
/// (`PQputCopyEnd` with that message: nothing is copied) and returns
/// 'ABORTED'. Either way the connection is usable afterwards. Not a dblink
/// function.
///
/// Errors: the server's verdict, e.g. 22P02 for a malformed row, with the
/// context `COPY items, line 2, column id: "x"` followed by `while ending
/// COPY on dblink connection named "a"`; 55000 when no COPY FROM STDIN is
/// in progress.
///
/// ```rust,no_run
/// pgdblink::copy_in_start(Some("a"), "copy items (id) from stdin")?;
/// pgdblink::copy_in_write(Some("a"), b"1\n")?;
/// // Changed our mind: nothing is copied.
/// assert_eq!(pgdblink::copy_in_end(Some("a"), Some("no longer needed"))?, "ABORTED");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the COPY's status, e.g. 'COPY 1000'"]
pub fn copy_in_end(name: Option<&str>, abort_reason: Option<&str>) -> Result<String> {
    in_end(name, abort_reason, Owner::Caller)
}

/// Adds `line` to an error's CONTEXT.
fn add_context(mut e: Error, line: &str) -> Error {
    e.context = Some(match e.context.take() {
        Some(c) => format!("{c}\n{line}"),
        None => line.to_owned(),
    });
    e
}

/// Pipes a COPY TO STDOUT on `src` (`copy_to_sql`) into a COPY FROM STDIN
/// on `dst` (`copy_from_sql`), chunk by chunk (memory stays bounded), and
/// returns the number of rows copied (the target's `COPY n`). Both
/// statements must use the same format (text, csv or binary). The two
/// connections are used one at a time (one session lock held at once), and
/// every other call on either fails with 55000 until it returns. Not a
/// dblink function.
///
/// An error on either side aborts the other cleanly: a failed source
/// (e.g. an error of the query being copied) aborts the target's COPY,
/// which commits nothing; a failed target ends the source's COPY (cancel,
/// then the rest is discarded). The error returned is the failed side's,
/// with its SQLSTATE, and its CONTEXT ends with `copy_between: the source
/// failed` or `copy_between: the target failed` (after the line naming the
/// connection). Both connections stay usable, unless the failure was a
/// broken connection.
///
/// ```rust,no_run
/// let rows = pgdblink::copy_between(
///     Some("prod"),
///     "copy (select * from orders where day = current_date) to stdout (format binary)",
///     Some("archive"),
///     "copy orders from stdin (format binary)",
/// )?;
/// println!("{rows} orders archived");
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn copy_between(
    src: Option<&str>,
    copy_to_sql: &str,
    dst: Option<&str>,
    copy_from_sql: &str,
) -> Result<u64> {
    if src == dst {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            "copy_between needs two different connections",
        ));
    }
    let source_failed = |e| add_context(e, "copy_between: the source failed");
    let target_failed = |e| add_context(e, "copy_between: the target failed");
    start(dst, copy_from_sql, Dir::In, Owner::Between).map_err(target_failed)?;
    if let Err(e) = start(src, copy_to_sql, Dir::Out, Owner::Between) {
        let _ = in_end(dst, Some("copy_between: the source failed"), Owner::Between);
        return Err(source_failed(e));
    }
    loop {
        match read(src, Owner::Between) {
            Ok(Some(data)) => {
                if let Err(e) = write(dst, &data, Owner::Between) {
                    stop_source(src);
                    // The failed write already aborted the target's COPY.
                    let _ = in_end(dst, Some("copy_between: the target failed"), Owner::Between);
                    return Err(target_failed(e));
                }
            }
            Ok(None) => break,
            Err(e) => {
                // The source's COPY is over (its error ended it).
                let reason = format!("copy_between: the source failed: {}", e.message);
                let _ = in_end(dst, Some(&reason), Owner::Between);
                return Err(source_failed(e));
            }
        }
    }
    if let Err(e) = out_end(src, Owner::Between) {
        let _ = in_end(dst, Some("copy_between: the source failed"), Owner::Between);
        return Err(source_failed(e));
    }
    let status = in_end(dst, None, Owner::Between).map_err(target_failed)?;
    Ok(status
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// Ends the source's COPY after the target failed: a cancel request, then
/// the rest is discarded (its error, 57014, ignored).
fn stop_source(src: Option<&str>) {
    let _ = super::cancel_query_timeout(src, std::time::Duration::from_secs(5));
    let _ = out_end(src, Owner::Between);
}

/// A COPY TO STDOUT as a [`std::io::Read`]: made by [`copy_out`], it reads
/// the data with [`copy_out_read`]; [`CopyOut::finish`] ends it with
/// [`copy_out_end`]. Dropping it unfinished ends the COPY too (the rest is
/// read and discarded).
///
/// ```rust,no_run
/// use std::io::Read;
///
/// let mut out = pgdblink::copy_out(Some("a"), "copy (select 'x') to stdout")?;
/// let mut text = String::new();
/// out.read_to_string(&mut text).expect("COPY data");
/// assert_eq!(text, "x\n");
/// assert_eq!(out.finish()?, "COPY 1");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[derive(Debug)]
pub struct CopyOut {
    name: Option<String>,
    chunk: Vec<u8>,
    pos: usize,
    ended: bool,
}

/// Starts a COPY TO STDOUT ([`copy_out_start`]) and returns it as a
/// [`CopyOut`] reader.
///
/// ```rust,no_run
/// use std::io::BufRead;
///
/// let out = pgdblink::copy_out(Some("a"), "copy (select g from generate_series(1, 3) g) to stdout")?;
/// let lines: Vec<String> = std::io::BufReader::new(out).lines().map(|l| l.expect("a line")).collect();
/// assert_eq!(lines, ["1", "2", "3"]);
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn copy_out(name: Option<&str>, sql: &str) -> Result<CopyOut> {
    copy_out_start(name, sql)?;
    Ok(CopyOut {
        name: name.map(str::to_owned),
        chunk: Vec::new(),
        pos: 0,
        ended: false,
    })
}

impl CopyOut {
    /// Ends the COPY ([`copy_out_end`]: unread data is discarded) and
    /// returns its status, e.g. 'COPY 3'.
    ///
    /// ```rust,no_run
    /// let out = pgdblink::copy_out(Some("a"), "copy (select 1) to stdout")?;
    /// assert_eq!(out.finish()?, "COPY 1");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn finish(mut self) -> Result<String> {
        self.ended = true;
        copy_out_end(self.name.as_deref())
    }
}

impl io::Read for CopyOut {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match copy_out_read(self.name.as_deref()) {
                Ok(Some(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(None) => return Ok(0),
                Err(e) => {
                    self.ended = true; // the error ended the COPY
                    return Err(io::Error::other(e));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for CopyOut {
    fn drop(&mut self) {
        if !self.ended {
            let _ = copy_out_end(self.name.as_deref());
        }
    }
}

/// A COPY FROM STDIN as a [`std::io::Write`]: made by [`copy_in`], it
/// sends with [`copy_in_write`]; [`CopyIn::finish`] or [`CopyIn::abort`]
/// end it. Dropping it unfinished aborts the COPY (nothing is copied).
/// An [`std::io::Error`] from it wraps the [`Error`] (get it back with
/// `into_inner` and `downcast`).
///
/// ```rust,no_run
/// use std::io::Write;
///
/// let mut w = pgdblink::copy_in(Some("a"), "copy items (id, label) from stdin (format csv)")?;
/// writeln!(w, "1,one").expect("send");
/// writeln!(w, "2,\"two, with a comma\"").expect("send");
/// assert_eq!(w.finish()?, "COPY 2");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[derive(Debug)]
pub struct CopyIn {
    name: Option<String>,
    ended: bool,
}

/// Starts a COPY FROM STDIN ([`copy_in_start`]) and returns it as a
/// [`CopyIn`] writer.
///
/// ```rust,no_run
/// let mut w = pgdblink::copy_in(Some("a"), "copy log (line) from stdin")?;
/// std::io::copy(&mut std::io::stdin(), &mut w).expect("stdin into the table");
/// println!("{}", w.finish()?);
/// # Ok::<(), pgdblink::Error>(())
/// ```
pub fn copy_in(name: Option<&str>, sql: &str) -> Result<CopyIn> {
    copy_in_start(name, sql)?;
    Ok(CopyIn {
        name: name.map(str::to_owned),
        ended: false,
    })
}

impl CopyIn {
    /// Finishes the COPY ([`copy_in_end`] with no reason) and returns its
    /// status, e.g. 'COPY 2', or the server's error.
    ///
    /// ```rust,no_run
    /// let w = pgdblink::copy_in(Some("a"), "copy items (id) from stdin")?;
    /// assert_eq!(w.finish()?, "COPY 0");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn finish(mut self) -> Result<String> {
        self.ended = true;
        copy_in_end(self.name.as_deref(), None)
    }

    /// Aborts the COPY with `reason` ([`copy_in_end`]): nothing is copied;
    /// 'ABORTED'.
    ///
    /// ```rust,no_run
    /// let w = pgdblink::copy_in(Some("a"), "copy items (id) from stdin")?;
    /// assert_eq!(w.abort("input was incomplete")?, "ABORTED");
    /// # Ok::<(), pgdblink::Error>(())
    /// ```
    pub fn abort(mut self, reason: &str) -> Result<String> {
        self.ended = true;
        copy_in_end(self.name.as_deref(), Some(reason))
    }
}

impl io::Write for CopyIn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        copy_in_write(self.name.as_deref(), buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // every write is handed to the socket before it returns
    }
}

impl Drop for CopyIn {
    fn drop(&mut self) {
        if !self.ended {
            let _ = copy_in_end(self.name.as_deref(), Some("the CopyIn writer was dropped"));
        }
    }
}
