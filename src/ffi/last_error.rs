//! The thread's last error, for C callers (like libgit2's `git_error_last`).

use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::c_char;

use crate::error::Error;

/// One whole error, as `dblink_last` returns it (C: `dblink_error`): the
/// SQLSTATE and message (always set), and the DETAIL, HINT and CONTEXT
/// lines (each NULL when absent). Owned by the thread that made the failed
/// call; valid, like the strings of `dblink_last_error`, until that
/// thread's next call that can fail; do not free it or its strings.
#[repr(C)]
#[derive(Debug)]
pub struct DblinkError {
    /// The SQLSTATE, five characters (e.g. "08003"; see the
    /// `DBLINK_SQLSTATE_*` macros).
    pub sqlstate: *const c_char,
    /// The primary message, e.g. `connection "a" not available`.
    pub message: *const c_char,
    /// The DETAIL line, or NULL.
    pub detail: *const c_char,
    /// The HINT line, or NULL.
    pub hint: *const c_char,
    /// The CONTEXT lines, or NULL.
    pub context: *const c_char,
}

struct LastError {
    message: CString,
    sqlstate: CString,
    detail: Option<CString>,
    hint: Option<CString>,
    context: Option<CString>,
    /// Points into the strings above: a `CString`'s bytes live on the heap
    /// and do not move when the `CString` does, so these stay valid for as
    /// long as this value holds them.
    view: DblinkError,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn c(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

pub(crate) fn set(err: Error) {
    let (message, sqlstate) = (c(&err.message), c(&err.sqlstate));
    let detail = err.detail.as_deref().map(c);
    let hint = err.hint.as_deref().map(c);
    let context = err.context.as_deref().map(c);
    let view = DblinkError {
        sqlstate: sqlstate.as_ptr(),
        message: message.as_ptr(),
        detail: ptr(&detail),
        hint: ptr(&hint),
        context: ptr(&context),
    };
    let last = LastError {
        message,
        sqlstate,
        detail,
        hint,
        context,
        view,
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

/// This thread's last ERROR as one struct (SQLSTATE, message, DETAIL, HINT,
/// CONTEXT; absent parts NULL), or NULL when the thread's last call that
/// can fail succeeded (or it has made none). Thread-local: each thread sees
/// its own calls only. The struct and its strings are valid until this
/// thread's next call that can fail: the frees, the result accessors, the
/// `dblink_last*` readers and the other calls that cannot fail (see
/// `dblink_last_error`) leave them in place. Do not free them; copy what
/// you keep. Never fails.
///
/// ```c
/// dblink_result *r = dblink("a", "select 1/0", 1);
/// if (r == NULL) {
///     const dblink_error *e = dblink_last();
///     fprintf(stderr, "ERROR %s: %s\n", e->sqlstate, e->message);  // 22012: division by zero
///     if (e->context) fprintf(stderr, "CONTEXT: %s\n", e->context);
/// }
/// dblink_result_free(r);   // NULL is ignored
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn dblink_last() -> *const DblinkError {
    LAST.try_with(|l| {
        l.try_borrow()
            .ok()
            .and_then(|v| v.as_ref().map(|e| &raw const e.view))
            .unwrap_or(std::ptr::null())
    })
    .unwrap_or(std::ptr::null())
}

/// The message of the ERROR raised by this thread's last call that can
/// fail, or NULL when that call succeeded. Thread-local: each thread sees
/// its own calls only. Only a call that can fail changes it (recording its
/// ERROR, or clearing it on success); the calls that cannot fail never
/// touch it, NULL arguments included: the frees (`dblink_free`,
/// `dblink_free_strings`, `dblink_result_free`), the result accessors
/// (`dblink_result_*`), `dblink_last` and the `dblink_last_*` readers,
/// `dblink_version`, `dblink_libpq_version`, `dblink_disconnect_all` and
/// the `dblink_set_*_handler` functions. Valid until this thread's next
/// call that can fail; do not free it.
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
