//! The async family: dblink_send_query, dblink_is_busy, dblink_get_result,
//! dblink_cancel_query, dblink_error_message, dblink_get_notify.

use std::time::Duration;

use crate::error::{Error, Result, sqlstate};
use crate::notice;
use crate::pq::{Deadline, Fetched, ResultKind};
use crate::result::{DblinkResult, Notification};

use super::Who;
use super::{
    DEFAULT_CANCEL_TIMEOUT, c_params, c_string, chomp, copy_refused, send_on, timed_out,
    with_c_str, with_conn, with_session, with_session_until,
};

/// `dblink_send_query(name, sql)`: dispatches `sql` (one or more statements)
/// without waiting for it; collect the results with [`get_result`] until
/// [`Status::Done`](crate::Status::Done). `Ok(true)` (dblink's 1) when
/// dispatched; `Ok(false)` (0) when not, e.g. while the connection's
/// previous query is unfinished (its `Done` not yet read), with the NOTICE
/// `could not send query: ...` (SQLSTATE 00000) to the
/// [`crate::set_notice_handler`] handler and libpq's reason kept for
/// [`error_message`]. Unlike dblink in the server, `None` (the unnamed
/// connection) is accepted.
///
/// Errors: 08003 for an unknown name; 22023 for a NUL byte in `sql`.
///
/// ```rust,no_run
/// pgdblink::connect(Some("a"), "host=localhost dbname=postgres")?;
/// assert!(pgdblink::send_query(Some("a"), "select pg_sleep(1), 'slow'")?);
/// // The first query is unfinished: not sent, and a NOTICE says why.
/// assert!(!pgdblink::send_query(Some("a"), "select 2")?);
/// println!("{}", pgdblink::error_message(Some("a"))?); // "another command is already in progress"
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the answer (e.g. 0: the query was not sent) is in the bool"]
pub fn send_query(name: Option<&str>, sql: &str) -> Result<bool> {
    Ok(report_send(name, send_query_as(Who::Name(name), sql)?))
}

pub(crate) fn send_query_as(who: Who<'_>, sql: &str) -> Result<Sent> {
    let sent = with_c_str(sql, "sql", |sql| {
        with_session(who, |s, ctx| send_on(s, ctx, |conn| conn.send_query(sql)))
    })?;
    Ok(sent)
}

/// Like [`send_query`], with `$1`, `$2`, ... bound to `params` as text
/// (`None` is SQL NULL; the server infers the types, or use casts such as
/// `$1::int`). Nothing is spliced into the SQL text (`PQsendQueryParams`),
/// so values need no quoting; `sql` must be a single statement. Not a dblink
/// function.
///
/// ```rust,no_run
/// let name = "O'Brien"; // no quoting needed
/// pgdblink::send_query_params(
///     Some("a"),
///     "select id from customers where name = $1 and region = coalesce($2, region)",
///     &[Some(name), None],
/// )?;
/// let res = pgdblink::get_result(Some("a"), true)?;
/// for row in res.rows() {
///     println!("{:?}", row[0]);
/// }
/// while pgdblink::get_result(Some("a"), true)?.status() != pgdblink::Status::Done {}
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the answer (e.g. 0: the query was not sent) is in the bool"]
pub fn send_query_params(name: Option<&str>, sql: &str, params: &[Option<&str>]) -> Result<bool> {
    Ok(report_send(
        name,
        send_query_params_as(Who::Name(name), sql, params)?,
    ))
}

pub(crate) fn send_query_params_as(
    who: Who<'_>,
    sql: &str,
    params: &[Option<&str>],
) -> Result<Sent> {
    let params = c_params(params)?;
    with_c_str(sql, "sql", |sql| {
        with_session(who, |s, ctx| {
            send_on(s, ctx, |conn| conn.send_query_params(sql, &params))
        })
    })
}

/// Like [`send_query`], but the results stream: each [`get_result`] hands
/// back the next chunk of at most `max_rows` rows ([`crate::Status::Tuples`])
/// so that memory stays bounded whatever the result's size; an empty
/// `Tuples` result ends each result set, then [`crate::Status::Done`] ends the
/// query. Uses libpq 17's chunked-rows mode (`PQsetChunkedRowsMode`); with a
/// system libpq older than 17, single-row mode (chunks of one row).
/// `max_rows` 0 is taken as 1. Not a dblink function.
///
/// ```rust,no_run
/// use pgdblink::Status;
///
/// pgdblink::send_query_chunked(Some("a"), "select * from events", 10_000)?;
/// let mut total = 0;
/// loop {
///     let chunk = pgdblink::get_result(Some("a"), true)?;
///     match chunk.status() {
///         Status::Tuples => total += chunk.ntuples(), // at most 10 000 rows in memory
///         Status::Done => break,
///         _ => {}
///     }
/// }
/// println!("{total} events");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the answer (e.g. 0: the query was not sent) is in the bool"]
pub fn send_query_chunked(name: Option<&str>, sql: &str, max_rows: usize) -> Result<bool> {
    Ok(report_send(
        name,
        send_query_chunked_as(Who::Name(name), sql, max_rows)?,
    ))
}

pub(crate) fn send_query_chunked_as(who: Who<'_>, sql: &str, max_rows: usize) -> Result<Sent> {
    let sql = c_string(sql, "sql")?;
    let chunk = std::os::raw::c_int::try_from(max_rows.max(1)).unwrap_or(std::os::raw::c_int::MAX);
    let mut streaming = Ok(());
    let sent = with_session(who, |s, ctx| {
        send_on(s, ctx, |conn| {
            if !conn.send_query(&sql) {
                return false;
            }
            if !set_streaming(conn, chunk) {
                streaming = Err(Error::new(
                    sqlstate::INTERNAL_ERROR,
                    format!(
                        "failed to set chunked-rows mode: {}",
                        chomp(conn.error_message())
                    ),
                ));
            }
            true
        })
    })?;
    streaming?;
    Ok(sent)
}

#[cfg(not(pgdblink_libpq_pre17))]
fn set_streaming(conn: &mut crate::pq::Conn, chunk: std::os::raw::c_int) -> bool {
    conn.set_chunked_rows_mode(chunk)
}

#[cfg(pgdblink_libpq_pre17)]
fn set_streaming(conn: &mut crate::pq::Conn, _chunk: std::os::raw::c_int) -> bool {
    conn.set_single_row_mode()
}

/// A send's outcome: `Err` holds libpq's reason when it was not sent.
pub(crate) type Sent = std::result::Result<(), String>;

/// Turns a send's outcome into dblink's 1/0, raising its NOTICE on 0.
fn report_send(name: Option<&str>, sent: Sent) -> bool {
    match sent {
        Ok(()) => true,
        Err(msg) => {
            let text = format!("could not send query: {}", chomp(msg));
            notice::emit(name, &Error::new("00000", text));
            false
        }
    }
}

/// `dblink_is_busy(name)`: consumes input, then whether [`get_result`] would
/// wait (`true`, dblink's 1) or not (`false`, 0: a result, or the end of the
/// query, is ready). Never blocks on the network, though it waits for a
/// call in progress on the same connection in another thread.
///
/// Errors: 08003 for an unknown name.
///
/// ```rust,no_run
/// pgdblink::send_query(Some("a"), "select count(*) from big_table")?;
/// while pgdblink::is_busy(Some("a"))? {
///     // do other work in the meantime
///     std::thread::sleep(std::time::Duration::from_millis(10));
/// }
/// let count = pgdblink::get_result(Some("a"), true)?; // does not block now
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the answer (e.g. 0: the query was not sent) is in the bool"]
pub fn is_busy(name: Option<&str>) -> Result<bool> {
    is_busy_as(Who::Name(name))
}

pub(crate) fn is_busy_as(who: Who<'_>) -> Result<bool> {
    with_conn(who, |conn, _| {
        conn.consume_input();
        Ok(conn.is_busy_unbuffered())
    })
}

/// `dblink_get_result(name, fail_on_error)`: waits for the next result of
/// the query in progress: a query's rows ([`crate::Status::Tuples`]), a
/// command's status row ([`crate::Status::Command`]), or the empty set
/// ([`crate::Status::Done`]) once the query is finished (at once when no
/// query is in progress). A query of several statements gives one result per
/// statement, then `Done`. Read up to `Done` before sending the next query
/// on the connection.
///
/// A remote error: with `fail_on_error`, `Err` with the remote SQLSTATE,
/// message, detail, hint and dblink's context line (`while executing query
/// on dblink connection named "a"`); without, a [`crate::Status::Error`]
/// result (an empty set holding the error) and a NOTICE. Either way, `Done`
/// follows. A cancelled query is the remote error 57014; a broken
/// connection is reported the same way, as 08006 with libpq's message.
///
/// Errors also: 08003 for an unknown name.
///
/// ```rust,no_run
/// use pgdblink::Status;
///
/// pgdblink::send_query(Some("a"), "create temp table t(x int); select 1 as one")?;
/// let created = pgdblink::get_result(Some("a"), true)?;
/// assert_eq!(created.status(), Status::Command);
/// assert_eq!(created.get(0, 0), Some("CREATE TABLE"));
/// let rows = pgdblink::get_result(Some("a"), true)?;
/// assert_eq!((rows.status(), rows.get(0, 0)), (Status::Tuples, Some("1")));
/// assert_eq!(pgdblink::get_result(Some("a"), true)?.status(), Status::Done);
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
pub fn get_result(name: Option<&str>, fail_on_error: bool) -> Result<DblinkResult> {
    get_result_within_as(Who::Name(name), fail_on_error, None)
}

/// [`get_result`] that gives up after `timeout` with `Err` 57014 `timed out
/// after N ms waiting for a result` (whatever `fail_on_error` says); the
/// query keeps running and a later call can still collect its results (or
/// [`cancel_query`] stops it). Not a dblink function.
///
/// ```rust,no_run
/// use std::time::Duration;
///
/// pgdblink::send_query(Some("a"), "select pg_sleep(30)")?;
/// match pgdblink::get_result_timeout(Some("a"), true, Duration::from_secs(2)) {
///     Ok(res) => println!("{:?}", res.status()),
///     Err(e) if e.sqlstate == pgdblink::sqlstate::QUERY_CANCELED => {
///         // Still running: stop it. The next get_result is then Err 57014
///         // `canceling statement due to user request`, then Done.
///         pgdblink::cancel_query(Some("a"))?;
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
pub fn get_result_timeout(
    name: Option<&str>,
    fail_on_error: bool,
    timeout: Duration,
) -> Result<DblinkResult> {
    get_result_within_as(Who::Name(name), fail_on_error, Some(timeout))
}

pub(crate) fn get_result_within_as(
    who: Who<'_>,
    fail_on_error: bool,
    timeout: Option<Duration>,
) -> Result<DblinkResult> {
    let name = who.name();
    let deadline: Deadline = crate::pq::deadline_after(timeout);
    let late = || timed_out("waiting for a result", timeout);
    let outcome = with_session_until(who, deadline, late, |s, ctx| {
        let conn = s
            .conn
            .as_mut()
            .ok_or_else(|| Error::conn_not_available(name))?;
        let fetched = conn
            .next_result(deadline, &|| ctx.interrupted())
            .map_err(|stop| ctx.stopped(stop, late))?;
        Ok(match fetched {
            Fetched::Done => Ok(DblinkResult::done()),
            Fetched::CopyRefused => Err(copy_refused()),
            Fetched::Result(r) if r.kind() != ResultKind::Other => Ok(DblinkResult::from_remote(r)),
            Fetched::Result(r) if r.pipeline_mark().is_some() => {
                Ok(super::pipeline::mark_result(&r))
            }
            Fetched::Result(r) => Err(Error::remote(
                Some(&r),
                &conn.error_message(),
                name,
                "while executing query",
            )),
        })
    })?;
    remote_outcome(name, fail_on_error, outcome)
}

/// dblink's handling of a remote error: raise it, or (fail_on_error false)
/// report it as a NOTICE and return the empty set.
pub(crate) fn remote_outcome(
    name: Option<&str>,
    fail_on_error: bool,
    outcome: std::result::Result<DblinkResult, Error>,
) -> Result<DblinkResult> {
    match outcome {
        Ok(r) => Ok(r),
        Err(e) if fail_on_error => Err(e),
        Err(e) => {
            notice::emit(name, &e);
            Ok(DblinkResult::remote_error(e))
        }
    }
}

/// `dblink_cancel_query(name)`: asks the server to cancel the query in
/// progress. `Ok("OK")` when the request was delivered, else `Ok` with the
/// failure text (as dblink returns it, e.g. `connection not open`). Does not
/// wait for a reader of the connection: it can be called while another
/// thread is in [`get_result`], which then gets the remote error 57014
/// `canceling statement due to user request`. A request that arrives after
/// the query finished is ignored by the server, or may cancel the next query
/// on that connection. The request is bounded by
/// [`DEFAULT_CANCEL_TIMEOUT`] (its text is then `cancel request timed out`).
///
/// Errors: 08003 for an unknown name, or one whose [`connect_start`] has
/// not finished.
///
/// [`connect_start`]: crate::connect_start
///
/// ```rust,no_run
/// pgdblink::send_query(Some("a"), "select pg_sleep(600)")?;
/// let reader = std::thread::spawn(|| pgdblink::get_result(Some("a"), true).map(|r| r.status()));
/// let answer = pgdblink::cancel_query(Some("a"))?;
/// if answer != "OK" {
///     eprintln!("could not cancel: {answer}");
/// }
/// let err = reader.join().expect("reader thread").unwrap_err();
/// assert_eq!(err.sqlstate, pgdblink::sqlstate::QUERY_CANCELED);
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the answer (e.g. 'ERROR', or why a cancel failed)"]
pub fn cancel_query(name: Option<&str>) -> Result<String> {
    cancel_query_timeout(name, DEFAULT_CANCEL_TIMEOUT)
}

/// [`cancel_query`] with its own bound on how long the request may take
/// (connecting to the server and delivering it); past it the text is
/// `cancel request timed out`. Not a dblink function.
///
/// ```rust,no_run
/// use std::time::Duration;
///
/// let answer = pgdblink::cancel_query_timeout(Some("a"), Duration::from_secs(2))?;
/// match answer.as_str() {
///     "OK" => {}
///     "cancel request timed out" => eprintln!("server unreachable; try reset()"),
///     other => eprintln!("cancel failed: {other}"),
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the answer (e.g. 'ERROR', or why a cancel failed)"]
pub fn cancel_query_timeout(name: Option<&str>, timeout: Duration) -> Result<String> {
    cancel_query_timeout_as(Who::Name(name), timeout)
}

pub(crate) fn cancel_query_timeout_as(who: Who<'_>, timeout: Duration) -> Result<String> {
    let name = who.name();
    let deadline = crate::pq::deadline_after(Some(timeout));
    let entry = who.entry()?;
    if entry.is_connecting() {
        return Err(super::still_connecting(name));
    }
    if entry.is_closed() {
        return Err(Error::conn_not_available(name));
    }
    if !entry.socket_open() {
        // What libpq 17's PQcancelCreate, and so dblink 17, reports for a
        // connection whose socket libpq has closed.
        return Ok("connection not open".to_owned());
    }
    // No handle: libpq had no memory for one.
    let Some(handle) = entry.cancel_handle() else {
        return Ok("out of memory".to_owned());
    };
    drop(entry);
    // Another thread's cancel on this connection: wait for it only until
    // our own deadline.
    let locked = match deadline {
        None => Some(handle.lock()),
        Some(d) => handle.try_lock_until(d),
    };
    let Some(mut canceller) = locked else {
        return Ok("cancel request timed out".to_owned());
    };
    Ok(match canceller.cancel(deadline) {
        Ok(()) => "OK".to_owned(),
        Err(msg) => msg,
    })
}

/// `dblink_error_message(name)`: libpq's last error message for the
/// connection (`PQerrorMessage`) without its trailing newline, or "OK" when
/// there is none. It is the connection's, not the caller's: another
/// thread's call on the same name may have set it.
///
/// Errors: 08003 for an unknown name.
///
/// ```rust,no_run
/// if !pgdblink::send_query(Some("a"), "select 1")? {
///     eprintln!("not sent: {}", pgdblink::error_message(Some("a"))?);
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the answer (e.g. 'ERROR', or why a cancel failed)"]
pub fn error_message(name: Option<&str>) -> Result<String> {
    error_message_as(Who::Name(name))
}

pub(crate) fn error_message_as(who: Who<'_>) -> Result<String> {
    with_conn(who, |conn, _| {
        let msg = chomp(conn.error_message());
        Ok(if msg.is_empty() { "OK".to_owned() } else { msg })
    })
}

/// `dblink_get_notify([name])`: consumes input, then drains the pending
/// notifications (of `LISTEN`ed channels), oldest first; each is returned
/// once. With `None` and no unnamed connection, dblink returns the empty
/// set, and so does this.
///
/// Errors: 08003 for an unknown name.
///
/// ```rust,no_run
/// pgdblink::exec(Some("a"), "listen jobs", true)?;
/// // ... another session runs: notify jobs, 'job 42'
/// for n in pgdblink::get_notify(Some("a"))? {
///     println!("{} from pid {}: {}", n.notify_name, n.be_pid, n.extra);
/// }
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the notifications are drained: unread ones are lost"]
pub fn get_notify(name: Option<&str>) -> Result<Vec<Notification>> {
    get_notify_as(Who::Name(name))
}

pub(crate) fn get_notify_as(who: Who<'_>) -> Result<Vec<Notification>> {
    let name = who.name();
    let drained = with_conn(who, |conn, _| {
        conn.consume_input_all();
        Ok(std::iter::from_fn(|| conn.notifies()).collect::<Vec<_>>())
    });
    let drained = match drained {
        Err(e) if name.is_none() && e.sqlstate == sqlstate::CONNECTION_DOES_NOT_EXIST => Vec::new(),
        other => other?,
    };
    Ok(drained
        .into_iter()
        .map(|n| Notification {
            notify_name: n.channel,
            be_pid: n.be_pid,
            extra: n.extra,
        })
        .collect())
}
