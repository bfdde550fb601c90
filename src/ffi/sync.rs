//! C entry points of the synchronous functions and cursors.

use std::os::raw::{c_char, c_int};

use super::{cstr, guard, result::result_out, text_out};
use crate::api;
use crate::result::DblinkResult;

/// `dblink([conn_or_connstr,] sql [, fail_on_error])`: runs `sql` and
/// returns the rows of its last result set, or a command's status row.
/// `conn_or_connstr` NULL is the unnamed connection; a string that is not a
/// known connection name is used as a connection string (connect, run,
/// disconnect). With fail_on_error = 0 a remote error gives a
/// DBLINK_STATUS_ERROR result. NULL on ERROR. Free with `dblink_result_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink(
    conn_or_connstr: *const c_char,
    sql: *const c_char,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    guard(|| {
        let target = cstr::opt_arg(conn_or_connstr, "conn_or_connstr")?;
        result_out(api::dblink(
            target,
            cstr::arg(sql, "sql")?,
            fail_on_error != 0,
        ))
    })
}

/// `dblink_exec([conn_or_connstr,] sql [, fail_on_error])`: runs a command
/// and returns its status ('INSERT 0 1'), or 'ERROR' for a remote error with
/// fail_on_error = 0. NULL on ERROR (e.g. 2F003 `statement returning results
/// not allowed`). Free with `dblink_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_exec(
    conn_or_connstr: *const c_char,
    sql: *const c_char,
    fail_on_error: c_int,
) -> *mut c_char {
    guard(|| {
        let target = cstr::opt_arg(conn_or_connstr, "conn_or_connstr")?;
        text_out(api::exec(
            target,
            cstr::arg(sql, "sql")?,
            fail_on_error != 0,
        ))
    })
}

/// `dblink_open([connname,] cursorname, sql [, fail_on_error])`: declares a
/// cursor, beginning a remote transaction when the remote side is idle.
/// 'OK', or 'ERROR' for a remote error with fail_on_error = 0; NULL on
/// ERROR. Free with `dblink_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_open(
    connname: *const c_char,
    cursorname: *const c_char,
    sql: *const c_char,
    fail_on_error: c_int,
) -> *mut c_char {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let cursor = cstr::arg(cursorname, "cursorname")?;
        text_out(api::open(
            name,
            cursor,
            cstr::arg(sql, "sql")?,
            fail_on_error != 0,
        ))
    })
}

/// `dblink_fetch([connname,] cursorname, howmany [, fail_on_error])`: the
/// next `howmany` rows of the cursor; the empty set past the end. NULL on
/// ERROR. Free with `dblink_result_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_fetch(
    connname: *const c_char,
    cursorname: *const c_char,
    howmany: c_int,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let cursor = cstr::arg(cursorname, "cursorname")?;
        result_out(api::fetch(name, cursor, howmany, fail_on_error != 0))
    })
}

/// `dblink_close([connname,] cursorname [, fail_on_error])`: closes the
/// cursor, committing the transaction dblink began when it was the last
/// one. 'OK', or 'ERROR' for a remote error with fail_on_error = 0; NULL on
/// ERROR. Free with `dblink_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_close(
    connname: *const c_char,
    cursorname: *const c_char,
    fail_on_error: c_int,
) -> *mut c_char {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let cursor = cstr::arg(cursorname, "cursorname")?;
        text_out(api::close(name, cursor, fail_on_error != 0))
    })
}
