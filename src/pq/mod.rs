//! The raw layer: RAII owners of libpq handles. Every `unsafe` call into
//! libpq lives below this module; nothing outside it sees a raw pointer.

mod cancel;
mod conn;
mod result;
mod wait;

pub(crate) use cancel::Canceller;
pub(crate) use conn::{Conn, PollStatus, ServerNotice, TxStatus, capture_notices};
pub(crate) use result::{PgResult, ResultKind};
pub(crate) use wait::{Deadline, Interest, deadline_after, wait_sockets};

/// libpq's version number (e.g. 180006), from `PQlibVersion`.
pub(crate) fn lib_version() -> i32 {
    // SAFETY: PQlibVersion takes no arguments and only returns a constant.
    unsafe { pq_sys::PQlibVersion() }
}

/// Copies a libpq-owned C string into an owned `String`, replacing invalid
/// UTF-8 (libpq's own messages may be localized in another encoding).
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid for
/// the duration of the call.
unsafe fn owned_text(ptr: *const std::os::raw::c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller promises a valid NUL-terminated string.
    let cstr = unsafe { std::ffi::CStr::from_ptr(ptr) };
    Some(cstr.to_string_lossy().into_owned())
}
