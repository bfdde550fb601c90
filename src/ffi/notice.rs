//! C entry points of the notice hooks.

use std::ffi::{CString, c_void};
use std::os::raw::c_char;
use std::sync::Arc;

use super::guard_quiet;
use crate::error::Error;
use crate::notice::{self, NoticeHandler};

/// A C notice callback: `arg` as given at registration, the connection name
/// (NULL: the unnamed or a temporary connection), then the notice's SQLSTATE,
/// message, and detail, hint and context (each NULL when absent). The strings
/// are valid only during the call (copy what you keep). It runs on the
/// thread whose call produced the notice, so it may run on several threads
/// at once; it may call pgdblink functions (no lock is held), and must not
/// unwind (C++ exceptions, longjmp) through pgdblink.
///
/// ```c
/// static void on_notice(void *arg, const char *connname, const char *sqlstate,
///                       const char *message, const char *detail,
///                       const char *hint, const char *context) {
///     fprintf((FILE *)arg, "NOTICE %s on %s: %s\n", sqlstate,
///             connname ? connname : "(unnamed)", message);
/// }
/// // dblink_set_notice_handler(on_notice, stderr);
/// ```
pub type DblinkNoticeFn = Option<
    extern "C" fn(
        arg: *mut c_void,
        connname: *const c_char,
        sqlstate: *const c_char,
        message: *const c_char,
        detail: *const c_char,
        hint: *const c_char,
        context: *const c_char,
    ),
>;

/// The C callback and its argument, carried into a Rust handler. The host
/// promises that `arg` may be used from whichever thread makes a call.
#[derive(Clone, Copy)]
struct CHandler {
    callback: extern "C" fn(
        *mut c_void,
        *const c_char,
        *const c_char,
        *const c_char,
        *const c_char,
        *const c_char,
        *const c_char,
    ),
    arg: usize,
}

impl CHandler {
    fn call(self, name: Option<&str>, e: &Error) {
        let n = CNotice::new(name, e);
        (self.callback)(
            self.arg as *mut c_void,
            opt_ptr(&n.name),
            n.sqlstate.as_ptr(),
            n.message.as_ptr(),
            opt_ptr(&n.detail),
            opt_ptr(&n.hint),
            opt_ptr(&n.context),
        );
    }
}

/// A notice's fields as C strings for a callback (NUL bytes, which libpq's
/// and dblink's texts never hold, are dropped), alive during the call.
struct CNotice {
    name: Option<CString>,
    sqlstate: CString,
    message: CString,
    detail: Option<CString>,
    hint: Option<CString>,
    context: Option<CString>,
}

impl CNotice {
    fn new(name: Option<&str>, e: &Error) -> CNotice {
        CNotice {
            name: name.map(c_text),
            sqlstate: c_text(&e.sqlstate),
            message: c_text(&e.message),
            detail: e.detail.as_deref().map(c_text),
            hint: e.hint.as_deref().map(c_text),
            context: e.context.as_deref().map(c_text),
        }
    }
}

fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

fn handler(callback: DblinkNoticeFn, arg: *mut c_void) -> Option<NoticeHandler> {
    let h = CHandler {
        callback: callback?,
        arg: arg as usize,
    };
    Some(Arc::new(move |name: Option<&str>, e: &Error| {
        h.call(name, e)
    }))
}

/// Sets the process-wide handler of the NOTICEs dblink itself raises (e.g.
/// `could not send query: another command is already in progress`, a remote
/// error with fail_on_error = 0, a truncated connection name), with the
/// connection's name. `arg` is passed to every call, from whichever thread
/// raised the notice: it must be usable from any thread. A NULL `callback`
/// removes the handler; off by default (the notices are then dropped). A new
/// handler replaces the previous one. See `dblink_notice_fn` (in Rust,
/// `DblinkNoticeFn`). Never fails; never touches the thread's last error.
///
/// # Safety
///
/// - `callback` is NULL or a function that may be called with these arguments from any thread, at any later time, until it is replaced.
/// - `arg` is passed to the callback as it is: it must be valid for the callback wherever and whenever it runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_set_notice_handler(callback: DblinkNoticeFn, arg: *mut c_void) {
    guard_quiet(|| {
        notice::set_notice_handler(handler(callback, arg));
        Ok(())
    })
}

/// Sets the process-wide handler of the notices and warnings the remote
/// servers send (RAISE NOTICE, WARNING; SQLSTATE 00000 / 01xxx), which dblink
/// does not pass on, with the connection's name (NULL: the unnamed or a
/// temporary connection). Called on the thread whose call received the
/// notice, after that call released its locks; `arg` as for
/// `dblink_set_notice_handler`. A NULL `callback` removes it; off by default
/// (they are then dropped, never printed on stderr). Never fails; never
/// touches the thread's last error.
///
/// # Safety
///
/// - `callback` is NULL or a function that may be called with these arguments from any thread, at any later time, until it is replaced.
/// - `arg` is passed to the callback as it is: it must be valid for the callback wherever and whenever it runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_set_server_notice_handler(
    callback: DblinkNoticeFn,
    arg: *mut c_void,
) {
    guard_quiet(|| {
        notice::set_server_notice_handler(handler(callback, arg));
        Ok(())
    })
}

/// A C callback for the remote servers' messages with their severity:
/// `arg` as given at registration, the connection name (NULL: the unnamed
/// or a temporary connection), the severity as the server names it (not
/// localized: "NOTICE", "WARNING", "INFO", "LOG", "DEBUG", and "ERROR",
/// "FATAL" or "PANIC" for an error sent while no query was in progress),
/// then SQLSTATE, message, detail, hint and context (NULL when absent).
/// Strings are valid only during the call; the same threading rules as
/// `dblink_notice_fn`.
///
/// ```c
/// static void on_message(void *arg, const char *connname, const char *severity,
///                        const char *sqlstate, const char *message,
///                        const char *detail, const char *hint, const char *context) {
///     fprintf((FILE *)arg, "%s %s on %s: %s\n", severity, sqlstate,
///             connname ? connname : "(unnamed)", message);
/// }
/// // dblink_set_server_message_handler(on_message, stderr);
/// ```
pub type DblinkMessageFn = Option<
    extern "C" fn(
        arg: *mut c_void,
        connname: *const c_char,
        severity: *const c_char,
        sqlstate: *const c_char,
        message: *const c_char,
        detail: *const c_char,
        hint: *const c_char,
        context: *const c_char,
    ),
>;

/// Sets the process-wide handler of the remote servers' messages with their
/// severity (see `dblink_message_fn`): notices and warnings, and the ERROR or
/// FATAL a server sends while no query is in progress (e.g. 57P01 when the
/// backend of an idle connection is terminated), which
/// `dblink_set_server_notice_handler`'s callback does not receive. Works
/// beside that one. A NULL `callback` removes it; off by default. `arg` as
/// for `dblink_set_notice_handler`. Never fails; never touches the thread's
/// last error.
///
/// # Safety
///
/// - `callback` is NULL or a function that may be called with these arguments from any thread, at any later time, until it is replaced.
/// - `arg` is passed to the callback as it is: it must be valid for the callback wherever and whenever it runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dblink_set_server_message_handler(
    callback: DblinkMessageFn,
    arg: *mut c_void,
) {
    guard_quiet(|| {
        let handler = callback.map(|callback| {
            let arg = arg as usize;
            let h: notice::ServerMessageHandler =
                Arc::new(move |name: Option<&str>, severity: &str, e: &Error| {
                    let n = CNotice::new(name, e);
                    let sev = c_text(severity);
                    callback(
                        arg as *mut c_void,
                        opt_ptr(&n.name),
                        sev.as_ptr(),
                        n.sqlstate.as_ptr(),
                        n.message.as_ptr(),
                        opt_ptr(&n.detail),
                        opt_ptr(&n.hint),
                        opt_ptr(&n.context),
                    );
                });
            h
        });
        notice::set_server_message_handler(handler);
        Ok(())
    })
}
