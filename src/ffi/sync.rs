//! C entry points of the synchronous functions and cursors.

use std::os::raw::{c_char, c_int};

use super::{cstr, guard, result::result_out, text_out};
use crate::api;
use crate::result::DblinkResult;

/// `dblink([conn_or_connstr,] sql [, fail_on_error])`: runs `sql` and
/// returns the rows of its last result set, or a command's status row.
/// `conn_or_connstr` NULL is the unnamed connection; a string that is not a
/// known connection name is used as a connection string (connect, run,
/// disconnect). Rows give a DBLINK_STATUS_TUPLES result, a command a
/// DBLINK_STATUS_COMMAND one; with fail_on_error = 0 a remote error gives a
/// DBLINK_STATUS_ERROR result (and a NOTICE). NULL on ERROR: a remote error
/// with fail_on_error != 0, 08003, 08001 for an unusable connection string,
/// XX000 `could not send query: ...` while an async query is in progress.
/// Blocks until the query finishes. The caller owns the result: free it
/// with `dblink_result_free`.
///
/// ```c
/// dblink_result *r = dblink("a", "select id, name from users order by id", 1);
/// if (r == NULL) { fprintf(stderr, "%s\n", dblink_last_error()); return; }
/// for (int i = 0; i < dblink_result_ntuples(r); i++)
///     printf("%s %s\n", dblink_result_getvalue(r, i, 0),
///            dblink_result_getisnull(r, i, 1) ? "(null)" : dblink_result_getvalue(r, i, 1));
/// dblink_result_free(r);
/// ```
///
/// # Safety
///
/// - `conn_or_connstr` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink(
    conn_or_connstr: *const c_char,
    sql: *const c_char,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
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
/// fail_on_error = 0 (after a NOTICE). `conn_or_connstr` as for `dblink`.
/// NULL on ERROR (a remote error with fail_on_error != 0; 2F003 `statement
/// returning results not allowed` for a query, whatever fail_on_error
/// says). The caller owns the string: free it with `dblink_free`.
///
/// ```c
/// char *status = dblink_exec("a", "insert into log(msg) values ('hi')", 1);
/// if (status) printf("%s\n", status);   // INSERT 0 1
/// dblink_free(status);
/// ```
///
/// # Safety
///
/// - `conn_or_connstr` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_exec(
    conn_or_connstr: *const c_char,
    sql: *const c_char,
    fail_on_error: c_int,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let target = cstr::opt_arg(conn_or_connstr, "conn_or_connstr")?;
        text_out(api::exec(
            target,
            cstr::arg(sql, "sql")?,
            fail_on_error != 0,
        ))
    })
}

/// `dblink_open([connname,] cursorname, sql [, fail_on_error])`: declares a
/// cursor (`DECLARE cursorname CURSOR FOR sql`, both put in as they are),
/// beginning a remote transaction when the remote side is idle (committed
/// by the `dblink_close` of its last cursor). 'OK', or 'ERROR' for a remote
/// error with fail_on_error = 0; NULL on ERROR (08003, XX000 `begin error:
/// ...`, a remote error with fail_on_error != 0). The caller owns the
/// string: free it with `dblink_free`.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `cursorname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `sql` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_open(
    connname: *const c_char,
    cursorname: *const c_char,
    sql: *const c_char,
    fail_on_error: c_int,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
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
/// next `howmany` rows of the cursor as a DBLINK_STATUS_TUPLES result; zero
/// rows past the end. With fail_on_error = 0 a remote error gives a
/// DBLINK_STATUS_ERROR result. NULL on ERROR. The caller owns the result:
/// free it with `dblink_result_free`.
///
/// ```c
/// dblink_free(dblink_open("a", "c", "select id from orders", 1));   // "OK"
/// for (;;) {
///     dblink_result *r = dblink_fetch("a", "c", 500, 1);
///     int n = r ? dblink_result_ntuples(r) : 0;
///     // ... n rows ...
///     dblink_result_free(r);
///     if (n == 0) break;
/// }
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `cursorname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_fetch(
    connname: *const c_char,
    cursorname: *const c_char,
    howmany: c_int,
    fail_on_error: c_int,
) -> *mut DblinkResult {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let cursor = cstr::arg(cursorname, "cursorname")?;
        result_out(api::fetch(name, cursor, howmany, fail_on_error != 0))
    })
}

/// `dblink_close([connname,] cursorname [, fail_on_error])`: closes the
/// cursor, committing the transaction `dblink_open` began when it was the
/// last one. 'OK', or 'ERROR' for a remote error with fail_on_error = 0;
/// NULL on ERROR (08003, XX000 `commit error: ...`, a remote error with
/// fail_on_error != 0). The caller owns the string: free it with
/// `dblink_free`.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `cursorname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_close(
    connname: *const c_char,
    cursorname: *const c_char,
    fail_on_error: c_int,
) -> *mut c_char {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let cursor = cstr::arg(cursorname, "cursorname")?;
        text_out(api::close(name, cursor, fail_on_error != 0))
    })
}
