//! The thread's last error, for C callers (like libgit2's `git_error_last`).

use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::c_char;

use crate::error::Error;

struct LastError {
    message: CString,
    sqlstate: CString,
    detail: Option<CString>,
    hint: Option<CString>,
    context: Option<CString>,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn c(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

pub(crate) fn set(err: Error) {
    let last = LastError {
        message: c(&err.message),
        sqlstate: c(&err.sqlstate),
        detail: err.detail.as_deref().map(c),
        hint: err.hint.as_deref().map(c),
        context: err.context.as_deref().map(c),
    };
    // try_with/try_borrow_mut: never panic (a call during the thread's
    // destruction, a re-entrant call from a notice callback) — these run
    // outside the panic guard.
    let _ = LAST.try_with(|l| l.try_borrow_mut().map(|mut v| *v = Some(last)));
}

pub(crate) fn clear() {
    let _ = LAST.try_with(|l| l.try_borrow_mut().map(|mut v| *v = None));
}

fn field(pick: impl Fn(&LastError) -> Option<&CString>) -> *const c_char {
    LAST.try_with(|l| {
        l.try_borrow()
            .ok()
            .and_then(|v| v.as_ref().and_then(|e| pick(e).map(|s| s.as_ptr())))
            .unwrap_or(std::ptr::null())
    })
    .unwrap_or(std::ptr::null())
}

/// The message of the ERROR raised by this thread's last pgdblink call, or
/// NULL when that call succeeded. Thread-local: each thread sees its own
/// calls only. Valid until this thread's next pgdblink call (other than the
/// `dblink_last_*` functions); do not free it.
///
/// ```c
/// if (dblink_disconnect("nosuch") == -1)
///     fprintf(stderr, "%s: %s\n", dblink_last_sqlstate(), dblink_last_error());
///     // 08003: connection "nosuch" not available
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn dblink_last_error() -> *const c_char {
    field(|e| Some(&e.message))
}

/// The SQLSTATE (five characters) of this thread's last ERROR, or NULL.
/// Same lifetime as `dblink_last_error`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_last_sqlstate() -> *const c_char {
    field(|e| Some(&e.sqlstate))
}

/// The DETAIL line of this thread's last ERROR, or NULL when it has none.
/// Same lifetime as `dblink_last_error`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_last_detail() -> *const c_char {
    field(|e| e.detail.as_ref())
}

/// The HINT line of this thread's last ERROR, or NULL when it has none.
/// Same lifetime as `dblink_last_error`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_last_hint() -> *const c_char {
    field(|e| e.hint.as_ref())
}

/// The CONTEXT lines of this thread's last ERROR (e.g. `while executing
/// query on dblink connection named "a"`), or NULL. Same lifetime as
/// `dblink_last_error`.
#[unsafe(no_mangle)]
pub extern "C" fn dblink_last_context() -> *const c_char {
    field(|e| e.context.as_ref())
}
