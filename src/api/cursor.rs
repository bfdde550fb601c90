//! Cursors: dblink_open, dblink_fetch, dblink_close, with dblink's remote
//! transaction rules.

use crate::error::{Error, Result, sqlstate};
use crate::pq::{Last, ResultKind, TxStatus};
use crate::registry::Session;
use crate::result::DblinkResult;

use super::Who;
use super::asynchronous::remote_outcome;
use super::sync::remote_status;
use super::{c_string, chomp, with_session};

/// dblink's `dblink_res_internalerror`: "begin error: ..." / "commit error:
/// ...", XX000, with libpq's whole message in the text.
fn internal_error(what: &str, message: String) -> Error {
    Error::new(
        sqlstate::INTERNAL_ERROR,
        format!("{what}: {}", chomp(message)),
    )
}

fn conn_of<'s>(s: &'s mut Session, name: Option<&str>) -> Result<&'s mut crate::pq::Conn> {
    s.conn
        .as_mut()
        .ok_or_else(|| Error::conn_not_available(name))
}

/// `dblink_open([name,] cursorname, sql [, fail_on_error])`: declares a
/// cursor. When the remote side is idle it first begins a transaction that
/// dblink owns; every cursor opened in it is counted (even one whose DECLARE
/// fails). Returns "OK", or "ERROR" for a remote error with
/// `fail_on_error` false (after a NOTICE).
///
/// As in dblink, `cursorname` and `sql` are put into `DECLARE cursorname
/// CURSOR FOR sql` as they are: pass only trusted text (quote the cursor name
/// yourself if it needs quoting).
///
/// Errors: 08003 for an unknown name; XX000 `begin error: ...` when the
/// BEGIN fails; with `fail_on_error`, the remote error with dblink's context
/// line `while opening cursor "c" on dblink connection named "a"`.
///
/// ```rust,no_run
/// use pgdblink::Status;
///
/// assert_eq!(pgdblink::open(Some("a"), "c", "select id from orders order by id", true)?, "OK");
/// loop {
///     let batch = pgdblink::fetch(Some("a"), "c", 500, true)?;
///     if batch.ntuples() == 0 {
///         break; // past the end
///     }
///     for row in batch.rows() {
///         println!("{:?}", row[0]);
///     }
/// }
/// assert_eq!(pgdblink::close(Some("a"), "c", true)?, "OK"); // also commits dblink's transaction
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the answer (e.g. 'ERROR', or why a cancel failed)"]
pub fn open(
    name: Option<&str>,
    cursorname: &str,
    sql: &str,
    fail_on_error: bool,
) -> Result<String> {
    open_as(Who::Name(name), cursorname, sql, fail_on_error)
}

pub(crate) fn open_as(
    who: Who<'_>,
    cursorname: &str,
    sql: &str,
    fail_on_error: bool,
) -> Result<String> {
    let name = who.name();
    let declare = c_string(&format!("DECLARE {cursorname} CURSOR FOR {sql}"), "sql")?;
    with_session(who, |s, ctx| {
        let conn = conn_of(s, name)?;
        if conn.in_pipeline() {
            return Err(super::pipeline::refused_in_pipeline_for("dblink_open"));
        }
        if conn.transaction_status() == TxStatus::Idle {
            let begun = conn
                .exec_last(c"BEGIN", &|| ctx.interrupted())
                .map_err(|e| ctx.interrupted_error(e))?;
            if begun.result().map(|r| r.kind()) != Some(ResultKind::Command) {
                return Err(internal_error("begin error", conn.error_message()));
            }
            s.new_xact_for_cursor = true;
            s.open_cursors = 0;
        }
        if s.new_xact_for_cursor {
            s.open_cursors += 1;
        }
        let conn = conn_of(s, name)?;
        let res = conn
            .exec_last(&declare, &|| ctx.interrupted())
            .map_err(|e| ctx.interrupted_error(e))?;
        if res.result().map(|r| r.kind()) == Some(ResultKind::Command) {
            return Ok("OK".to_owned());
        }
        let doing = format!("while opening cursor \"{cursorname}\"");
        let err = Error::remote(res.result(), &conn.error_message(), name, &doing);
        remote_status(name, fail_on_error, err)
    })
}

/// `dblink_fetch([name,] cursorname, howmany [, fail_on_error])`: the next
/// `howmany` rows of the cursor (`FETCH howmany FROM cursorname`, the name
/// put in as it is) as a [`Status::Tuples`](crate::Status::Tuples) result;
/// past the end, zero rows.
///
/// Errors: 08003 for an unknown name; with `fail_on_error`, a remote error
/// (e.g. 34000 `cursor "c" does not exist`) with dblink's context line
/// `while fetching from cursor "c" on dblink connection named "a"`; without,
/// a [`Status::Error`](crate::Status::Error) result and a NOTICE.
///
/// ```rust,no_run
/// pgdblink::open(Some("a"), "c", "select generate_series(1, 10)", true)?;
/// let first = pgdblink::fetch(Some("a"), "c", 3, true)?;
/// assert_eq!(first.rows(), [[Some("1".to_owned())], [Some("2".to_owned())], [Some("3".to_owned())]]);
/// let rest = pgdblink::fetch(Some("a"), "c", 100, true)?;
/// assert_eq!(rest.ntuples(), 7);
/// assert_eq!(pgdblink::fetch(Some("a"), "c", 100, true)?.ntuples(), 0);
/// pgdblink::close(Some("a"), "c", true)?;
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the result holds the rows, or the remote error when fail_on_error is false"]
pub fn fetch(
    name: Option<&str>,
    cursorname: &str,
    howmany: i32,
    fail_on_error: bool,
) -> Result<DblinkResult> {
    fetch_as(Who::Name(name), cursorname, howmany, fail_on_error)
}

pub(crate) fn fetch_as(
    who: Who<'_>,
    cursorname: &str,
    howmany: i32,
    fail_on_error: bool,
) -> Result<DblinkResult> {
    let name = who.name();
    let sql = c_string(&format!("FETCH {howmany} FROM {cursorname}"), "cursorname")?;
    let outcome = with_session(who, |s, ctx| {
        let conn = conn_of(s, name)?;
        if conn.in_pipeline() {
            return Err(super::pipeline::refused_in_pipeline_for("dblink_fetch"));
        }
        let res = conn
            .exec_last(&sql, &|| ctx.interrupted())
            .map_err(|e| ctx.interrupted_error(e))?;
        Ok(match res {
            Last::Result(r) if r.kind() == ResultKind::Tuples => Ok(DblinkResult::from_remote(r)),
            Last::Result(r) if r.kind() == ResultKind::Command => {
                return Err(Error::new(
                    sqlstate::INVALID_CURSOR_NAME,
                    format!("cursor \"{cursorname}\" does not exist"),
                ));
            }
            Last::CopyRefused => Err(super::copy_refused()),
            other => {
                let doing = format!("while fetching from cursor \"{cursorname}\"");
                Err(Error::remote(
                    other.result(),
                    &conn.error_message(),
                    name,
                    &doing,
                ))
            }
        })
    })?;
    remote_outcome(name, fail_on_error, outcome)
}

/// `dblink_close([name,] cursorname [, fail_on_error])`: closes the cursor;
/// when it was the last one opened in the transaction dblink began, commits
/// that transaction (a transaction the caller began is left alone). Returns
/// "OK", or "ERROR" for a remote error with `fail_on_error` false (after a
/// NOTICE).
///
/// Errors: 08003 for an unknown name; XX000 `commit error: ...` when the
/// COMMIT fails; with `fail_on_error`, the remote error with dblink's context
/// line `while closing cursor "c" on dblink connection named "a"`.
///
/// ```rust,no_run
/// // In a transaction of your own, closing the cursor does not commit it.
/// pgdblink::exec(Some("a"), "begin", true)?;
/// pgdblink::open(Some("a"), "c", "select * from accounts for update", true)?;
/// let rows = pgdblink::fetch(Some("a"), "c", 10, true)?;
/// assert_eq!(pgdblink::close(Some("a"), "c", true)?, "OK");
/// pgdblink::exec(Some("a"), "commit", true)?;
///
/// // fail_on_error = false: an unknown cursor is 'ERROR' and a NOTICE.
/// assert_eq!(pgdblink::close(Some("a"), "nosuch", false)?, "ERROR");
/// # Ok::<(), pgdblink::Error>(())
/// ```
#[must_use = "the text is the answer (e.g. 'ERROR', or why a cancel failed)"]
pub fn close(name: Option<&str>, cursorname: &str, fail_on_error: bool) -> Result<String> {
    close_as(Who::Name(name), cursorname, fail_on_error)
}

pub(crate) fn close_as(who: Who<'_>, cursorname: &str, fail_on_error: bool) -> Result<String> {
    let name = who.name();
    let sql = c_string(&format!("CLOSE {cursorname}"), "cursorname")?;
    with_session(who, |s, ctx| {
        let conn = conn_of(s, name)?;
        if conn.in_pipeline() {
            return Err(super::pipeline::refused_in_pipeline_for("dblink_close"));
        }
        let res = conn
            .exec_last(&sql, &|| ctx.interrupted())
            .map_err(|e| ctx.interrupted_error(e))?;
        if res.result().map(|r| r.kind()) != Some(ResultKind::Command) {
            let doing = format!("while closing cursor \"{cursorname}\"");
            let err = Error::remote(res.result(), &conn.error_message(), name, &doing);
            return remote_status(name, fail_on_error, err);
        }
        if s.new_xact_for_cursor {
            s.open_cursors = s.open_cursors.saturating_sub(1);
            if s.open_cursors == 0 {
                s.new_xact_for_cursor = false;
                let conn = conn_of(s, name)?;
                let committed = conn
                    .exec_last(c"COMMIT", &|| ctx.interrupted())
                    .map_err(|e| ctx.interrupted_error(e))?;
                if committed.result().map(|r| r.kind()) != Some(ResultKind::Command) {
                    return Err(internal_error("commit error", conn.error_message()));
                }
            }
        }
        Ok("OK".to_owned())
    })
}
