//! C entry points of the async family.

use std::os::raw::{c_char, c_int};

use super::{bool_int, cstr, guard, result::result_out, text_out};
use crate::api;
use crate::result::DblinkResult;

/// `dblink_send_query(connname, sql)`: dispatches `sql` without waiting.
/// 1 when dispatched; 0 when not (another command is already in progress;
/// the reason is in `dblink_error_message`); -1 on ERROR (e.g. 08003).
#[unsafe(no_mangle)]
pub extern "C" fn dblink_send_query(connname: *const c_char, sql: *const c_char) -> c_int {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        bool_int(api::send_query(name, cstr::arg(sql, "sql")?))
    })
}

/// `dblink_is_busy(connname)`: consumes input, then 1 when
/// `dblink_get_result` would wait, 0 when not; -1 on ERROR.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_is_busy(connname: *const c_char) -> c_int {
    guard(|| bool_int(api::is_busy(cstr::opt_arg(connname, "connname")?)))
}

/// `dblink_get_result(connname, fail_on_error)`: waits for the next result
/// of the query in progress. Returns a result for every outcome that is not
/// an ERROR: rows (DBLINK_STATUS_TUPLES), a command's status row
/// (DBLINK_STATUS_COMMAND), the empty set that ends the query
/// (DBLINK_STATUS_DONE), or with fail_on_error = 0 a remote error as an
/// empty set (DBLINK_STATUS_ERROR). NULL only on ERROR (with fail_on_error
/// != 0: the remote SQLSTATE, message, detail, hint and context). Free the
/// result with `dblink_result_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_get_result(
    connname: *const c_char,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        result_out(api::get_result(name, fail_on_error != 0))
    })
}

/// `dblink_cancel_query(connname)`: asks the server to cancel the query in
/// progress; 'OK' when the request was delivered, else the failure text.
/// Safe to call from another thread while `dblink_get_result` waits on the
/// same connection. NULL on ERROR. Free with `dblink_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_cancel_query(connname: *const c_char) -> *mut c_char {
    guard(|| text_out(api::cancel_query(cstr::opt_arg(connname, "connname")?)))
}

/// `dblink_error_message(connname)`: 'OK' when libpq has no error for the
/// connection, else its last message without the trailing newline. NULL on
/// ERROR. Free with `dblink_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_error_message(connname: *const c_char) -> *mut c_char {
    guard(|| text_out(api::error_message(cstr::opt_arg(connname, "connname")?)))
}

/// `dblink_get_notify([connname])`: consumes input and drains the pending
/// notifications: columns notify_name, be_pid, extra (one row each). NULL on
/// ERROR. Free with `dblink_result_free`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_get_notify(connname: *const c_char) -> *mut DblinkResult {
    guard(|| {
        let notes = api::get_notify(cstr::opt_arg(connname, "connname")?)?;
        result_out(Ok(DblinkResult::from_notifications(&notes)))
    })
}
