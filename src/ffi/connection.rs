//! C entry points: dblink_connect, dblink_connect_u, dblink_disconnect,
//! dblink_get_connections, and the string frees.

use std::os::raw::{c_char, c_int};

use super::{cstr, guard, guard_quiet, ok_int};
use crate::api;

/// `dblink_connect([connname,] connstr)`: opens a connection under
/// `connname` (NULL: the unnamed connection, replacing and closing any
/// previous one). `connstr` is a libpq connection string or URI. Blocks
/// while connecting. A name longer than 63 bytes is truncated, as dblink
/// does, with a NOTICE (42622).
///
/// Returns 1 for 'OK'; -1 on ERROR (see `dblink_last_error`): 08001 `could
/// not establish connection` (detail: libpq's message), 42710 `duplicate
/// connection name`, 22004 when `connstr` is NULL.
///
/// ```c
/// if (dblink_connect("a", "host=localhost dbname=postgres") != 1)
///     fprintf(stderr, "%s: %s\n", dblink_last_error(), dblink_last_detail());
/// ```
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `connstr` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_connect(connname: *const c_char, connstr: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let connstr = cstr::arg(connstr, "connstr")?;
        ok_int(api::connect(name, connstr))
    })
}

/// `dblink_connect_u([connname,] connstr)`: the same as `dblink_connect`
/// outside the server (in the server, it lets non-superusers connect with
/// any authentication method).
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
/// - `connstr` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_connect_u(
    connname: *const c_char,
    connstr: *const c_char,
) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe {
        let name = cstr::opt_arg(connname, "connname")?;
        let connstr = cstr::arg(connstr, "connstr")?;
        ok_int(api::connect_u(name, connstr))
    })
}

/// `dblink_disconnect([connname])`: closes the connection (NULL: the unnamed
/// one). The name is released at once; the call then waits for a call in
/// progress on the same connection in another thread, and closes it.
/// Returns 1 for 'OK'; -1 on ERROR 08003 `connection "a" not available` /
/// `connection not available`.
///
/// # Safety
///
/// - `connname` is NULL or points to a NUL-terminated string that stays valid and unchanged during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_disconnect(connname: *const c_char) -> c_int {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard(|| unsafe { ok_int(api::disconnect(cstr::opt_arg(connname, "connname")?)) })
}

/// Closes every connection, named and unnamed. For hosts shutting down
/// (e.g. from an atexit handler); not a dblink function. Never fails, so
/// never touches the thread's last error.
///
/// ```c
/// static void close_all(void) { dblink_disconnect_all(); }
/// // in main: atexit(close_all);
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn dblink_disconnect_all() {
    guard_quiet(|| {
        api::disconnect_all();
        Ok(())
    })
}

/// `dblink_get_connections()`: a NULL-terminated array of the open named
/// connections' names (sorted), or NULL when there are none (dblink returns
/// NULL; `dblink_last_error()` is then NULL too). The unnamed connection is
/// not listed. A snapshot: other threads may connect or disconnect meanwhile.
/// The caller owns the array: free it with `dblink_free_strings`.
///
/// ```c
/// char **names = dblink_get_connections();
/// for (char **n = names; n && *n; n++)
///     printf("%s\n", *n);
/// dblink_free_strings(names);
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn dblink_get_connections() -> *mut *mut c_char {
    guard(|| match api::get_connections() {
        Some(names) => cstr::to_c_strings(&names),
        None => Ok(std::ptr::null_mut()),
    })
}

/// Frees a `char *` returned by pgdblink (`dblink_cancel_query`,
/// `dblink_error_message`, `dblink_exec`, `dblink_open`, `dblink_close`,
/// ...), once. NULL is ignored. Not for the `const char *` of results and
/// of the `dblink_last_*` functions, nor for memory from elsewhere. Never
/// touches the thread's last error.
///
/// # Safety
///
/// - `s` is NULL or a string returned by pgdblink, not yet freed; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_free(s: *mut c_char) {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        cstr::free_c_string(s);
        Ok(())
    })
}

/// Frees an array returned by `dblink_get_connections`, strings included,
/// once. NULL is ignored. Never touches the thread's last error.
///
/// # Safety
///
/// - `strings` is NULL or an array returned by pgdblink, not yet freed; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_free_strings(strings: *mut *mut c_char) {
    // SAFETY: the caller keeps the contract of `# Safety` above, which is what the pointer helpers require.
    guard_quiet(|| unsafe {
        cstr::free_c_strings(strings);
        Ok(())
    })
}
