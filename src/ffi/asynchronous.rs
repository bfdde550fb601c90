//! C entry points of the async family.

use std::os::raw::{c_char, c_int};

use super::{bool_int, cstr, guard, result::result_out, text_out};
use crate::api;
use crate::result::DblinkResult;

/// `dblink_send_query(connname, sql)`: dispatches `sql` without waiting;
/// collect its results with `dblink_get_result` until DBLINK_STATUS_DONE.
/// Returns 1 when dispatched; 0 when not (e.g. the previous query is
/// unfinished: libpq's reason is in `dblink_error_message`, and the notice
/// handler gets dblink's NOTICE `could not send query: ...`); -1 on ERROR
/// (08003 for an unknown name, 22004 for a NULL `sql`).
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_send_query(connname: *const c_char, sql: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        bool_int(api::send_query(name, cstr::arg(sql, "sql")?))
    })
}

/// `dblink_is_busy(connname)`: consumes input, then 1 when
/// `dblink_get_result` would wait, 0 when not (a result, or the end of the
/// query, is ready); -1 on ERROR (08003). Does not wait on the network.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_is_busy(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { bool_int(api::is_busy(cstr::opt_arg(connname, "connname")?)) })
}

/// `dblink_get_result(connname, fail_on_error)`: waits for the next result
/// of the query in progress. Returns a result for every outcome that is not
/// an ERROR: rows (DBLINK_STATUS_TUPLES), a command's status row
/// (DBLINK_STATUS_COMMAND), the empty set that ends the query
/// (DBLINK_STATUS_DONE), or with fail_on_error = 0 a remote error as an
/// empty set (DBLINK_STATUS_ERROR). NULL only on ERROR (with fail_on_error
/// != 0: the remote SQLSTATE, message, detail, hint and context; 08003 for
/// an unknown name). Blocks until a result is ready (see
/// `dblink_get_result_timeout`, `dblink_wait_any`). Each result is handed
/// out once, to whichever thread asks next. The caller owns the result:
/// free it with `dblink_result_free`.
///
/// ```c
/// dblink_send_query("a", "select 1; select 2");
/// for (dblink_result *r; (r = dblink_get_result("a", 1)) != NULL; ) {
///     int done = dblink_result_status(r) == DBLINK_STATUS_DONE;
///     if (!done) printf("%s\n", dblink_result_getvalue(r, 0, 0));   // 1, then 2
///     dblink_result_free(r);
///     if (done) break;
/// }
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_get_result(
    connname: *const c_char,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        result_out(api::get_result(name, fail_on_error != 0))
    })
}

/// `dblink_cancel_query(connname)`: asks the server to cancel the query in
/// progress; 'OK' when the request was delivered, else the failure text
/// (e.g. `connection not open`). Safe to call from another thread while
/// `dblink_get_result` waits on the same connection (which then reports
/// 57014). Bounded by 30 s (see `dblink_cancel_query_timeout`). NULL on
/// ERROR (08003). The caller owns the string: free it with `dblink_free`.
///
/// ```c
/// char *answer = dblink_cancel_query("a");
/// if (answer && strcmp(answer, "OK") != 0) fprintf(stderr, "cancel: %s\n", answer);
/// dblink_free(answer);
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_cancel_query(connname: *const c_char) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { text_out(api::cancel_query(cstr::opt_arg(connname, "connname")?)) })
}

/// `dblink_error_message(connname)`: 'OK' when libpq has no error for the
/// connection, else its last message without the trailing newline (the
/// connection's, which another thread's call may have set). NULL on ERROR
/// (08003). The caller owns the string: free it with `dblink_free`.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_error_message(connname: *const c_char) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { text_out(api::error_message(cstr::opt_arg(connname, "connname")?)) })
}

/// `dblink_get_notify([connname])`: consumes input and drains the pending
/// notifications: a DBLINK_STATUS_TUPLES result with the columns
/// notify_name, be_pid, extra (one row each, possibly none; NULL
/// `connname` without an unnamed connection gives no rows, as in dblink).
/// NULL on ERROR (08003). The caller owns the result: free it with
/// `dblink_result_free`.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_get_notify(connname: *const c_char) -> *mut DblinkResult {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let notes = api::get_notify(cstr::opt_arg(connname, "connname")?)?;
        result_out(Ok(DblinkResult::from_notifications(&notes)))
    })
}
