//! The recorder of the NOTICEs pgdblink raises: one process-wide handler
//! that keeps each notice on the thread that made the call (pgdblink calls
//! its notice handler on the calling thread), so parallel tests never see
//! each other's notices and need no bookkeeping by connection name.
//!
//! The scenario runner's C world ([`super::scenario::Side::C`]) replaces the
//! Rust handler with a C callback recording into the same buffer
//! ([`install_c`]) for its run, and puts the Rust one back afterwards
//! ([`reinstall`]): the handler is process-wide, so that switch is for a
//! binary that runs one world at a time (the scenario runner), never for
//! tests that run in parallel.

use std::cell::RefCell;
use std::ffi::{CStr, c_void};
use std::os::raw::c_char;
use std::sync::{Arc, Once};

use pgdblink::Error;

thread_local! {
    static NOTICES: RefCell<Vec<(Option<String>, Error)>> = const { RefCell::new(Vec::new()) };
}

fn record(name: Option<String>, e: Error) {
    // try_with/try_borrow_mut: never panic inside a handler (the C one must
    // not unwind).
    let _ = NOTICES.try_with(|n| n.try_borrow_mut().map(|mut n| n.push((name, e))));
}

fn rust_handler() {
    pgdblink::set_notice_handler(Some(Arc::new(|name: Option<&str>, e: &Error| {
        record(name.map(str::to_owned), e.clone());
    })));
}

/// Installs the recording handler (once per process).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(rust_handler);
}

/// Puts the Rust recording handler back (after [`install_c`]).
pub fn reinstall() {
    install();
    rust_handler();
}

/// A C string argument of the notice callback, `None` for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid during the call.
unsafe fn c_text(p: *const c_char) -> Option<String> {
    // SAFETY: our caller's promise, passed on: NULL or a valid C string.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The C notice callback (`dblink_notice_fn`): records the notice on the
/// calling thread, as the Rust handler does.
extern "C" fn record_c_notice(
    _arg: *mut c_void,
    connname: *const c_char,
    sqlstate: *const c_char,
    message: *const c_char,
    detail: *const c_char,
    hint: *const c_char,
    context: *const c_char,
) {
    // SAFETY: the callback's contract (dblink_notice_fn): every string is
    // NULL or NUL-terminated and valid during the call.
    let (name, state, msg, detail, hint, context) = unsafe {
        (
            c_text(connname),
            c_text(sqlstate),
            c_text(message),
            c_text(detail),
            c_text(hint),
            c_text(context),
        )
    };
    // NULL SQLSTATE or message: the header says they are always set; an
    // empty one shows in the transcript as such.
    let mut e = Error::new(&state.unwrap_or_default(), msg.unwrap_or_default());
    e.detail = detail;
    e.hint = hint;
    e.context = context;
    record(name, e);
}

/// Replaces the process-wide notice handler with a C callback (through
/// `dblink_set_notice_handler`) that records into the same per-thread
/// buffer; [`take`] reads both. Undo with [`reinstall`].
pub fn install_c() {
    install();
    // SAFETY: record_c_notice may be called with these arguments from any
    // thread at any time (it touches only its thread's buffer); it ignores
    // `arg`, so NULL is valid for it.
    unsafe {
        pgdblink::ffi::dblink_set_notice_handler(Some(record_c_notice), std::ptr::null_mut())
    };
}

/// Removes and returns the notices this thread's calls raised, with their
/// connection names, oldest first.
pub fn take() -> Vec<(Option<String>, Error)> {
    install();
    NOTICES.with(|n| std::mem::take(&mut *n.borrow_mut()))
}
