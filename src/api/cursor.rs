//! Cursors: dblink_open, dblink_fetch, dblink_close, with dblink's remote
//! transaction rules.

use crate::error::{Error, Result, sqlstate};
use crate::pq::{ResultKind, TxStatus};
use crate::registry::Session;
use crate::result::DblinkResult;

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
/// `fail_on_error` false.
pub fn open(
    name: Option<&str>,
    cursorname: &str,
    sql: &str,
    fail_on_error: bool,
) -> Result<String> {
    let declare = c_string(&format!("DECLARE {cursorname} CURSOR FOR {sql}"), "sql")?;
    with_session(name, |s| {
        let conn = conn_of(s, name)?;
        if conn.transaction_status() == TxStatus::Idle {
            let begun = conn.exec_last(c"BEGIN");
            if begun.as_ref().map(|r| r.kind()) != Some(ResultKind::Command) {
                return Err(internal_error("begin error", conn.error_message()));
            }
            s.new_xact_for_cursor = true;
            s.open_cursors = 0;
        }
        if s.new_xact_for_cursor {
            s.open_cursors += 1;
        }
        let conn = conn_of(s, name)?;
        let res = conn.exec_last(&declare);
        if res.as_ref().map(|r| r.kind()) == Some(ResultKind::Command) {
            return Ok("OK".to_owned());
        }
        let doing = format!("while opening cursor \"{cursorname}\"");
        let err = Error::remote(res.as_ref(), &conn.error_message(), name, &doing);
        remote_status(name, fail_on_error, err)
    })
}

/// `dblink_fetch([name,] cursorname, howmany [, fail_on_error])`: the next
/// `howmany` rows of the cursor (`FETCH howmany FROM cursorname`); past the
/// end, the empty set.
pub fn fetch(
    name: Option<&str>,
    cursorname: &str,
    howmany: i32,
    fail_on_error: bool,
) -> Result<DblinkResult> {
    let sql = c_string(&format!("FETCH {howmany} FROM {cursorname}"), "cursorname")?;
    let outcome = with_session(name, |s| {
        let conn = conn_of(s, name)?;
        let res = conn.exec_last(&sql);
        Ok(match res {
            Some(r) if r.kind() == ResultKind::Tuples => Ok(DblinkResult::from_remote(r)),
            Some(r) if r.kind() == ResultKind::Command => {
                return Err(Error::new(
                    sqlstate::INVALID_CURSOR_NAME,
                    format!("cursor \"{cursorname}\" does not exist"),
                ));
            }
            other => {
                let doing = format!("while fetching from cursor \"{cursorname}\"");
                Err(Error::remote(
                    other.as_ref(),
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
/// that transaction (a transaction the caller began is left alone).
pub fn close(name: Option<&str>, cursorname: &str, fail_on_error: bool) -> Result<String> {
    let sql = c_string(&format!("CLOSE {cursorname}"), "cursorname")?;
    with_session(name, |s| {
        let conn = conn_of(s, name)?;
        let res = conn.exec_last(&sql);
        if res.as_ref().map(|r| r.kind()) != Some(ResultKind::Command) {
            let doing = format!("while closing cursor \"{cursorname}\"");
            let err = Error::remote(res.as_ref(), &conn.error_message(), name, &doing);
            return remote_status(name, fail_on_error, err);
        }
        if s.new_xact_for_cursor {
            s.open_cursors = s.open_cursors.saturating_sub(1);
            if s.open_cursors == 0 {
                s.new_xact_for_cursor = false;
                let conn = conn_of(s, name)?;
                let committed = conn.exec_last(c"COMMIT");
                if committed.as_ref().map(|r| r.kind()) != Some(ResultKind::Command) {
                    return Err(internal_error("commit error", conn.error_message()));
                }
            }
        }
        Ok("OK".to_owned())
    })
}
