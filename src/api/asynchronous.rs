//! The async family: dblink_send_query, dblink_is_busy, dblink_get_result,
//! dblink_cancel_query, dblink_error_message, dblink_get_notify.

use std::time::Duration;

use crate::error::{Error, Result, sqlstate};
use crate::notice;
use crate::pq::{Deadline, ResultKind};
use crate::registry;
use crate::result::{DblinkResult, Notification};

use super::{DEFAULT_CANCEL_TIMEOUT, c_string, chomp, timed_out, with_conn};

/// `dblink_send_query(name, sql)`: dispatches `sql` without waiting.
/// `Ok(true)` when dispatched; `Ok(false)` when not (e.g. another command is
/// already in progress), with the NOTICE `could not send query: ...` and the
/// reason kept for [`error_message`].
pub fn send_query(name: Option<&str>, sql: &str) -> Result<bool> {
    let sql = c_string(sql, "sql")?;
    let sent = with_conn(name, |conn| {
        Ok(conn
            .send_query(&sql)
            .then_some(())
            .ok_or_else(|| conn.error_message()))
    })?;
    Ok(report_send(name, sent))
}

/// Like [`send_query`], with `$1`, `$2`, ... bound to `params` as text
/// (`None` is SQL NULL; the server infers the types). Nothing is spliced into
/// the SQL text.
pub fn send_query_params(name: Option<&str>, sql: &str, params: &[Option<&str>]) -> Result<bool> {
    let sql = c_string(sql, "sql")?;
    let owned = params
        .iter()
        .map(|p| p.map(|s| c_string(s, "parameter")).transpose())
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<_> = owned.iter().map(|p| p.as_deref()).collect();
    let sent = with_conn(name, |conn| {
        Ok(conn
            .send_query_params(&sql, &refs)
            .then_some(())
            .ok_or_else(|| conn.error_message()))
    })?;
    Ok(report_send(name, sent))
}

/// Like [`send_query`], but the results stream: each [`get_result`] hands
/// back the next chunk of at most `max_rows` rows ([`crate::Status::Tuples`])
/// so that memory stays bounded whatever the result's size; an empty
/// `Tuples` result ends each result set, then [`crate::Status::Done`] ends the
/// query. Uses libpq 17's chunked-rows mode (`PQsetChunkedRowsMode`); with a
/// system libpq older than 17, single-row mode (chunks of one row).
pub fn send_query_chunked(name: Option<&str>, sql: &str, max_rows: usize) -> Result<bool> {
    let sql = c_string(sql, "sql")?;
    let chunk = std::os::raw::c_int::try_from(max_rows.max(1)).unwrap_or(std::os::raw::c_int::MAX);
    let sent = with_conn(name, |conn| {
        if !conn.send_query(&sql) {
            return Ok(Err(conn.error_message()));
        }
        if !set_streaming(conn, chunk) {
            return Err(Error::new(
                sqlstate::INTERNAL_ERROR,
                format!(
                    "failed to set chunked-rows mode: {}",
                    chomp(conn.error_message())
                ),
            ));
        }
        Ok(Ok(()))
    })?;
    Ok(report_send(name, sent))
}

#[cfg(not(pgdblink_libpq_pre17))]
fn set_streaming(conn: &mut crate::pq::Conn, chunk: std::os::raw::c_int) -> bool {
    conn.set_chunked_rows_mode(chunk)
}

#[cfg(pgdblink_libpq_pre17)]
fn set_streaming(conn: &mut crate::pq::Conn, _chunk: std::os::raw::c_int) -> bool {
    conn.set_single_row_mode()
}

/// Turns a send's outcome into dblink's 1/0, raising its NOTICE on 0.
fn report_send(name: Option<&str>, sent: std::result::Result<(), String>) -> bool {
    match sent {
        Ok(()) => true,
        Err(msg) => {
            let text = format!("could not send query: {}", chomp(msg));
            notice::emit(name, &Error::new("00000", text));
            false
        }
    }
}

/// `dblink_is_busy(name)`: consumes input, then whether `get_result` would
/// wait.
pub fn is_busy(name: Option<&str>) -> Result<bool> {
    with_conn(name, |conn| {
        conn.consume_input();
        Ok(conn.is_busy())
    })
}

/// `dblink_get_result(name, fail_on_error)`: waits for the next result of
/// the query in progress: a query's rows, a command's status row, or the
/// empty set ([`crate::Status::Done`]) once the query is finished.
///
/// A remote error: with `fail_on_error`, `Err` with the remote SQLSTATE,
/// message, detail, hint and dblink's context line; without, a
/// [`crate::Status::Error`] result (an empty set) and a NOTICE.
pub fn get_result(name: Option<&str>, fail_on_error: bool) -> Result<DblinkResult> {
    get_result_within(name, fail_on_error, None)
}

/// [`get_result`] that gives up after `timeout` (57014 `timed out ...`); the
/// query keeps running and a later call can still collect its results.
pub fn get_result_timeout(
    name: Option<&str>,
    fail_on_error: bool,
    timeout: Duration,
) -> Result<DblinkResult> {
    get_result_within(name, fail_on_error, Some(timeout))
}

fn get_result_within(
    name: Option<&str>,
    fail_on_error: bool,
    timeout: Option<Duration>,
) -> Result<DblinkResult> {
    let deadline: Deadline = crate::pq::deadline_after(timeout);
    let outcome = with_conn(name, |conn| {
        let res = conn
            .next_result(deadline)
            .map_err(|()| timed_out("waiting for a result", timeout))?;
        Ok(match res {
            None => Ok(DblinkResult::done()),
            Some(r) if r.kind() != ResultKind::Other => Ok(DblinkResult::from_remote(r)),
            Some(r) => Err(Error::remote(
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
/// failure text (as dblink returns it). Does not wait for a reader of the
/// connection: it can be called while another thread is in [`get_result`].
/// The request is bounded by [`DEFAULT_CANCEL_TIMEOUT`].
pub fn cancel_query(name: Option<&str>) -> Result<String> {
    cancel_query_timeout(name, DEFAULT_CANCEL_TIMEOUT)
}

/// [`cancel_query`] with its own bound on how long the request may take;
/// past it the text is `cancel request timed out`.
pub fn cancel_query_timeout(name: Option<&str>, timeout: Duration) -> Result<String> {
    let entry = registry::lookup(name)?;
    if !entry.socket_open() {
        // What libpq 17's PQcancelCreate, and so dblink 17, reports for a
        // connection whose socket libpq has closed.
        return Ok("connection not open".to_owned());
    }
    let mut cancel = entry.lock_cancel();
    let Some(canceller) = cancel.as_mut() else {
        // No handle: the connect has not finished, or libpq had no memory.
        if entry.lock().connecting {
            return Err(super::still_connecting(name));
        }
        return Ok("out of memory".to_owned());
    };
    Ok(
        match canceller.cancel(crate::pq::deadline_after(Some(timeout))) {
            Ok(()) => "OK".to_owned(),
            Err(msg) => msg,
        },
    )
}

/// `dblink_error_message(name)`: libpq's last error message for the
/// connection without its trailing newline, or "OK" when there is none.
pub fn error_message(name: Option<&str>) -> Result<String> {
    with_conn(name, |conn| {
        let msg = chomp(conn.error_message());
        Ok(if msg.is_empty() { "OK".to_owned() } else { msg })
    })
}

/// `dblink_get_notify([name])`: consumes input, then drains the pending
/// notifications. With `None` and no unnamed connection, dblink returns the
/// empty set, and so does this.
pub fn get_notify(name: Option<&str>) -> Result<Vec<Notification>> {
    let drained = with_conn(name, |conn| {
        conn.consume_input();
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
