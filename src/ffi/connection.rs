//! C entry points: dblink_connect, dblink_connect_u, dblink_disconnect,
//! dblink_get_connections, and the string frees.

use std::os::raw::{c_char, c_int};

use super::{cstr, guard, ok_int};
use crate::api;

/// `dblink_connect([connname,] connstr)`: opens a connection under
/// `connname` (NULL: the unnamed connection, replacing any previous one).
/// Returns 1 for 'OK'; -1 on ERROR: 08001 `could not establish connection`
/// (detail: libpq's message), 42710 `duplicate connection name`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_connect(connname: *const c_char, connstr: *const c_char) -> c_int {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let connstr = cstr::arg(connstr, "connstr")?;
        ok_int(api::connect(name, connstr))
    })
}

/// `dblink_connect_u`: the same as `dblink_connect` outside the server.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_connect_u(connname: *const c_char, connstr: *const c_char) -> c_int {
    guard(|| {
        let name = cstr::opt_arg(connname, "connname")?;
        let connstr = cstr::arg(connstr, "connstr")?;
        ok_int(api::connect_u(name, connstr))
    })
}

/// `dblink_disconnect([connname])`: closes the connection (NULL: the unnamed
/// one). Returns 1 for 'OK'; -1 on ERROR 08003 `connection "a" not
/// available` / `connection not available`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_disconnect(connname: *const c_char) -> c_int {
    guard(|| ok_int(api::disconnect(cstr::opt_arg(connname, "connname")?)))
}

/// Closes every connection, named and unnamed. For hosts shutting down
/// (e.g. from an atexit handler). Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_disconnect_all() {
    guard(|| {
        api::disconnect_all();
        Ok(())
    })
}

/// `dblink_get_connections()`: a NULL-terminated array of the open named
/// connections' names (sorted), or NULL when there are none (dblink returns
/// NULL; `dblink_last_error()` is then NULL too). The unnamed connection is
/// not listed. Free with `dblink_free_strings`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_get_connections() -> *mut *mut c_char {
    guard(|| match api::get_connections() {
        Some(names) => cstr::to_c_strings(&names),
        None => Ok(std::ptr::null_mut()),
    })
}

/// Frees a string returned by pgdblink (`dblink_cancel_query`,
/// `dblink_error_message`, ...). NULL is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_free(s: *mut c_char) {
    guard(|| {
        cstr::free_c_string(s);
        Ok(())
    })
}

/// Frees an array returned by `dblink_get_connections`. NULL is ignored.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_free_strings(strings: *mut *mut c_char) {
    guard(|| {
        cstr::free_c_strings(strings);
        Ok(())
    })
}
